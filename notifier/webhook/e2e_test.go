package webhook

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"flashwire"
	"flashwire/internal/redistest"
	"flashwire/notifier"
	"flashwire/subscribers"
)

// received is a webhook body as a partner decodes it.
type received struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      flashwire.Alert `json:"data"`
}

func decodeHit(tb testing.TB, h hit) received {
	tb.Helper()
	var m received
	if err := json.Unmarshal(h.Body, &m); err != nil {
		tb.Fatalf("body %s: %v", h.Body, err)
	}
	return m
}

// TestPartnersGetTheEventsTheyAskFor wires the real pieces as serve does
// (subscribers.Store as the directory, the dispatcher on the alert log's
// consumer group, the sender, per-partner secrets) and drives them through
// notifier.Service: a partner asking for every event gets the publication,
// the update and the retraction in that order, each with its own
// webhook-id; a partner asking only for publications gets only that; a
// partner whose topics do not match gets nothing.
func TestPartnersGetTheEventsTheyAskFor(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	store := subscribers.NewStore(rdb)
	if err := store.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	allRc, pubRc, otherRc := newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil)
	mk := func(name, url string, topics []string, events []flashwire.EventType) subscribers.Partner {
		p, err := store.CreatePartner(ctx, subscribers.Partner{Name: name, URL: url + "/hook", Topics: topics, Events: events})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// No events named means every event type.
	pAll := mk("Every event", allRc.URL, []string{"world"}, nil)
	pPub := mk("Publications only", pubRc.URL, []string{"world", "science"}, []flashwire.EventType{flashwire.Published})
	pOther := mk("Sport desk", otherRc.URL, []string{"sport"}, nil)

	secrets := NewSecrets(rdb)
	secret := map[string]string{}
	for _, p := range []subscribers.Partner{pAll, pPub, pOther} {
		s, err := secrets.Create(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		secret[p.ID] = s
	}
	stats := notifier.NewStats(rdb)
	dir := NewStoreDirectory(store)
	sender := NewSender(rdb, dir, secrets, Options{Outbound: testOutbound, Poll: 10 * time.Millisecond, Logger: quiet(), Stats: stats})
	alertLog := notifier.NewLog(rdb)
	alerts := notifier.NewService(alertLog, store)
	disp := NewDispatcher(alertLog, "e2e-1", NewStoreDirectory(store), sender, stats, quiet())
	if err := disp.Group().Create(ctx); err != nil {
		t.Fatal(err)
	}
	startSender(t, sender)
	dctx, cancel := context.WithCancel(ctx)
	dispDone := make(chan struct{})
	go func() { defer close(dispDone); _ = disp.Run(dctx) }()
	t.Cleanup(func() { cancel(); <-dispDone })

	pub, _, err := alerts.Publish(ctx, flashwire.Alert{Headline: "Quake hits the coast", URL: "https://news.example/quake",
		Topics: []string{"world"}, Regions: []string{"asia"}, Language: "en", Priority: flashwire.Flash}, notifier.PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the publication", func() bool { return len(allRc.Hits()) == 1 && len(pubRc.Hits()) == 1 })
	upd, err := alerts.Update(ctx, pub.ID, flashwire.Alert{Headline: "Quake hits the coast: 40 dead", URL: "https://news.example/quake",
		Topics: []string{"world"}, Regions: []string{"asia"}, Language: "en", Priority: flashwire.Flash})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the update", func() bool { return len(allRc.Hits()) == 2 })
	if _, err := alerts.Retract(ctx, pub.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retraction", func() bool { return len(allRc.Hits()) == 3 })

	hits := allRc.Hits()
	wantTypes := []string{"alert.published", "alert.updated", "alert.retracted"}
	ids := map[string]bool{}
	wh, _ := standardwebhooks.NewWebhook(secret[pAll.ID])
	var last time.Time
	for i, h := range hits {
		m := decodeHit(t, h)
		if m.Type != wantTypes[i] {
			t.Errorf("request %d is %s, want %s", i+1, m.Type, wantTypes[i])
		}
		if m.Data.ID != pub.ID {
			t.Errorf("%s carries alert %q, want %q", m.Type, m.Data.ID, pub.ID)
		}
		if m.Timestamp.Before(last) {
			t.Errorf("%s timestamp %v is before the previous event's %v", m.Type, m.Timestamp, last)
		}
		last = m.Timestamp
		if !strings.HasPrefix(h.ID, "msg_") || !strings.HasSuffix(h.ID, "_"+pAll.ID) {
			t.Errorf("%s webhook-id %q does not name its event and partner", m.Type, h.ID)
		}
		ids[h.ID] = true
		if err := wh.Verify(h.Body, h.Header); err != nil {
			t.Errorf("%s does not verify with the partner's secret: %v", m.Type, err)
		}
		switch m.Type {
		case "alert.published":
			if h.ID != DeliveryID(pub.ID, pAll.ID) || m.Data.Headline != pub.Headline || !m.Data.UpdatedAt.IsZero() || m.Data.Retracted {
				t.Errorf("publication %s: %s", h.ID, h.Body)
			}
		case "alert.updated":
			if m.Data.Headline != upd.Headline || !m.Data.PublishedAt.Equal(pub.PublishedAt) || m.Data.UpdatedAt.IsZero() || m.Data.Retracted {
				t.Errorf("update: %s", h.Body)
			}
		case "alert.retracted":
			if !m.Data.Retracted || m.Data.Headline != upd.Headline {
				t.Errorf("retraction: %s", h.Body)
			}
		}
	}
	if len(ids) != 3 {
		t.Errorf("webhook-ids %v, want three distinct", ids)
	}

	// Dispatch stores an event's deliveries for every partner at once, so
	// with the retraction delivered, any unwanted delivery would exist.
	for _, tt := range []struct {
		partner subscribers.Partner
		want    int64
	}{
		{pPub, 1},   // the publication only
		{pOther, 0}, // no topic matches
		{pAll, 3},   // all three
	} {
		if n := rdb.ZCard(ctx, keyPartnerIndex(tt.partner.ID)).Val(); n != tt.want {
			t.Errorf("partner %q has %d deliveries, want %d", tt.partner.Name, n, tt.want)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(otherRc.Hits()); n != 0 {
		t.Errorf("the partner whose topics do not match got %d requests", n)
	}
	ph := pubRc.Hits()
	if len(ph) != 1 {
		t.Fatalf("the publications-only partner got %d requests, want 1", len(ph))
	}
	if m := decodeHit(t, ph[0]); m.Type != "alert.published" || m.Data.ID != pub.ID || ph[0].ID != DeliveryID(pub.ID, pPub.ID) {
		t.Errorf("publications-only partner got %s: %s", ph[0].ID, ph[0].Body)
	}
	own, _ := standardwebhooks.NewWebhook(secret[pPub.ID])
	if err := own.Verify(ph[0].Body, ph[0].Header); err != nil {
		t.Errorf("does not verify with the partner's own secret: %v", err)
	}
	// Each partner's secret is its own.
	if err := wh.Verify(ph[0].Body, ph[0].Header); err == nil {
		t.Error("a delivery verifies with another partner's secret")
	}
}
