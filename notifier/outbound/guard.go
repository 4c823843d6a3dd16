package outbound

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// ErrRefusedAddress means a URL points at, or its name resolved to, an
// address Flashwire does not call: loopback, private, link-local and the
// rest of the internal and special-purpose ranges.
var ErrRefusedAddress = errors.New("address not allowed")

// ErrCredentials means a URL carries a user name or password
// (https://user:pass@host/): Flashwire sends none that way.
var ErrCredentials = errors.New("URL carries credentials")

// ErrInsecureURL means a URL must be https and is not: the rule of the
// channels that post (webhooks, Web Push), not of feeds.
var ErrInsecureURL = errors.New("URL must be https")

// Allow is the list of hosts and networks exempt from the address check
// (and from the https rule of the channels that have it): for development
// and tests only. The zero Allow exempts nothing.
type Allow struct {
	hosts    map[string]bool
	prefixes []netip.Prefix
}

// ParseAllow reads a list of host names, IP addresses and CIDRs, such as
// "127.0.0.1,localhost,10.1.0.0/16". A host name is exempt as such, whatever
// it resolves to; an address or CIDR exempts those addresses, whatever name
// leads to them.
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

// Union is the exemptions of a and b together.
func (a Allow) Union(b Allow) Allow {
	u := Allow{hosts: map[string]bool{}}
	for _, x := range []Allow{a, b} {
		for h := range x.hosts {
			u.hosts[h] = true
		}
		u.prefixes = append(u.prefixes, x.prefixes...)
	}
	return u
}

// Host reports whether the host name or IP literal of a URL is exempt.
func (a Allow) Host(h string) bool {
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
	ip = ip.Unmap().WithZone("")
	for _, p := range a.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// CheckURL returns what can be known to be wrong with raw before any call:
// not an absolute http or https URL, credentials in it, or a host given as
// an IP address the dialer would refuse. Names are judged when dialled,
// after resolution.
func (a Allow) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%q is not an absolute http or https URL", raw)
	}
	if u.User != nil {
		return fmt.Errorf("%w (user:password@); put none in the URL", ErrCredentials)
	}
	ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]"))
	if err != nil || a.addr(ip) {
		return nil
	}
	if why := refused(ip); why != "" {
		return &RefusedError{Why: why}
	}
	return nil
}

// CheckHTTPS refuses a URL that is not https, unless its host is exempt.
func (a Allow) CheckHTTPS(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "https" || a.Host(u.Hostname()) {
		return nil
	}
	return ErrInsecureURL
}

// RefusedError is a call refused by the address check. It says which kind
// of address was refused and never which one, nor anything of the
// connection: a refusal comes before any packet is sent, so it cannot
// tell whether a port is open.
type RefusedError struct {
	// Why names the kind of address, such as "a loopback address".
	Why string
}

func (e *RefusedError) Error() string { return ErrRefusedAddress.Error() + ": " + e.Why }

// Is makes errors.Is(err, ErrRefusedAddress) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefusedAddress }

// Refusal returns the plain words of a refusal somewhere in err's chain,
// such as "address not allowed: a loopback address", without the address,
// port or connection detail the chain may carry; false when err is no
// refusal.
func Refusal(err error) (string, bool) {
	var r *RefusedError
	if errors.As(err, &r) {
		return r.Error(), true
	}
	if errors.Is(err, ErrRefusedAddress) {
		return ErrRefusedAddress.Error(), true
	}
	return "", false
}

// blocked are the networks Flashwire never calls, after the IANA IPv4 and
// IPv6 special-purpose address registries: every range that is not
// globally reachable, plus multicast and broadcast. 6to4, NAT64 and
// IPv4-mapped addresses are judged by the IPv4 address they carry (see
// refused).
var blocked = func() []struct {
	p   netip.Prefix
	why string
} {
	var out []struct {
		p   netip.Prefix
		why string
	}
	for _, b := range []struct{ cidr, why string }{
		{"0.0.0.0/8", "an unspecified address"},
		{"10.0.0.0/8", "a private address"},
		{"100.64.0.0/10", "a carrier-grade NAT address"},
		{"127.0.0.0/8", "a loopback address"},
		{"169.254.0.0/16", "a link-local address"}, // cloud metadata at 169.254.169.254
		{"172.16.0.0/12", "a private address"},
		{"192.0.0.0/24", "an IETF protocol address"},
		{"192.0.2.0/24", "a documentation address"},
		{"192.88.99.0/24", "a 6to4 relay address"},
		{"192.168.0.0/16", "a private address"},
		{"198.18.0.0/15", "a benchmarking address"},
		{"198.51.100.0/24", "a documentation address"},
		{"203.0.113.0/24", "a documentation address"},
		{"224.0.0.0/4", "a multicast address"},
		{"240.0.0.0/4", "a reserved or broadcast address"},
		{"::/128", "an unspecified address"},
		{"::1/128", "a loopback address"},
		{"64:ff9b:1::/48", "a local-use NAT64 address"},
		{"100::/64", "a discard-only address"},
		{"2001::/32", "a Teredo address"}, // carries an obfuscated IPv4 address
		{"2001:2::/48", "a benchmarking address"},
		{"2001:10::/28", "an ORCHID address"},
		{"2001:db8::/32", "a documentation address"},
		{"3fff::/20", "a documentation address"},
		{"5f00::/16", "a segment-routing address"},
		{"fc00::/7", "a unique-local address"},
		{"fe80::/10", "a link-local address"},
		{"fec0::/10", "a site-local address"},
		{"ff00::/8", "a multicast address"},
	} {
		out = append(out, struct {
			p   netip.Prefix
			why string
		}{netip.MustParsePrefix(b.cidr), b.why})
	}
	return out
}()

var (
	sixToFour = netip.MustParsePrefix("2002::/16")
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	// compat are the deprecated IPv4-compatible addresses ::a.b.c.d.
	compat = netip.MustParsePrefix("::/96")
)

// refused says what kind of address ip is when it may not be called, or
// "" when it may.
func refused(ip netip.Addr) string {
	ip = ip.WithZone("")
	if ip.Is4In6() {
		if r := refused(ip.Unmap()); r != "" {
			return r + " (IPv4-mapped)"
		}
		return ""
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case sixToFour.Contains(ip):
			if r := refused(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})); r != "" {
				return r + " (6to4)"
			}
			return ""
		case nat64.Contains(ip):
			if r := refused(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})); r != "" {
				return r + " (NAT64)"
			}
			return ""
		case compat.Contains(ip) && ip != netip.IPv6Unspecified() && ip != netip.IPv6Loopback():
			return "an IPv4-compatible address"
		}
	}
	for _, b := range blocked {
		if b.p.Contains(ip) {
			return b.why
		}
	}
	return ""
}

// control is the dialer's last word, after resolution and just before the
// connection is made: it sees the address actually dialled, so a name that
// resolves to an internal address (or changes its answer between a check
// and the dial, as in DNS rebinding) is still refused.
func (a Allow) control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return &RefusedError{Why: "an address that cannot be read"}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return &RefusedError{Why: "an address that cannot be read"}
	}
	if a.addr(ip) {
		return nil
	}
	if why := refused(ip); why != "" {
		return &RefusedError{Why: why}
	}
	return nil
}
