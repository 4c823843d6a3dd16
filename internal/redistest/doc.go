// Package redistest starts real redis-server processes for tests: a single
// node, or a three-master Redis Cluster. Each lives on a free loopback port,
// in a temporary directory, and is stopped when the test ends. Tests never
// use a Redis they did not start.
//
// When redis-server is missing the test is skipped, except under CI=true,
// where it fails: CI must never pass by skipping.
package redistest
