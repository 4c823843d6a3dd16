// Package webhook delivers alerts to partner sites as signed HTTP POSTs,
// following the Standard Webhooks specification (webhook-id,
// webhook-timestamp, webhook-signature with v1 HMAC-SHA256).
//
// The Dispatcher reads the alert log through a consumer group and turns each
// event into one durable delivery per matching partner before acknowledging
// it; the Sender's workers, on any instance, claim due deliveries with a
// lease, post them through the guarded outbound client (notifier/outbound),
// which refuses private and internal addresses, and record every attempt. A delivery keeps its webhook-id on
// every attempt and every replay; failures are retried on a fixed schedule
// with jitter, and a crashed instance's claimed deliveries come due again
// when their lease runs out. Isolation between partners comes from a bounded
// worker pool, a per-partner concurrency limit and a per-partner circuit
// breaker.
//
// Redis work is per batch, not per delivery: an event's deliveries are
// stored in one call, and its body once, shared by them; a claim takes up
// to 64 due deliveries, marks their tries in flight, brings each event's
// body once and reads the secrets' version, so the signing secrets kept in
// memory are dropped as soon as any instance changes one; a batch's
// partners are looked up once; outcomes are recorded by one goroutine in
// batches of up to 64.
//
// Keys, all under the one hash tag {webhooks} so every script that touches
// several runs on Redis Cluster:
//
//	flashwire:v1:{webhooks}:due             sorted set: delivery id -> due time (unix ms); a claim pushes it to the lease end
//	flashwire:v1:{webhooks}:d:ID            hash: one delivery (partner, type, alert, event or body, created, attempts, state, inflight)
//	flashwire:v1:{webhooks}:e:EVENT:TYPE    string: an event's body of one type, shared by its deliveries, kept as long as the latest of them
//	flashwire:v1:{webhooks}:p:PARTNER       sorted set: the partner's deliveries by creation time (kept 7 days)
//	flashwire:v1:{webhooks}:parked:PARTNER  sorted set: deliveries held while the partner is paused or disabled
//	flashwire:v1:{webhooks}:log:PARTNER     list: the partner's latest attempts, newest first (JSON)
//	flashwire:v1:{webhooks}:failing         hash: partner -> time (unix ms) of its first failure since its last success
//	flashwire:v1:{webhooks}:secret:PARTNER  hash: current signing secret, previous one and when it stops signing
//	flashwire:v1:{webhooks}:secrets:version counter: bumped by every change of a secret, read by every claim
//
// It must never follow a redirect, call anyone but through outbound.NewClient,
// block a publish, or let one partner's slowness hold a worker beyond the
// request timeout.
package webhook
