package outbound

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// MaxRedirects is the most redirects any outbound call follows.
const MaxRedirects = 3

// DefaultTimeout bounds one call when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Config is how an outbound client is built. The zero value applies every
// guard and follows no redirect; a channel sets only what it needs.
type Config struct {
	// Allow lists the hosts and networks exempt from the address check:
	// development and tests only.
	Allow Allow
	// Timeout bounds one call, redirects included (default 10 s).
	Timeout time.Duration
	// Redirects is how many redirects a call follows, each hop checked as
	// the first was; more than MaxRedirects counts as MaxRedirects. Zero
	// follows none: a 3xx is the answer.
	Redirects int
	// IdlePerHost is how many idle connections are kept per host
	// (default 64).
	IdlePerHost int
	// Lookup resolves a host name to its addresses; nil uses the system
	// resolver. Tests give their own, so that a name resolves to any
	// address they choose without DNS or a hosts file.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// TLS is the client's TLS configuration; nil trusts the system's
	// roots. Tests use it to trust their own servers' certificates.
	TLS *tls.Config
}

// NewClient returns the HTTP client for every call Flashwire makes to
// other people's servers (feeds, webhooks, Web Push). It uses no proxy (a
// proxy would dial for it, unchecked); it checks the address of every
// connection after resolution and just before dialling, on the first
// request and on every redirect hop; it refuses URLs with credentials; and
// it follows at most cfg.Redirects redirects.
func NewClient(cfg Config) *http.Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.IdlePerHost <= 0 {
		cfg.IdlePerHost = 64
	}
	redirects := min(max(cfg.Redirects, 0), MaxRedirects)
	d := &dialer{
		allow:   cfg.Allow,
		lookup:  cfg.Lookup,
		checked: &net.Dialer{Timeout: min(cfg.Timeout, 5*time.Second), KeepAlive: 30 * time.Second, Control: cfg.Allow.control},
		plain:   &net.Dialer{Timeout: min(cfg.Timeout, 5*time.Second), KeepAlive: 30 * time.Second},
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.dial,
		TLSClientConfig:       cfg.TLS,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   cfg.IdlePerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   min(cfg.Timeout, 10*time.Second),
		ResponseHeaderTimeout: cfg.Timeout,
	}
	return &http.Client{
		Transport: noCredentials{tr},
		Timeout:   cfg.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if redirects == 0 {
				return http.ErrUseLastResponse
			}
			if len(via) > redirects {
				return fmt.Errorf("more than %d redirects", redirects)
			}
			// Refused now rather than when dialled, so that a redirect to
			// an internal address given literally is never even tried.
			return cfg.Allow.CheckURL(req.URL.String())
		},
	}
}

// noCredentials refuses a request whose URL carries a user name or
// password, which the client would otherwise send as Basic auth: whether
// stored before the rule at create existed or given by a redirect.
type noCredentials struct{ base http.RoundTripper }

func (t noCredentials) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.User != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, ErrCredentials
	}
	return t.base.RoundTrip(req)
}

// dialer dials through the address check, or without it for a host
// exempt by name (that is what listing "localhost" means).
type dialer struct {
	allow          Allow
	lookup         func(ctx context.Context, host string) ([]netip.Addr, error)
	checked, plain *net.Dialer
}

func (d *dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	nd := d.checked
	if d.allow.hosts[strings.ToLower(host)] {
		nd = d.plain
	}
	if _, err := netip.ParseAddr(host); err == nil || d.lookup == nil {
		// The system resolver runs inside the dialer: the check in its
		// Control sees each address it resolved, just before dialling it.
		return nd.DialContext(ctx, network, addr)
	}
	ips, err := d.lookup(ctx, host)
	if err != nil {
		return nil, &net.DNSError{Err: err.Error(), Name: host, IsNotFound: true}
	}
	first := error(&net.DNSError{Err: "no such host", Name: host, IsNotFound: true})
	for i, ip := range ips {
		c, err := nd.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		if i == 0 {
			first = err
		}
	}
	return nil, first
}
