// Package pushtest is a Web Push service for tests: an https server on
// loopback, with its own test certificate, that stands in for the push
// services of browsers. It hands out subscriptions whose private keys it
// keeps, decrypts every message it receives with its own implementation
// of RFC 8291 (written apart from the sender's library, so the two check
// each other), verifies the VAPID signature (RFC 8292), records what it
// got and answers as the test says.
//
// It must never be imported outside tests.
package pushtest
