// Package notifier is the core of Flashwire: what an alert is, and publishing
// one. Publishing validates the alert, appends it to the alert log (a capped
// Redis Stream), and from there every channel takes it: each instance's
// WebSocket and SSE hub tails the log, and webhook delivery reads it through a
// consumer group.
//
// Keys, all under one hash tag so the scripts that touch several of them run
// on Redis Cluster:
//
//	flashwire:v1:{alerts}:log          stream of events (published, updated, retracted)
//	flashwire:v1:{alerts}:trimmed      id of the newest event trimmed from the log
//	flashwire:v1:{alerts}:alert:ID     current state of one alert, JSON
//	flashwire:v1:{alerts}:index        sorted set of alert ids by publish time (ms)
//
// It must never speak HTTP or WebSocket, and never block a publish on a
// reader or a partner: channels take the log at their own pace.
package notifier
