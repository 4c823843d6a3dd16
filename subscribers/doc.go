// Package subscribers keeps what readers and partner sites asked for, in
// Redis, and the topic and region taxonomy those preferences are checked
// against.
//
// Keys:
//
//	flashwire:v1:{taxonomy}:topics     set of topic slugs
//	flashwire:v1:{taxonomy}:regions    set of region slugs
//	flashwire:v1:{taxonomy}:seeded     set once the defaults were written
//
// It is the leaf of Flashwire: it must never import the other packages, and
// knows of an alert only the fields it matches on.
package subscribers
