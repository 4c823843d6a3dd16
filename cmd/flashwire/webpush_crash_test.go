package main

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"flashwire/internal/pushtest"
	"flashwire/internal/redistest"
	"flashwire/subscribers"
)

// TestWebPushCrashDoublesNothing runs the real binary, SIGKILLs it while
// pushes of one alert to 300 subscriptions are in flight and more wait,
// and starts another process on the same Redis: no subscription gets the
// alert twice, and every one that never got it is counted as failed
// (interrupted: claimed by the killed process, in flight or about to be)
// rather than lost without a trace.
func TestWebPushCrashDoublesNothing(t *testing.T) {
	const subs = 300
	srv, rdb := redistest.Start(t)
	bin := buildBinary(t)
	push := pushtest.Start(t)
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	push.VAPIDKey = pushtest.B64(key.PublicKey().Bytes())
	const token = "a-long-bootstrap-token-for-tests"
	env := []string{
		"FLASHWIRE_REDIS_URL=" + srv.URL(),
		"FLASHWIRE_ADMIN_TOKEN=" + token,
		"FLASHWIRE_VAPID_PUBLIC_KEY=" + push.VAPIDKey,
		"FLASHWIRE_VAPID_PRIVATE_KEY=" + pushtest.B64(key.Bytes()),
		"FLASHWIRE_VAPID_SUBJECT=mailto:newsdesk@example.com",
		// The stand-in is on loopback, with a certificate of its own.
		"FLASHWIRE_WEBHOOK_ALLOW=127.0.0.1",
		"SSL_CERT_FILE=" + push.CertFile(t),
		// A job the killed process held goes on elsewhere 3 s after its
		// last renewal; each push may take 1 s.
		"FLASHWIRE_WEBPUSH_LEASE=3s",
		"FLASHWIRE_WEBPUSH_WORKERS=16",
		"FLASHWIRE_INSTANCE_ID=push-crash-test",
	}
	first, addr, firstOut := startBinary(t, bin, env...)

	ctx := context.Background()
	store := subscribers.NewStore(rdb)
	want := map[string]bool{}
	for range subs {
		id := subscribers.NewReaderID()
		if _, _, err := store.PutReader(ctx, id, subscribers.Preferences{Topics: []string{"world"}}); err != nil {
			t.Fatal(err)
		}
		s := push.Subscribe(t)
		if _, _, err := store.AddPush(ctx, id, subscribers.PushSubscription{Endpoint: s.Endpoint,
			Keys: subscribers.PushKeys{P256dh: s.P256dh, Auth: s.Auth}}); err != nil {
			t.Fatal(err)
		}
		want[s.Endpoint] = true
	}
	push.HoldAfter(60)
	var a struct {
		ID string `json:"id"`
	}
	apiCall(t, addr, token, "POST", "/api/v1/alerts", map[string]any{
		"headline": "Crash test alert", "url": "https://news.example/crash", "topics": []string{"world"}, "priority": "flash",
	}, &a)

	deadline := time.Now().Add(20 * time.Second)
	for push.Held() < 8 {
		if time.Now().After(deadline) {
			t.Fatalf("no pushes held within 20s (received %d)\n%s", len(push.Messages()), firstOut.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	push.Release()
	atKill := len(push.Messages())

	_, addr, secondOut := startBinary(t, bin, env...)
	var figures struct {
		Delivery map[string]struct {
			Reached, Failed, Pending int64
		} `json:"delivery"`
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		apiCall(t, addr, token, "GET", "/api/v1/alerts/"+a.ID, nil, &figures)
		f := figures.Delivery["webpush"]
		if f.Reached+f.Failed == subs && f.Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("figures %+v 30s after the restart\n%s", f, secondOut.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	received := map[string]int{}
	for _, m := range push.Messages() {
		if m.Err != nil {
			t.Fatalf("push to %s: %v", m.Endpoint, m.Err)
		}
		var msg struct{ ID string }
		if err := json.Unmarshal(m.Plain, &msg); err != nil || msg.ID != a.ID {
			t.Fatalf("push %q is not the alert %s", m.Plain, a.ID)
		}
		received[m.Endpoint]++
	}
	lost, cut := 0, 0
	for e, n := range push.Cut() {
		if want[e] && received[e] == 0 {
			cut += n
		}
	}
	for e := range want {
		switch {
		case received[e] > 1:
			t.Errorf("%s got the alert %d times", e, received[e])
		case received[e] == 0:
			lost++
		}
	}
	// What never arrived is counted failed; so may be a few that arrived
	// while the killed process had not yet recorded them.
	f := figures.Delivery["webpush"]
	if f.Failed < int64(lost) || f.Reached+int64(lost) > int64(subs) || f.Reached > int64(len(received)) {
		t.Errorf("figures %+v: the %d that never arrived must count as failed, reached at most the %d received", f, lost, len(received))
	}
	if cut == 0 {
		t.Error("no push was in flight at the kill; the test did not crash mid-send")
	}
	t.Logf("%d subscriptions: %d received before the kill, %d cut off by it, %d never arrived, %d counted failed, %d received in all",
		subs, atKill, cut, lost, f.Failed, len(received))
}
