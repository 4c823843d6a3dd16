// Package notifier is the core of Flashwire: what an alert is, and publishing
// one. Publishing validates the alert, appends it to the alert log (a capped
// Redis Stream), and from there every channel takes it: each instance's
// WebSocket and SSE hub tails the log, and webhook delivery reads it through a
// consumer group.
//
// Keys, all under one hash tag so the scripts that touch several of them run
// on Redis Cluster:
//
//	flashwire:v1:{alerts}:log          stream of events (published, updated with the version it replaced, retracted)
//	flashwire:v1:{alerts}:trimmed      id of the newest event trimmed from the log
//	flashwire:v1:{alerts}:alert:ID     current state of one alert, JSON
//	flashwire:v1:{alerts}:index        sorted set of alert ids by publish time (ms)
//	flashwire:v1:{alerts}:stats:ID     hash of delivery figures of one alert (stats.go)
//	flashwire:v1:{alerts}:moves:ID:CHANNEL hash: each recipient an update moved one alert to or away from -> its earliest move (stats.go)
//	flashwire:v1:{alerts}:dedupe:HASH  alert id of a recent normalised link and headline (guard.go)
//	flashwire:v1:{alerts}:gap          time of the last non-flash push (guard.go)
//	flashwire:v1:{alerts}:scheduled    sorted set of schedule ids by send time (schedule.go)
//	flashwire:v1:{alerts}:scheduled:items  hash: schedule id -> scheduled alert
//	flashwire:v1:{alerts}:scheduled:inflight  sorted set: claimed schedule ids by lease end
//	flashwire:v1:{alerts}:once:HASH    alert id published under a once key (log.go)
//
// The webhook consumer group reads the log (group.go); its deliveries live
// in package webhook, and the feed watcher's state in package watch.
//
// It must never speak HTTP or WebSocket, and never block a publish on a
// reader or a partner: channels take the log at their own pace.
package notifier
