package webhook

import (
	"context"
	"slices"
	"testing"
	"time"

	"flashwire"
	"flashwire/internal/redistest"
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
