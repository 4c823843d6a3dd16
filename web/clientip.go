package web

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIPKey is the request context key of the client address that
// Server.ServeHTTP decided.
type clientIPKey struct{}

// withClientIP puts r's client address in ctx, decided once per request
// with the trusted proxies of s.
func (s *Server) withClientIP(ctx context.Context, r *http.Request) context.Context {
	return context.WithValue(ctx, clientIPKey{}, clientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), s.cfg.TrustedProxies))
}

// clientIP is the address of the client that sent r: what per-address
// limits count and logs show. Outside Server.ServeHTTP it is the direct
// peer.
func clientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey{}).(string); ok {
		return ip
	}
	return clientAddr(r.RemoteAddr, nil, nil)
}

// clientAddr decides the client address of a request that came from
// remoteAddr (the direct peer, host:port) with the X-Forwarded-For header
// lines forwardedFor. A peer outside trusted is the client, whatever the
// header says: anyone can send one. A trusted peer is a proxy of ours, so
// the header is read from the right, hop by hop, while the hops are
// trusted proxies too; the first address that is not is the client.
// Everything to its left was written by that client and may be forged. An
// entry that is not an address ends the walk at the last trusted hop.
func clientAddr(remoteAddr string, forwardedFor []string, trusted []netip.Prefix) string {
	peer, ok := parseHop(remoteAddr)
	if !ok {
		host, _, err := net.SplitHostPort(remoteAddr)
		if err != nil {
			return remoteAddr
		}
		return host
	}
	if !isTrusted(peer, trusted) {
		return peer.String()
	}
	client := peer
	for i := len(forwardedFor) - 1; i >= 0; i-- {
		hops := strings.Split(forwardedFor[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			hop := strings.TrimSpace(hops[j])
			if hop == "" {
				continue
			}
			addr, ok := parseHop(hop)
			if !ok {
				return client.String()
			}
			client = addr
			if !isTrusted(addr, trusted) {
				return client.String()
			}
		}
	}
	return client.String()
}

// parseHop reads an address as proxies write it: bare, or with a port
// or in brackets (1.2.3.4:5678, [2001:db8::1]:443, [2001:db8::1]). IPv4 addresses mapped into IPv6 and
// zones are dropped, so each client has one spelling.
func parseHop(s string) (netip.Addr, bool) {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		addr = ap.Addr()
	}
	return addr.Unmap().WithZone(""), true
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
