package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrRefusedAddress means a partner URL points at, or resolved to, an
// address partners may not use (loopback, private, link-local, and so on).
var ErrRefusedAddress = errors.New("address not allowed for webhooks")

// ErrInsecureURL means a partner URL is not https.
var ErrInsecureURL = errors.New("webhook URL must be https")

// Allow is the allow-list of hosts and networks exempt from the address
// check and the https rule: for development and tests only.
type Allow struct {
	hosts    map[string]bool
	prefixes []netip.Prefix
}

// ParseAllow reads a list of host names, IP addresses and CIDRs, such as
// "127.0.0.1,localhost,10.1.0.0/16".
func ParseAllow(items []string) (Allow, error) {
	a := Allow{hosts: map[string]bool{}}
	for _, it := range items {
		it = strings.ToLower(strings.TrimSpace(it))
		switch {
		case it == "":
		case strings.Contains(it, "/"):
			p, err := netip.ParsePrefix(it)
			if err != nil {
				return Allow{}, fmt.Errorf("%q is not a CIDR such as 10.1.0.0/16", it)
			}
			a.prefixes = append(a.prefixes, p.Masked())
		default:
			if ip, err := netip.ParseAddr(it); err == nil {
				a.prefixes = append(a.prefixes, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			} else if strings.ContainsAny(it, " :@") {
				return Allow{}, fmt.Errorf("%q is not a host name, IP address or CIDR", it)
			}
			a.hosts[it] = true
		}
	}
	return a, nil
}

// host reports whether the host name (or IP literal) is allowed as such.
func (a Allow) host(h string) bool {
	h = strings.ToLower(strings.Trim(h, "[]"))
	if a.hosts[h] {
		return true
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		return a.addr(ip)
	}
	return false
}

func (a Allow) addr(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range a.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// CheckURL refuses a partner URL that is not absolute https, unless its host
// is allow-listed. Addresses are checked later, at dial time, after DNS.
func (a Allow) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%q is not an absolute https URL", raw)
	}
	if u.User != nil {
		return fmt.Errorf("%q carries credentials; put them nowhere in a webhook URL", raw)
	}
	if u.Scheme != "https" && !a.host(u.Hostname()) {
		return fmt.Errorf("%s: %w", raw, ErrInsecureURL)
	}
	return nil
}

// CheckAddress refuses a URL whose host is an IP address the dialer would
// refuse, so that an address given literally is turned away when it is
// stored, not only when it is dialled. Names are judged at dial time.
func (a Allow) CheckAddress(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]"))
	if err != nil || a.addr(ip) {
		return nil
	}
	if why := refused(ip); why != "" {
		return fmt.Errorf("%s (%s): %w", raw, why, ErrRefusedAddress)
	}
	return nil
}

// blocked are the networks no webhook may reach: loopback, private,
// link-local (cloud metadata at 169.254.169.254), CGNAT, multicast,
// unspecified, broadcast, reserved and documentation ranges, and the IPv6
// equivalents. 6to4, NAT64 and IPv4-mapped addresses are judged by the IPv4
// address they carry (see refused).
var blocked = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this" network, unspecified
		"10.0.0.0/8",      // private
		"100.64.0.0/10",   // carrier-grade NAT
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local, cloud metadata
		"172.16.0.0/12",   // private
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"192.88.99.0/24",  // 6to4 relay anycast
		"192.168.0.0/16",  // private
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, broadcast
		"::/128",          // unspecified
		"::1/128",         // loopback
		"64:ff9b:1::/48",  // local-use NAT64
		"100::/64",        // discard-only
		"2001::/32",       // Teredo: carries an obfuscated IPv4 address
		"2001:db8::/32",   // documentation
		"fc00::/7",        // unique local (private)
		"fe80::/10",       // link-local
		"fec0::/10",       // site-local (deprecated)
		"ff00::/8",        // multicast
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

var (
	sixToFour = netip.MustParsePrefix("2002::/16")
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	// compat are the deprecated IPv4-compatible addresses ::a.b.c.d.
	compat = netip.MustParsePrefix("::/96")
)

// refused reports why ip may not be dialled, or "" when it may.
func refused(ip netip.Addr) string {
	ip = ip.WithZone("")
	if ip.Is4In6() {
		if r := refused(ip.Unmap()); r != "" {
			return "IPv4-mapped " + r
		}
		return ""
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case sixToFour.Contains(ip):
			if r := refused(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})); r != "" {
				return "6to4 " + r
			}
			return ""
		case nat64.Contains(ip):
			if r := refused(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})); r != "" {
				return "NAT64 " + r
			}
			return ""
		case compat.Contains(ip) && ip != netip.IPv6Unspecified() && ip != netip.IPv6Loopback():
			return "IPv4-compatible address"
		}
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return "address in " + p.String()
		}
	}
	return ""
}

// control is the dialer's last word, after DNS resolution and before the
// connection is made: it sees the address actually dialled, so a name that
// resolves to an internal address (or changes its answer between a check
// and the dial) is still refused.
func (a Allow) control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, ErrRefusedAddress)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, ErrRefusedAddress)
	}
	if a.addr(ip) {
		return nil
	}
	if why := refused(ip); why != "" {
		return fmt.Errorf("dial %s (%s): %w", address, why, ErrRefusedAddress)
	}
	return nil
}

// NewClient returns the HTTP client for partners: no proxy (a proxy would
// dial for us, unchecked), the dial-time address check, no redirects
// followed (a 3xx is a failed attempt), the given request timeout, and
// enough idle connections for many partners.
func NewClient(allow Allow, timeout time.Duration) *http.Client {
	checked := &net.Dialer{Timeout: min(timeout, 5*time.Second), KeepAlive: 30 * time.Second, Control: allow.control}
	plain := &net.Dialer{Timeout: min(timeout, 5*time.Second), KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			// A host allow-listed by name skips the address check: that is
			// what listing "localhost" means.
			if host, _, err := net.SplitHostPort(addr); err == nil && allow.hosts[strings.ToLower(host)] {
				return plain.DialContext(ctx, network, addr)
			}
			return checked.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   min(timeout, 10*time.Second),
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
