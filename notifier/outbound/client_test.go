package outbound

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// names is the tests' resolver: no DNS, no hosts file.
func names(_ context.Context, host string) ([]netip.Addr, error) {
	switch host {
	case "feeds.test", "inside.test":
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	case "mapped.test":
		return []netip.Addr{netip.MustParseAddr("::ffff:127.0.0.1")}, nil
	}
	return nil, errors.New("no such host")
}

// hopServer answers a request with ?to=URL with a redirect there, and
// counts every other request it answers.
func hopServer(tb testing.TB) (srv *httptest.Server, port string, hits *atomic.Int64) {
	tb.Helper()
	hits = &atomic.Int64{}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if to := r.URL.Query().Get("to"); to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		hits.Add(1)
	}))
	tb.Cleanup(srv.Close)
	_, port, _ = net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	return srv, port, hits
}

func TestClientRedirects(t *testing.T) {
	_, port, hits := hopServer(t)
	allow, _ := ParseAllow([]string{"feeds.test"})
	at := func(host string) string { return "http://" + net.JoinHostPort(host, port) + "/" }
	// chain is a URL that redirects n times before reaching the server's
	// counted path on host.
	chain := func(n int, host string) string {
		u := at(host)
		for range n {
			u = at("feeds.test") + "?to=" + strings.ReplaceAll(strings.ReplaceAll(u, "?", "%3F"), "&", "%26")
		}
		return u
	}
	tests := []struct {
		name      string
		redirects int
		url       string
		wantErr   error // nil: the counted path is reached
	}{
		{"OK three hops", 3, chain(3, "feeds.test"), nil},
		{"four hops", 3, chain(4, "feeds.test"), errors.New("more than 3 redirects")},
		{"more than the most asked", 10, chain(4, "feeds.test"), errors.New("more than 3 redirects")},
		{"into a literal loopback", 3, chain(1, "127.0.0.1"), ErrRefusedAddress},
		{"into a name resolving to loopback", 3, chain(2, "inside.test"), ErrRefusedAddress},
		{"into a name resolving to mapped loopback", 3, chain(1, "mapped.test"), ErrRefusedAddress},
		{"into credentials", 3, at("feeds.test") + "?to=" + "http://u:p@" + net.JoinHostPort("feeds.test", port) + "/", ErrCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := hits.Load()
			c := NewClient(Config{Allow: allow, Lookup: names, Timeout: 5 * time.Second, Redirects: tt.redirects})
			resp, err := c.Get(tt.url)
			if err == nil {
				resp.Body.Close()
			}
			switch {
			case tt.wantErr == nil && (err != nil || hits.Load() != before+1):
				t.Fatalf("Get = %v, %d hits; want the server reached once", err, hits.Load()-before)
			case tt.wantErr != nil && err == nil:
				t.Fatalf("Get = status %d, want an error", resp.StatusCode)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr) && !strings.Contains(err.Error(), tt.wantErr.Error()):
				t.Fatalf("Get = %v, want %v", err, tt.wantErr)
			case tt.wantErr != nil && hits.Load() != before:
				t.Fatalf("the refused target got %d requests", hits.Load()-before)
			}
		})
	}
}

// TestClientCredentials: a URL with a user name or password is never
// sent, even to an allowed host.
func TestClientCredentials(t *testing.T) {
	_, port, hits := hopServer(t)
	allow, _ := ParseAllow([]string{"127.0.0.1"})
	c := NewClient(Config{Allow: allow, Timeout: 5 * time.Second})
	for _, u := range []string{"http://user:pass@127.0.0.1:" + port + "/", "http://user@127.0.0.1:" + port + "/"} {
		resp, err := c.Get(u)
		if err == nil {
			resp.Body.Close()
		}
		if !errors.Is(err, ErrCredentials) {
			t.Errorf("Get %s = %v, want ErrCredentials", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the server got %d requests", n)
	}
}

// TestRefusalWording: a refusal says what kind of address and nothing of
// the address, the port or a connection.
func TestRefusalWording(t *testing.T) {
	_, port, _ := hopServer(t)
	c := NewClient(Config{Lookup: names, Timeout: 5 * time.Second})
	for _, host := range []string{"127.0.0.1", "inside.test", "::1", "10.0.0.1"} {
		_, err := c.Get("http://" + net.JoinHostPort(host, port) + "/")
		why, ok := Refusal(err)
		if !ok || !strings.HasPrefix(why, "address not allowed: a ") {
			t.Errorf("%s: Refusal(%v) = %q, %v", host, err, why, ok)
		}
		for _, leak := range []string{port, "127.0.0.1", "::1", "10.0.0.1", "connect", "dial"} {
			if strings.Contains(why, leak) {
				t.Errorf("%s: %q gives away %q", host, why, leak)
			}
		}
	}
	if _, ok := Refusal(errors.New("connection refused")); ok {
		t.Error("Refusal took another error for a refusal")
	}
}
