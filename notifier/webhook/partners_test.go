package webhook

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"flashwire"
	"flashwire/internal/redistest"
	"flashwire/notifier"
	"flashwire/subscribers"
)

// TestPartnerRegions: a partner filtering by region gets alerts of its
// regions and alerts without regions (which are for every region), never
// those of other regions only; the dry-run audience counts it the same way.
func TestPartnerRegions(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	store := subscribers.NewStore(rdb)
	if err := store.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := store.CreatePartner(ctx, subscribers.Partner{Name: "Europe desk", URL: "https://europe.example/hook", Regions: []string{"europe"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := NewStoreDirectory(store)
	now := time.Now()
	for _, tc := range []struct {
		name    string
		regions []string
		want    bool
	}{
		// The partner's own region.
		{"OK", []string{"europe"}, true},
		// No regions means every region.
		{"no regions", nil, true},
		// Another region only.
		{"other region", []string{"asia"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := flashwire.Alert{ID: "0-1", Topics: []string{"world"}, Regions: tc.regions, Language: "en", Priority: flashwire.Urgent}
			got, err := dir.Match(ctx, flashwire.Event{Type: flashwire.Published, Alert: a}, now)
			if err != nil {
				t.Fatal(err)
			}
			matched := slices.ContainsFunc(got, func(t Target) bool { return t.ID == p.ID })
			if matched != tc.want || len(got) > 1 {
				t.Errorf("Match = %+v, want the partner: %v", got, tc.want)
			}
			aud, err := store.CountAudience(ctx, a.Attrs(), now)
			if err != nil {
				t.Fatal(err)
			}
			if (aud.Partners == 1) != tc.want {
				t.Errorf("audience partners = %d, want the partner: %v", aud.Partners, tc.want)
			}
		})
	}
}

// TestPartnerRetargetedUpdate: an update that moves an alert from sport to
// business, read back from the alert log, is an update to a partner that
// wants both, a publication to the business desk and a retraction to the
// sport desk; a partner that asked for publications only gets nothing when
// the alert leaves it.
func TestPartnerRetargetedUpdate(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	store := subscribers.NewStore(rdb)
	if err := store.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	mk := func(name string, topics []string, events ...flashwire.EventType) string {
		p, err := store.CreatePartner(ctx, subscribers.Partner{Name: name, URL: "https://" + strings.ReplaceAll(strings.ToLower(name), " ", "-") + ".example/hook", Topics: topics, Events: events})
		if err != nil {
			t.Fatal(err)
		}
		return p.ID
	}
	both := mk("Both desks", []string{"sport", "business"})
	business := mk("Business desk", []string{"business"})
	sport := mk("Sport desk", []string{"sport"})
	sportPub := mk("Sport publications", []string{"sport"}, flashwire.Published)
	mk("Science desk", []string{"science"})

	alertLog := notifier.NewLog(rdb)
	alerts := notifier.NewService(alertLog, store)
	a, _, err := alerts.Publish(ctx, flashwire.Alert{Headline: "Transfer deal", URL: "https://news.example/deal", Topics: []string{"sport"}, Priority: flashwire.Urgent}, notifier.PublishOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alerts.Update(ctx, a.ID, flashwire.Alert{Headline: "Transfer deal: club sold", URL: "https://news.example/deal", Topics: []string{"business"}, Priority: flashwire.Urgent}); err != nil {
		t.Fatal(err)
	}
	events, _, err := alertLog.Since(ctx, a.ID, 10)
	if err != nil || len(events) != 1 {
		t.Fatalf("log after the publication = %+v, %v", events, err)
	}
	targets, err := NewStoreDirectory(store).Match(ctx, events[0], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]flashwire.EventType{}
	for _, tg := range targets {
		got[tg.ID] = tg.Event
	}
	want := map[string]flashwire.EventType{both: flashwire.Updated, business: flashwire.Published, sport: flashwire.Retracted}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("update goes as %v, want %v (not to %s, which wants publications only)", got, want, sportPub)
	}
}

// TestDeliveryEvent: the figures tell a publication from an update sent as
// one by the delivery id, which names the event.
func TestDeliveryEvent(t *testing.T) {
	const alert, partner = "1732650000000-0", "pt_1"
	for _, tc := range []struct {
		name    string
		eventID string
		typ     flashwire.EventType
		want    flashwire.EventType
	}{
		// The publication itself: its event id is the alert id.
		{"publication", alert, flashwire.Published, flashwire.Published},
		// An update that newly matched the partner, sent as the alert.
		{"entered", "1732650005000-0", flashwire.Published, flashwire.Updated},
		{"update", "1732650005000-0", flashwire.Updated, flashwire.Updated},
		// Retractions count as leaving: the partner had the alert.
		{"retraction", "1732650009000-0", flashwire.Retracted, flashwire.Updated},
	} {
		d := Delivery{ID: DeliveryID(tc.eventID, partner), PartnerID: partner, AlertID: alert, Type: string(tc.typ)}
		if got := d.event(); got != tc.want {
			t.Errorf("%s: event = %s, want %s", tc.name, got, tc.want)
		}
	}
}
