// Package outbound holds what every channel that calls other people's
// servers shares: the one guarded HTTP client (NewClient) that feeds,
// webhooks and Web Push all use, when to try again after a failure, and
// what an answer's Retry-After asks for.
//
// The client checks the address of every connection after resolution and
// just before dialling (loopback, private, link-local, unique-local,
// carrier-grade NAT, multicast, broadcast, the rest of the IANA
// special-purpose ranges, and IPv6 forms carrying such an IPv4 address are
// refused), on the first request and on every redirect hop; it sends no
// credentials from a URL and follows at most MaxRedirects redirects. Allow
// lists the exemptions, for development and tests only.
//
// It owns no Redis keys. It must never know of any one channel, use a
// proxy (which would dial unchecked), or report a refusal with the
// address, the port or anything of the connection.
package outbound
