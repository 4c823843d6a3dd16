// Package webpush sends alerts to readers' browsers while no page of the
// news site is open: Web Push (RFC 8030) with messages encrypted for each
// browser (RFC 8291, aes128gcm) and signed by the sender (VAPID, RFC
// 8292), through github.com/SherClockHolmes/webpush-go, which no other
// package imports.
//
// Built for millions of subscriptions: nothing is stored per message. The
// Dispatcher reads the alert log through a consumer group and stores one
// job per event and reader-index shard. Senders on every instance lease
// jobs (renewed while they work, so a dead instance's job goes on
// elsewhere once its lease runs out), find the shard's readers the event
// reaches and who hold a subscription (a bitmap snapshot, stored so every
// holder walks the same readers), and walk them in steps: each
// subscription's bit is claimed before its push and marked done after, in
// per-job bitmaps, so no push goes twice across instances and restarts,
// and a crash between the claim and the record is counted as failed
// instead of vanishing. A push service that answers 429 or 5xx is left
// alone for its Retry-After (or the shared retry schedule) and its
// subscriptions wait in the job's retry set; 404 and 410 remove the
// subscription at once; nothing is sent past the alert's lifetime
// (Lifetime: the TTL).
//
// Keys, in each shard N's hash tag {webpush:N} (written {W}), so a
// job's scripts run in one Cluster slot:
//
//	flashwire:v1:{W}:due            sorted set: job (event id) -> due or lease end (ms)
//	flashwire:v1:{W}:job:EVENT      hash: type, alert id and JSON, created, deadline, owner and lease,
//	                                leases, snap, subs, settled, reached|failed|removed counts,
//	                                walked, cancelled, state
//	flashwire:v1:{W}:match:EVENT    bitmap of the reader slots the job walks
//	flashwire:v1:{W}:claimed:EVENT  bitmap of subscription bits claimed for sending
//	flashwire:v1:{W}:done:EVENT     bitmap of subscription bits whose outcome is recorded
//	flashwire:v1:{W}:retry:EVENT    sorted set: subscription bit -> when to try again (ms)
//
// and the installation's VAPID key pair:
//
//	flashwire:v1:{webpush}:vapid    "PUBLIC PRIVATE", base64url
//
// A job's keys are kept 48 hours after its deadline: a retraction reaches
// exactly the subscriptions its alert was sent to.
//
// It must never send a push twice, send one after its deadline, store
// anything per (alert, subscription), or block a publish.
package webpush
