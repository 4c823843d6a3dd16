package outbound

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestRefused(t *testing.T) {
	tests := []struct {
		addr    string
		refused bool
	}{
		{"127.0.0.1", true},              // loopback
		{"127.1.2.3", true},              // loopback, whole /8
		{"::1", true},                    // IPv6 loopback
		{"10.0.0.1", true},               // private
		{"172.16.5.4", true},             // private
		{"192.168.1.1", true},            // private
		{"fd00::1", true},                // IPv6 unique local
		{"169.254.169.254", true},        // link-local, cloud metadata
		{"fe80::1", true},                // IPv6 link-local
		{"100.64.0.1", true},             // CGNAT
		{"100.127.255.254", true},        // CGNAT, top
		{"224.0.0.1", true},              // multicast
		{"ff02::1", true},                // IPv6 multicast
		{"0.0.0.0", true},                // unspecified
		{"::", true},                     // IPv6 unspecified
		{"255.255.255.255", true},        // broadcast
		{"::ffff:127.0.0.1", true},       // IPv4-mapped loopback
		{"::ffff:169.254.169.254", true}, // IPv4-mapped metadata
		{"::ffff:10.0.0.1", true},        // IPv4-mapped private
		{"2002:7f00:1::1", true},         // 6to4 carrying 127.0.0.1
		{"2002:a9fe:a9fe::1", true},      // 6to4 carrying 169.254.169.254
		{"2002:c0a8:101::1", true},       // 6to4 carrying 192.168.1.1
		{"64:ff9b::7f00:1", true},        // NAT64 carrying 127.0.0.1
		{"64:ff9b::a9fe:a9fe", true},     // NAT64 carrying 169.254.169.254
		{"64:ff9b::a00:1", true},         // NAT64 carrying 10.0.0.1
		{"::127.0.0.1", true},            // deprecated IPv4-compatible
		{"fe80::1%eth0", true},           // link-local with a zone
		{"93.184.215.14", false},         // a public IPv4 address
		{"2606:4700:4700::1111", false},  // a public IPv6 address
		{"::ffff:93.184.215.14", false},  // IPv4-mapped public address
		{"2002:5db8:d70e::1", false},     // 6to4 carrying a public address
		{"64:ff9b::5db8:d70e", false},    // NAT64 carrying a public address
		{"100.63.255.255", false},        // just below CGNAT
		{"172.32.0.1", false},            // just above 172.16/12
		{"198.18.0.1", true},             // benchmarking
		{"198.19.255.255", true},         // benchmarking, top
		{"198.20.0.1", false},            // just above it
		{"192.0.2.7", true},              // documentation
		{"2001:db8::1", true},            // IPv6 documentation
		{"3fff::1", true},                // IPv6 documentation (2024)
		{"2001:2::1", true},              // IPv6 benchmarking
		{"2001:0:4136:e378::1", true},    // Teredo
		{"64:ff9b:1::a00:1", true},       // local-use NAT64
		{"::ffff:0.0.0.0", true},         // IPv4-mapped unspecified
		{"::ffff:100.64.0.1", true},      // IPv4-mapped CGNAT
		{"fec0::1", true},                // deprecated site-local
	}
	for _, tt := range tests {
		ip := netip.MustParseAddr(tt.addr)
		if got := refused(ip) != ""; got != tt.refused {
			t.Errorf("refused(%s) = %q, want refused %v", tt.addr, refused(ip), tt.refused)
		}
	}
}

func TestCheckURL(t *testing.T) {
	allow, err := ParseAllow([]string{"127.0.0.1", "dev.internal", "10.9.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		url     string
		wantErr error
	}{
		{"https://partner.example/hook", nil},                 // https, any host
		{"http://partner.example/feed", nil},                  // plain http is the https rule's business
		{"http://127.0.0.1:8080/hook", nil},                   // allow-listed address
		{"http://10.9.3.4/hook", nil},                         // allow-listed network
		{"http://10.8.3.4/hook", ErrRefusedAddress},           // outside it
		{"http://[::1]/hook", ErrRefusedAddress},              // IPv6 loopback
		{"http://[::ffff:127.0.0.2]/hook", ErrRefusedAddress}, // IPv4-mapped loopback
		{"http://0.0.0.0/hook", ErrRefusedAddress},            // unspecified
		{"http://localhost:8080/hook", nil},                   // a name: judged when dialled
		{"ftp://partner.example/hook", errors.New("scheme")},  // not http at all
		{"https://user:pw@partner.example/", ErrCredentials},  // user and password
		{"https://user@partner.example/", ErrCredentials},     // user alone
		{"https://user:pw@127.0.0.1/", ErrCredentials},        // even where allowed
	}
	for _, tt := range tests {
		err := allow.CheckURL(tt.url)
		switch {
		case tt.wantErr == nil && err != nil:
			t.Errorf("CheckURL(%s) = %v, want nil", tt.url, err)
		case tt.wantErr != nil && err == nil:
			t.Errorf("CheckURL(%s) = nil, want an error", tt.url)
		case (tt.wantErr == ErrRefusedAddress || tt.wantErr == ErrCredentials) && !errors.Is(err, tt.wantErr):
			t.Errorf("CheckURL(%s) = %v, want %v", tt.url, err, tt.wantErr)
		}
	}
	https := []struct {
		url  string
		want bool // refused
	}{
		{"https://partner.example/hook", false}, // https
		{"http://partner.example/hook", true},   // plain http
		{"http://127.0.0.1:8080/hook", false},   // allow-listed address
		{"http://dev.internal/hook", false},     // allow-listed name
		{"http://10.9.3.4/hook", false},         // allow-listed network
		{"http://10.8.3.4/hook", true},          // outside it
		{"http://localhost:8080/hook", true},    // names are not addresses
	}
	for _, tt := range https {
		if err := allow.CheckHTTPS(tt.url); (err != nil) != tt.want || (err != nil && !errors.Is(err, ErrInsecureURL)) {
			t.Errorf("CheckHTTPS(%s) = %v, want refused %v", tt.url, err, tt.want)
		}
	}
	if _, err := ParseAllow([]string{"10.0.0.0/99"}); err == nil {
		t.Error("ParseAllow accepted a bad CIDR")
	}
}

// TestDialRefuses dials a real listener on loopback through every way of
// naming it: each must be refused at dial time, after DNS, unless
// allow-listed.
func TestDialRefuses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))

	t.Run("ErrRefusedAddress", func(t *testing.T) {
		client := NewClient(Config{Timeout: 2 * time.Second})
		for _, host := range []string{
			"127.0.0.1",
			"localhost", // a name that resolves to 127.0.0.1
			"127.0.0.2",
			"0.0.0.0",
			"10.0.0.1",
			"169.254.169.254",
			"100.64.0.1",
			"192.168.0.1",
		} {
			resp, err := client.Post("http://"+net.JoinHostPort(host, port)+"/", "application/json", nil)
			if err == nil {
				resp.Body.Close()
				t.Errorf("dial %s succeeded", host)
				continue
			}
			if !errors.Is(err, ErrRefusedAddress) {
				t.Errorf("dial %s: %v, want ErrRefusedAddress", host, err)
			}
		}
	})
	t.Run("OK", func(t *testing.T) {
		for _, allowed := range []string{"127.0.0.1", "127.0.0.0/8", "localhost"} {
			allow, err := ParseAllow([]string{allowed})
			if err != nil {
				t.Fatal(err)
			}
			host := "127.0.0.1"
			if allowed == "localhost" {
				host = "localhost"
			}
			resp, err := NewClient(Config{Allow: allow, Timeout: 2 * time.Second}).Post("http://"+net.JoinHostPort(host, port)+"/", "application/json", nil)
			if err != nil {
				t.Errorf("allow %s: %v", allowed, err)
				continue
			}
			resp.Body.Close()
		}
	})
}

func TestNoRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	}))
	defer srv.Close()
	allow, _ := ParseAllow([]string{"127.0.0.1"})
	resp, err := NewClient(Config{Allow: allow, Timeout: 2 * time.Second}).Post(srv.URL, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want the 302 itself", resp.StatusCode)
	}
}

// TestRefusedWording: an address carried inside another is named by what
// it carries, then how, so the sentence reads in a source's last_error.
func TestRefusedWording(t *testing.T) {
	for _, tt := range []struct{ ip, want string }{
		{"10.0.0.5", "a private address"},
		{"::ffff:10.0.0.5", "a private address (IPv4-mapped)"},
		{"64:ff9b::7f00:1", "a loopback address (NAT64)"},
		{"2002:a00:1::1", "a private address (6to4)"},
	} {
		if got := refused(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("refused(%s) = %q, want %q", tt.ip, got, tt.want)
		}
	}
}
