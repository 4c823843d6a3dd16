package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"flashwire"
	"flashwire/notifier/outbound"
	"flashwire/notifier/webpush"
	"flashwire/subscribers"
)

// config is everything serve needs, read from flags and FLASHWIRE_*
// variables, flags winning.
type config struct {
	Addr           string
	RedisURLs      []string
	AdminToken     string
	AllowedOrigins []string
	PublicURL      string
	LogLevel       slog.Level
	// RedisWait bounds how long start-up retries an unreachable Redis.
	RedisWait time.Duration
	// MinGap is the newsroom-wide minimum time between non-flash alerts;
	// zero turns the guard off.
	MinGap time.Duration
	// MaxConnections and MaxConnectionsPerIP bound live connections.
	MaxConnections      int
	MaxConnectionsPerIP int
	// OutboundAllow lists hosts and networks feeds, webhooks and Web Push
	// may reach despite the address check (and webhooks over plain http):
	// development and tests only.
	OutboundAllow outbound.Allow
	// WebhookWorkers and WebhookTimeout bound webhook delivery.
	WebhookWorkers int
	WebhookTimeout time.Duration
	// WebhookLease is how long a claimed delivery stays this instance's
	// before any instance may retry it: the takeover time after a crash.
	WebhookLease time.Duration
	// InstanceID names this instance in the alert log's consumer groups;
	// empty means host name and process id, new at every start.
	InstanceID string
	// TrustedProxies are the networks whose X-Forwarded-For is believed
	// when deciding a client's address.
	TrustedProxies []netip.Prefix
	// ReaderShards is how many shards the reader index is spread over,
	// fixed per installation.
	ReaderShards int
	// VAPID is the Web Push key pair; zero means the one stored in Redis
	// (generated on first start).
	VAPID webpush.Keys
	// VAPIDSubject is the contact push services see (mailto: or https:).
	VAPIDSubject string
	// WebPushWorkers bounds pushes in flight; WebPushLease is how long a
	// push job an instance holds stays its own without renewal.
	WebPushWorkers int
	WebPushLease   time.Duration
	// Warnings are said once the log exists: settings that work but
	// should change.
	Warnings []string
	// vapidPublic and vapidPrivate are the key settings as given, checked
	// together once every setting is read.
	vapidPublic, vapidPrivate string
}

// minAdminToken is the shortest bootstrap admin token accepted: it is
// every admin's master key, so it is as long as the tokens Flashwire makes.
const minAdminToken = 32

// usageError is a bad flag or setting: main exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// setting is one configurable value: its flag, its variable and a check.
type setting struct {
	flag, env, def, help string
	apply                func(c *config, v string) error
}

var settings = []setting{
	{"addr", "FLASHWIRE_ADDR", ":8080", "address to listen on, host:port", func(c *config, v string) error {
		host, port, err := net.SplitHostPort(v)
		if err != nil {
			return fmt.Errorf("%q is not host:port (for example :8080 or 127.0.0.1:8080)", v)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("%q has no port number from 0 to 65535", v)
		}
		if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, " /") {
			return fmt.Errorf("%q has an invalid host", v)
		}
		c.Addr = v
		return nil
	}},
	{"redis-url", "FLASHWIRE_REDIS_URL", "", "redis:// or rediss:// URL; several comma-separated mean a Redis Cluster; empty runs an embedded in-memory Redis", func(c *config, v string) error {
		c.RedisURLs = nil
		for _, u := range splitList(v) {
			parsed, err := url.Parse(u)
			if err != nil || (parsed.Scheme != "redis" && parsed.Scheme != "rediss") || parsed.Host == "" {
				return fmt.Errorf("%q is not a redis:// or rediss:// URL with a host", redactURL(u))
			}
			c.RedisURLs = append(c.RedisURLs, u)
		}
		return nil
	}},
	{"admin-token", "FLASHWIRE_ADMIN_TOKEN", "", "bootstrap admin token (at least 32 characters); generated and printed in embedded mode when empty", func(c *config, v string) error {
		if v != "" && len(v) < minAdminToken {
			return fmt.Errorf("is %d characters; use a random value of at least %d (such as the output of openssl rand -base64 32)", len(v), minAdminToken)
		}
		c.AdminToken = v
		return nil
	}},
	{"allowed-origins", "FLASHWIRE_ALLOWED_ORIGINS", "", "comma-separated origins allowed to open WebSockets besides the service's own; * allows any", func(c *config, v string) error {
		c.AllowedOrigins = nil
		for _, o := range splitList(v) {
			if o != "*" {
				u, err := url.Parse(o)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
					return fmt.Errorf("%q is not an origin such as https://news.example.com", o)
				}
				o = u.Scheme + "://" + strings.ToLower(u.Host)
			}
			c.AllowedOrigins = append(c.AllowedOrigins, o)
		}
		return nil
	}},
	{"public-url", "FLASHWIRE_PUBLIC_URL", "", "URL where readers and editors reach this service (default http://localhost:PORT)", func(c *config, v string) error {
		if v != "" {
			if problem := flashwire.CheckWebURL(v); problem != "" {
				return fmt.Errorf("%q %s", v, problem)
			}
			v = strings.TrimSuffix(v, "/")
		}
		c.PublicURL = v
		return nil
	}},
	{"log-level", "FLASHWIRE_LOG_LEVEL", "info", "debug, info, warn or error", func(c *config, v string) error {
		switch strings.ToLower(v) {
		case "debug":
			c.LogLevel = slog.LevelDebug
		case "info":
			c.LogLevel = slog.LevelInfo
		case "warn", "warning":
			c.LogLevel = slog.LevelWarn
		case "error":
			c.LogLevel = slog.LevelError
		default:
			return fmt.Errorf("%q is not one of debug, info, warn, error", v)
		}
		return nil
	}},
	{"max-connections", "FLASHWIRE_MAX_CONNECTIONS", "20000", "most live connections (WebSocket and SSE) this instance holds", func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a positive whole number", v)
		}
		c.MaxConnections = n
		return nil
	}},
	{"max-connections-per-ip", "FLASHWIRE_MAX_CONNECTIONS_PER_IP", "256", "most live connections from one client address", func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("%q is not a positive whole number", v)
		}
		c.MaxConnectionsPerIP = n
		return nil
	}},
	{"min-gap", "FLASHWIRE_MIN_GAP", "0", "minimum time between non-flash alerts across the newsroom, such as 5m; 0 turns the guard off", func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > 24*time.Hour {
			return fmt.Errorf("%q is not a duration from 0 to 24h such as 5m", v)
		}
		c.MinGap = d
		return nil
	}},
	{"outbound-allow", "FLASHWIRE_OUTBOUND_ALLOW", "", "comma-separated hosts, IP addresses and CIDRs that feeds, webhooks and Web Push may reach despite the internal-address check, and webhooks over plain http; for development and tests only", func(c *config, v string) error {
		a, err := outbound.ParseAllow(splitList(v))
		if err != nil {
			return err
		}
		c.OutboundAllow = c.OutboundAllow.Union(a)
		return nil
	}},
	{"webhook-allow", "FLASHWIRE_WEBHOOK_ALLOW", "", "deprecated name of -outbound-allow; when both are set, both lists apply", func(c *config, v string) error {
		a, err := outbound.ParseAllow(splitList(v))
		if err != nil {
			return err
		}
		if v != "" {
			c.Warnings = append(c.Warnings, "FLASHWIRE_WEBHOOK_ALLOW (-webhook-allow) is deprecated: it now exempts feeds and Web Push too; rename it FLASHWIRE_OUTBOUND_ALLOW (-outbound-allow)")
		}
		c.OutboundAllow = c.OutboundAllow.Union(a)
		return nil
	}},
	{"webhook-workers", "FLASHWIRE_WEBHOOK_WORKERS", "256", "most webhook requests in flight on this instance", func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 4096 {
			return fmt.Errorf("%q is not a whole number from 1 to 4096", v)
		}
		c.WebhookWorkers = n
		return nil
	}},
	{"webhook-timeout", "FLASHWIRE_WEBHOOK_TIMEOUT", "10s", "how long a partner has to answer a webhook with a 2xx", func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > time.Minute {
			return fmt.Errorf("%q is not a duration from 1s to 1m such as 10s", v)
		}
		c.WebhookTimeout = d
		return nil
	}},
	{"webhook-lease", "FLASHWIRE_WEBHOOK_LEASE", "60s", "how long a webhook delivery claimed by an instance stays its own; after a crash another instance retries it this long after the claim; at least the webhook timeout plus 1s", func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 2*time.Second || d > time.Hour {
			return fmt.Errorf("%q is not a duration from 2s to 1h such as 60s", v)
		}
		c.WebhookLease = d
		return nil
	}},
	{"instance-id", "FLASHWIRE_INSTANCE_ID", "", "stable name of this instance, unique among those running, so that after a restart it resumes the alert events it was handed at once instead of after 30s; empty uses host name and process id", func(c *config, v string) error {
		if len(v) > 64 || strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
			return fmt.Errorf("%q is not a name of at most 64 letters, digits, dots, dashes and underscores", v)
		}
		c.InstanceID = v
		return nil
	}},
	{"trusted-proxies", "FLASHWIRE_TRUSTED_PROXIES", "", "comma-separated CIDRs of the load balancers and proxies in front of the service, whose X-Forwarded-For gives the client address; empty trusts none", func(c *config, v string) error {
		c.TrustedProxies = nil
		for _, p := range splitList(v) {
			prefix, err := netip.ParsePrefix(p)
			if err != nil {
				return fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or fd00::/8", p)
			}
			c.TrustedProxies = append(c.TrustedProxies, prefix.Masked())
		}
		return nil
	}},
	{"reader-shards", "FLASHWIRE_READER_SHARDS", "16", "how many shards the reader index is spread over (hash tags a Redis Cluster spreads); fixed once readers are stored", func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > subscribers.MaxShards {
			return fmt.Errorf("%q is not a whole number from 1 to %d", v, subscribers.MaxShards)
		}
		c.ReaderShards = n
		return nil
	}},
	{"vapid-public-key", "FLASHWIRE_VAPID_PUBLIC_KEY", "", "Web Push VAPID public key (base64url, with FLASHWIRE_VAPID_PRIVATE_KEY); empty uses the pair generated on first start and kept in Redis", func(c *config, v string) error {
		c.vapidPublic = v
		return nil
	}},
	{"vapid-private-key", "FLASHWIRE_VAPID_PRIVATE_KEY", "", "Web Push VAPID private key (base64url, with FLASHWIRE_VAPID_PUBLIC_KEY)", func(c *config, v string) error {
		c.vapidPrivate = v
		return nil
	}},
	{"vapid-subject", "FLASHWIRE_VAPID_SUBJECT", "", "contact push services may write to about this sender: mailto:ADDRESS or an https: URL; required in production", func(c *config, v string) error {
		if v != "" {
			if problem := webpush.CheckSubject(v); problem != "" {
				return fmt.Errorf("%q %s", v, problem)
			}
		}
		c.VAPIDSubject = v
		return nil
	}},
	{"webpush-workers", "FLASHWIRE_WEBPUSH_WORKERS", "256", "most Web Push requests in flight on this instance", func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 4096 {
			return fmt.Errorf("%q is not a whole number from 1 to 4096", v)
		}
		c.WebPushWorkers = n
		return nil
	}},
	{"webpush-lease", "FLASHWIRE_WEBPUSH_LEASE", "30s", "how long a Web Push job an instance works on stays its own without renewal: after a crash another instance goes on with it this long after the last renewal", func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 3*time.Second || d > time.Hour {
			return fmt.Errorf("%q is not a duration from 3s to 1h such as 30s", v)
		}
		c.WebPushLease = d
		return nil
	}},
	{"redis-wait", "FLASHWIRE_REDIS_WAIT", "30s", "how long start-up retries an unreachable Redis", func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("%q is not a duration such as 30s", v)
		}
		c.RedisWait = d
		return nil
	}},
}

// parseConfig reads args (flags) over getenv (FLASHWIRE_*) over defaults.
// Every error names the flag or variable it came from.
func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	values := make([]*string, len(settings))
	for i, s := range settings {
		values[i] = fs.String(s.flag, "", fmt.Sprintf("%s (env %s, default %q)", s.help, s.env, s.def))
	}
	if err := fs.Parse(args); err != nil {
		return config{}, &usageError{msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return config{}, &usageError{msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var c config
	origin := map[string]string{} // flag -> where its value came from
	for i, s := range settings {
		v, from := s.def, s.env
		if ev := getenv(s.env); ev != "" {
			v = ev
		}
		if set[s.flag] {
			v, from = *values[i], "-"+s.flag
		}
		origin[s.flag] = from
		if err := s.apply(&c, strings.TrimSpace(v)); err != nil {
			return config{}, &usageError{msg: fmt.Sprintf("%s: %v", from, err)}
		}
	}
	// A lease shorter than a request could run would let another instance
	// send a delivery again while its first request is still waiting.
	if c.WebhookLease < c.WebhookTimeout+time.Second {
		return config{}, &usageError{msg: fmt.Sprintf("%s: %s is shorter than the webhook timeout (%s) plus 1s; raise it or lower FLASHWIRE_WEBHOOK_TIMEOUT",
			origin["webhook-lease"], c.WebhookLease, c.WebhookTimeout)}
	}
	if err := c.checkVAPID(); err != nil {
		return config{}, err
	}
	return c, nil
}

// checkVAPID checks the two key settings together: both or neither, and a
// pair that belongs together.
func (c *config) checkVAPID() error {
	switch {
	case c.vapidPublic == "" && c.vapidPrivate == "":
		return nil
	case c.vapidPrivate == "":
		return &usageError{msg: "FLASHWIRE_VAPID_PRIVATE_KEY: is required with FLASHWIRE_VAPID_PUBLIC_KEY; give both or neither"}
	case c.vapidPublic == "":
		return &usageError{msg: "FLASHWIRE_VAPID_PUBLIC_KEY: is required with FLASHWIRE_VAPID_PRIVATE_KEY; give both or neither"}
	}
	keys, err := webpush.ParseKeys(c.vapidPublic, c.vapidPrivate)
	if err != nil {
		name := "FLASHWIRE_VAPID_PUBLIC_KEY"
		if strings.HasPrefix(err.Error(), "private") {
			name = "FLASHWIRE_VAPID_PRIVATE_KEY"
		}
		return &usageError{msg: fmt.Sprintf("%s: %v", name, err)}
	}
	c.VAPID = keys
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// redactURL hides a password in a Redis URL before it is printed.
func redactURL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return "(unparseable URL)"
	}
	return parsed.Redacted()
}
