package web

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8"),
	}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		// No proxy configured: the direct peer, without its port.
		{"direct", "203.0.113.7:51234", nil, nil, "203.0.113.7"},
		// No proxy configured: a header is ignored, whoever sent it.
		{"header without trusted proxies", "203.0.113.7:51234", []string{"198.51.100.1"}, nil, "203.0.113.7"},
		// A client that is not a proxy of ours cannot choose its address
		// by sending the header itself.
		{"spoofed header from an untrusted peer", "203.0.113.7:51234", []string{"198.51.100.1, 10.0.0.2"}, trusted, "203.0.113.7"},
		// The load balancer appended the client it saw.
		{"one proxy", "10.0.0.2:443", []string{"203.0.113.7"}, trusted, "203.0.113.7"},
		// Two of our proxies in a row: the right-most untrusted entry.
		{"chain of proxies", "10.0.0.2:443", []string{"203.0.113.7, 10.1.2.3"}, trusted, "203.0.113.7"},
		// The client sent a forged header through our proxy; the proxy
		// appended the real peer, which is what counts.
		{"forged entries left of the client", "10.0.0.2:443", []string{"1.1.1.1, 2.2.2.2, 203.0.113.7"}, trusted, "203.0.113.7"},
		// Several header lines are one list, in order.
		{"several header lines", "10.0.0.2:443", []string{"1.1.1.1", "203.0.113.7, 10.0.0.9"}, trusted, "203.0.113.7"},
		// A trusted peer without the header (a health check): the peer.
		{"trusted peer without header", "10.0.0.2:443", nil, trusted, "10.0.0.2"},
		// Every hop is ours: the left-most one is as far as we can see.
		{"all hops trusted", "10.0.0.2:443", []string{"10.0.0.5, 10.0.0.4"}, trusted, "10.0.0.5"},
		// IPv6 peer and client; the client written in brackets with a port.
		{"IPv6", "[fd00::1]:443", []string{"[2001:db8::7]:61000"}, trusted, "2001:db8::7"},
		// IPv6 client in brackets without a port, through an IPv6 proxy.
		{"IPv6 in brackets", "[fd00::1]:443", []string{"[2001:db8::7], fd12::3"}, trusted, "2001:db8::7"},
		// An IPv4 peer seen on a dual-stack socket is trusted by its IPv4
		// network and shown in IPv4 form.
		{"IPv4-mapped peer", "[::ffff:10.0.0.2]:443", []string{"203.0.113.7"}, trusted, "203.0.113.7"},
		// IPv4 client with a port, as some proxies write it.
		{"client with port", "10.0.0.2:443", []string{"203.0.113.7:5555"}, trusted, "203.0.113.7"},
		// Garbage right of the client: the walk stops at the last trusted
		// hop rather than believe anything further left.
		{"entry that is not an address", "10.0.0.2:443", []string{"203.0.113.7, unknown"}, trusted, "10.0.0.2"},
		// Empty entries are skipped.
		{"empty entries", "10.0.0.2:443", []string{"203.0.113.7,, "}, trusted, "203.0.113.7"},
		// RemoteAddr without a port (as some test servers set it).
		{"peer without port", "203.0.113.7", nil, trusted, "203.0.113.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clientAddr(tt.remote, tt.xff, tt.trusted); got != tt.want {
				t.Errorf("clientAddr(%q, %q) = %q, want %q", tt.remote, tt.xff, got, tt.want)
			}
		})
	}
}

// TestClientIPServer checks that the server decides the address once and
// that the per-address rate limit of the readers API counts it: behind a
// trusted proxy, two readers with different addresses have a bucket each.
func TestClientIPServer(t *testing.T) {
	s := &Server{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}}
	var got string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = clientIP(r) })

	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.0.2.10:40000"
	r.Header.Set("X-Forwarded-For", "198.51.100.4")
	h.ServeHTTP(httptest.NewRecorder(), r.WithContext(s.withClientIP(r.Context(), r)))
	if got != "198.51.100.4" {
		t.Errorf("clientIP behind a trusted proxy = %q, want 198.51.100.4", got)
	}

	l := newIPLimiter(1, 0.001)
	limited := limitByIP(l, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	status := func(client string) int {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "192.0.2.10:40000"
		r.Header.Set("X-Forwarded-For", client)
		w := httptest.NewRecorder()
		limited.ServeHTTP(w, r.WithContext(s.withClientIP(r.Context(), r)))
		return w.Code
	}
	if c := status("198.51.100.4"); c != http.StatusOK {
		t.Fatalf("first request = %d, want 200", c)
	}
	if c := status("198.51.100.5"); c != http.StatusOK {
		t.Errorf("another client behind the same proxy = %d, want 200 (its own bucket)", c)
	}
	if c := status("198.51.100.4"); c != http.StatusTooManyRequests {
		t.Errorf("the first client again = %d, want 429", c)
	}
}
