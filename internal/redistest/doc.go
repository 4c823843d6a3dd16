// Package redistest starts real redis-server processes for tests: a single
// node, or a three-master Redis Cluster. Each lives on a free loopback port,
// in a temporary directory, and is stopped when the test ends. Tests never
// use a Redis they did not start. Its clients classify failures to reach
// Redis as flashwire.ErrUnavailable (see redisfault), as the service's own
// client does.
//
// When redis-server is missing the test is skipped, except under CI=true,
// where it fails: CI must never pass by skipping.
package redistest
