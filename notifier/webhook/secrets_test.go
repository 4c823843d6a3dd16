package webhook

import (
	"context"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"flashwire/internal/redistest"
)

func TestSecretRotation(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	s := NewSecrets(rdb)
	s.Now = clk.Now
	if _, err := s.Signing(ctx, "pt_a"); err == nil {
		t.Fatal("a partner without a secret signs")
	}
	first, _ := s.Create(ctx, "pt_a")
	second, err := s.Rotate(ctx, "pt_a", DefaultGrace)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.Signing(ctx, "pt_a")
	if len(got) != 2 || got[0] != second || got[1] != first {
		t.Fatalf("during the grace period signing with %v", got)
	}
	clk.Advance(DefaultGrace)
	if got, _ := s.Signing(ctx, "pt_a"); len(got) != 1 || got[0] != second {
		t.Fatalf("after the grace period signing with %v", got)
	}
	third, _ := s.Rotate(ctx, "pt_a", time.Hour)
	if err := s.RevokePrevious(ctx, "pt_a"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Signing(ctx, "pt_a"); len(got) != 1 || got[0] != third {
		t.Fatalf("after revoking signing with %v", got)
	}
	fourth, _ := s.Rotate(ctx, "pt_a", 0)
	if got, _ := s.Signing(ctx, "pt_a"); len(got) != 1 || got[0] != fourth {
		t.Fatalf("after a rotation without grace signing with %v", got)
	}
}

// TestSecretChangeElsewhereReachesTheSender keeps a sender's secrets in
// memory and changes them through another instance's Secrets: a rotation
// without grace, then a new secret. Each delivery queued after a change is
// signed with the secrets as they are after it, and only with them: the
// sender's claims see the change, not a cache of the old secret.
func TestSecretChangeElsewhereReachesTheSender(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	rc := newReceiver(t, nil)
	sender := newTestSender(rdb, newDirectory(Target{ID: "pt_a", URL: rc.URL, State: "active"}), Options{})
	elsewhere := NewSecrets(rdb)
	first, err := elsewhere.Create(ctx, "pt_a")
	if err != nil {
		t.Fatal(err)
	}
	startSender(t, sender)
	second := ""
	for i, change := range []func() (string, error){
		func() (string, error) { return first, nil },
		func() (string, error) { return elsewhere.Rotate(ctx, "pt_a", 0) },
		func() (string, error) { return elsewhere.Create(ctx, "pt_a") },
	} {
		secret, err := change()
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			second = secret
		}
		enqueue(t, sender.queue, "pt_a", 1, time.Now().Add(time.Duration(i)*time.Millisecond))
		waitFor(t, "the delivery", func() bool { return len(rc.Hits()) == i+1 })
		h := rc.Hits()[i]
		if sigs := strings.Fields(h.Header.Get("webhook-signature")); len(sigs) != 1 {
			t.Errorf("delivery %d carries %d signatures, want 1", i+1, len(sigs))
		}
		wh, _ := standardwebhooks.NewWebhook(secret)
		if err := wh.Verify(h.Body, h.Header); err != nil {
			t.Errorf("delivery %d does not verify with the secret in force: %v", i+1, err)
		}
	}
	if second == "" || second == first {
		t.Fatal("the rotation gave no new secret")
	}
}
