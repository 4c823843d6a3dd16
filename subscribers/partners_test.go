package subscribers

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

func testPartners(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := newStore(t, rdb, &now)
	other := NewStore(rdb) // a second instance with its own cache
	p, err := s.CreatePartner(ctx, Partner{Name: " Daily Planet ", URL: "https://planet.example/hook", Topics: []string{"world"}, MinPriority: "urgent"})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("OK", func(t *testing.T) {
		if p.ID == "" || p.Name != "Daily Planet" || p.State != PartnerActive || !slices.Equal(p.Events, flashwire.EventTypes) || !p.CreatedAt.Equal(now) {
			t.Fatalf("created %+v", p)
		}
		got, err := other.Partner(ctx, p.ID)
		if err != nil || got.URL != p.URL {
			t.Fatalf("Partner = %+v, %v", got, err)
		}
	})
	t.Run("cache invalidated", func(t *testing.T) {
		if list, _ := other.Partners(ctx); len(list) != 1 {
			t.Fatalf("other instance lists %d partners", len(list))
		}
		if err := s.SetPartnerState(ctx, p.ID, PartnerDisabled, "410 Gone for a day"); err != nil {
			t.Fatal(err)
		}
		got, _ := other.Partner(ctx, p.ID)
		if got.State != PartnerDisabled || got.DisabledReason != "410 Gone for a day" {
			t.Fatalf("other instance still sees %+v", got)
		}
		alert := flashwire.Attrs{Topics: []string{"world"}, Priority: "flash"}
		if m, _ := other.MatchPartners(ctx, flashwire.Published, alert, now); len(m) != 0 {
			t.Fatalf("a disabled partner matched: %+v", m)
		}
		if err := s.SetPartnerState(ctx, p.ID, PartnerActive, ""); err != nil {
			t.Fatal(err)
		}
		if m, _ := other.MatchPartners(ctx, flashwire.Published, alert, now); len(m) != 1 {
			t.Fatalf("re-enabled partner did not match: %+v", m)
		}
	})
	t.Run("update", func(t *testing.T) {
		now = now.Add(time.Minute)
		got, err := s.UpdatePartner(ctx, p.ID, func(p *Partner) { p.Events = []flashwire.EventType{flashwire.Retracted} })
		if err != nil || !slices.Equal(got.Events, []flashwire.EventType{flashwire.Retracted}) || !got.UpdatedAt.Equal(now) || !got.CreatedAt.Equal(p.CreatedAt) {
			t.Fatalf("update = %+v, %v", got, err)
		}
		if _, err := s.UpdatePartner(ctx, p.ID, func(p *Partner) { p.URL = "ftp://x" }); fields(err) != "url" {
			t.Fatalf("bad update = %v", err)
		}
		if _, err := s.UpdatePartner(ctx, "pt_nope", func(*Partner) {}); !errors.Is(err, flashwire.ErrNotFound) {
			t.Fatalf("update unknown = %v", err)
		}
		if err := s.SetPartnerState(ctx, p.ID, "sleeping", ""); fields(err) != "state" {
			t.Fatalf("bad state = %v", err)
		}
		// A long reason is cut, not refused: disabling must not fail.
		if err := s.SetPartnerState(ctx, p.ID, PartnerDisabled, strings.Repeat("timeout; ", 200)); err != nil {
			t.Fatalf("disable with a long reason = %v", err)
		}
		// A topic removed from the taxonomy does not block changing the
		// partner, but cannot be added anew.
		if err := s.RemoveTopic(ctx, "world"); err != nil {
			t.Fatal(err)
		}
		defer s.AddSlugs(ctx, []string{"world"}, nil)
		if err := s.SetPartnerState(ctx, p.ID, PartnerActive, ""); err != nil {
			t.Fatalf("enable with a removed topic = %v", err)
		}
		if _, err := s.CreatePartner(ctx, Partner{Name: "b", URL: "https://b.example/", Topics: []string{"world"}}); fields(err) != "topics" {
			t.Fatalf("new partner with a removed topic = %v", err)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		tests := []struct {
			name string
			p    Partner
			want string
		}{
			{"no name", Partner{URL: "https://a.example/"}, "name"},
			{"no url", Partner{Name: "a"}, "url"},
			// The sender decides later whether plain http may be dialled.
			{"ftp url", Partner{Name: "a", URL: "ftp://a.example/"}, "url"},
			{"no host", Partner{Name: "a", URL: "https:///x"}, "url"},
			{"credentials", Partner{Name: "a", URL: "https://u:p@a.example/"}, "url"},
			{"unknown event", Partner{Name: "a", URL: "https://a.example/", Events: []flashwire.EventType{"alert.deleted"}}, "events"},
			{"unknown topic", Partner{Name: "a", URL: "https://a.example/", Topics: []string{"gossip"}}, "topics"},
			{"all", Partner{Name: strings.Repeat("n", MaxPartnerName+1), URL: "x", Regions: []string{"mars"}, Languages: []string{"-"}, MinPriority: "low", Contact: strings.Repeat("c", MaxContact+1)},
				"name,url,regions,languages,min_priority,contact"},
		}
		for _, tt := range tests {
			if _, err := s.CreatePartner(ctx, tt.p); fields(err) != tt.want {
				t.Errorf("%s: fields %q (%v), want %q", tt.name, fields(err), err, tt.want)
			}
		}
		if list, _ := s.Partners(ctx); len(list) != 1 {
			t.Fatalf("refused partners were stored: %d", len(list))
		}
	})
	t.Run("delete", func(t *testing.T) {
		if err := s.DeletePartner(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := other.Partner(ctx, p.ID); !errors.Is(err, flashwire.ErrNotFound) {
			t.Fatalf("other instance still has the partner: %v", err)
		}
		if err := s.DeletePartner(ctx, p.ID); !errors.Is(err, flashwire.ErrNotFound) {
			t.Fatalf("second delete = %v", err)
		}
	})
}
