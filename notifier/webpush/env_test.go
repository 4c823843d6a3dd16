package webpush

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
	"flashwire/internal/pushtest"
	"flashwire/internal/redistest"
	"flashwire/notifier"
	"flashwire/notifier/outbound"
	"flashwire/subscribers"
)

// env is one instance's Web Push path on a redis-server of its own, with a
// stand-in push service.
type env struct {
	rdb    redis.UniversalClient
	store  *subscribers.Store
	alerts *notifier.Service
	stats  *notifier.Stats
	log    *notifier.Log
	push   *pushtest.Server
	keys   Keys
	logs   *syncBuffer
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// syncBuffer is a log sink the sender and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	_, rdb := redistest.Start(tb)
	ctx := context.Background()
	store := subscribers.NewStore(rdb)
	if err := store.Seed(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := store.InitShards(ctx); err != nil {
		tb.Fatal(err)
	}
	keys, err := LoadKeys(ctx, rdb)
	if err != nil {
		tb.Fatal(err)
	}
	push := pushtest.Start(tb)
	push.VAPIDKey = keys.Public
	log := notifier.NewLog(rdb)
	return &env{rdb: rdb, store: store, alerts: notifier.NewService(log, store), stats: notifier.NewStats(rdb),
		log: log, push: push, keys: keys, logs: &syncBuffer{}}
}

// client is a client like the sender's, for the library alone.
func (e *env) client(tb testing.TB, timeout time.Duration) *http.Client {
	tb.Helper()
	return outbound.NewClient(e.outbound(tb, timeout))
}

// outbound is the guarded client's setting for the environment: loopback
// allowed, the stand-in's certificate trusted.
func (e *env) outbound(tb testing.TB, timeout time.Duration) outbound.Config {
	tb.Helper()
	allow, err := outbound.ParseAllow([]string{"127.0.0.1"})
	if err != nil {
		tb.Fatal(err)
	}
	return outbound.Config{Allow: allow, Timeout: timeout, TLS: &tls.Config{RootCAs: e.push.CertPool()}}
}

// sender returns a sender of the environment with opts over its defaults.
func (e *env) sender(tb testing.TB, opts Options) *Sender {
	tb.Helper()
	opts.Keys, opts.Subject, opts.Outbound = e.keys, "mailto:newsdesk@example.com", e.outbound(tb, 0)
	if opts.Lease == 0 {
		opts.Lease = 6 * time.Second
	}
	opts.Poll = 20 * time.Millisecond
	opts.Stats = e.stats
	opts.Logger = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return NewSender(e.rdb, e.store, opts)
}

// start runs a dispatcher and the given senders until the test ends.
func (e *env) start(tb testing.TB, senders ...*Sender) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	d := NewDispatcher(e.log, "test-dispatcher", senders[0], nil)
	if err := d.Group().Create(ctx); err != nil {
		tb.Fatal(err)
	}
	e.done.Add(1 + len(senders))
	go func() { defer e.done.Done(); _ = d.Run(ctx) }()
	for _, s := range senders {
		go func() { defer e.done.Done(); _ = s.Run(ctx) }()
	}
	tb.Cleanup(func() { cancel(); e.done.Wait() })
}

// subscribe stores a reader with preferences p and n subscriptions at the
// stand-in, returning the reader id and the subscriptions.
func (e *env) subscribe(tb testing.TB, p subscribers.Preferences, n int) (string, []pushtest.Subscription) {
	tb.Helper()
	ctx := context.Background()
	id := subscribers.NewReaderID()
	if _, _, err := e.store.PutReader(ctx, id, p); err != nil {
		tb.Fatal(err)
	}
	var subs []pushtest.Subscription
	for range n {
		sub := e.push.Subscribe(tb)
		if _, _, err := e.store.AddPush(ctx, id, subscribers.PushSubscription{Endpoint: sub.Endpoint,
			Keys: subscribers.PushKeys{P256dh: sub.P256dh, Auth: sub.Auth}}); err != nil {
			tb.Fatal(err)
		}
		subs = append(subs, sub)
	}
	return id, subs
}

func (e *env) publish(tb testing.TB, a flashwire.Alert) flashwire.Alert {
	tb.Helper()
	a, _, err := e.alerts.Publish(context.Background(), a, notifier.PublishOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// figures returns the alert's webpush figures once its pending count is
// settled at zero and want holds.
func (e *env) figures(tb testing.TB, id string, want func(notifier.ChannelStats) bool) notifier.ChannelStats {
	tb.Helper()
	var cs notifier.ChannelStats
	waitFor(tb, "web push figures of "+id+" (last seen "+fmt.Sprint(&cs)+")", func() bool {
		all, err := e.stats.Get(context.Background(), id)
		cs = all[notifier.WebPush]
		return err == nil && cs.Pending == 0 && want(cs)
	})
	return cs
}

// pushed is one decrypted push as the service worker would read it.
type pushed struct {
	message
	Endpoint string
	Header   http.Header
}

// received returns the stand-in's messages decoded, failing on any it
// could not decrypt or verify.
func (e *env) received(tb testing.TB) []pushed {
	tb.Helper()
	var out []pushed
	for _, m := range e.push.Messages() {
		if m.Err != nil {
			tb.Fatalf("push to %s: %v", m.Endpoint, m.Err)
		}
		p := pushed{Endpoint: m.Endpoint, Header: m.Header}
		if err := json.Unmarshal(m.Plain, &p.message); err != nil {
			tb.Fatalf("push to %s: %q is not the message JSON: %v", m.Endpoint, m.Plain, err)
		}
		out = append(out, p)
	}
	return out
}

func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
