// Package web is everything HTTP in Flashwire: the routes (all in
// routes.go), API handlers, tokens and roles, health and metrics endpoints,
// and the embedded pages under static/.
//
// Keys (tokens are the one thing web keeps in Redis itself):
//
//	flashwire:v1:{tokens}:all       hash: token id -> JSON (name, role, created, hash)
//	flashwire:v1:{tokens}:by-hash   hash: hex SHA-256 of the secret -> token id
//
// It must never hold a token's secret beyond the request that carries it,
// and never send a 5xx error's detail to the client: that goes to the log.
package web
