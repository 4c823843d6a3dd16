// Package web is everything HTTP in Flashwire: the routes (all in
// routes.go), API handlers, tokens and roles, health and metrics endpoints,
// and the embedded pages under static/.
//
// The live hub (hub.go) tails the alert log and fans out to this
// instance's connections, and never waits on a slow client. Each event is
// encoded once (frame.go) and shared; each connection is a client
// (client.go: its queue, its read loop, its writes through a WebSocket or
// SSE transport), admitted by live.go and upgraded by ws.go or sse.go. For the editor's dry run it counts readers online on every
// instance (online.go): each registers itself and answers questions on a
// pub/sub channel. What web keeps in Redis itself:
//
//	flashwire:v1:{tokens}:all        hash: token id -> JSON (name, role, created, hash)
//	flashwire:v1:{tokens}:by-hash    hash: hex SHA-256 of the secret -> token id
//	flashwire:v1:{sessions}:SHA256   editor console session, expires with it
//	flashwire:v1:{audit}:log         stream of audit entries (who did what, when)
//	flashwire:v1:{idem}:SHA256       stored answer to an Idempotency-Key, 24 h
//	flashwire:v1:{online}:instances  sorted set: instance id -> last seen (ms)
//	flashwire:v1:{online}:ask        pub/sub channel: {id, targeting} of a count
//	flashwire:v1:{online}:reply:ID   list: each instance's count, 10 s
//
// Errors reach HTTP in one place, errors.go, which picks the status from the
// error's kind (flashwire.ErrNotFound and the others).
//
// It must never hold a token's secret beyond the request that carries it,
// and never send an internal error's detail to the client: that goes to the
// log.
package web
