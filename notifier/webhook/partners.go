package webhook

import (
	"context"
	"fmt"
	"time"

	"flashwire"
	"flashwire/subscribers"
)

// partnerStore is what the directory needs of subscribers.Store.
type partnerStore interface {
	MatchPartners(ctx context.Context, event flashwire.EventType, a flashwire.Attrs, now time.Time) ([]subscribers.Partner, error)
	SetPartnerState(ctx context.Context, id, state, reason string) error
	Partners(ctx context.Context) ([]subscribers.Partner, error)
}

// StoreDirectory is the Directory of the partners kept by subscribers.
type StoreDirectory struct {
	store partnerStore
}

// NewStoreDirectory returns the directory of store's partners.
func NewStoreDirectory(store partnerStore) *StoreDirectory {
	return &StoreDirectory{store: store}
}

// Match returns the active partners that want ev, by the one matching
// rule. An update that changed the alert's targeting goes as an update to
// partners it matched before and matches now, as alert.published (with the
// updated alert) to those it newly matches, and as alert.retracted to those
// it no longer matches; each partner gets it only if it asked for that
// event type.
func (d *StoreDirectory) Match(ctx context.Context, ev flashwire.Event, now time.Time) ([]Target, error) {
	if ev.Type != flashwire.Updated || ev.Previous == nil {
		ps, err := d.store.MatchPartners(ctx, ev.Type, ev.Alert.Attrs(), now)
		if err != nil {
			return nil, err
		}
		out := make([]Target, len(ps))
		for i, p := range ps {
			out[i] = Target{ID: p.ID, URL: p.URL, State: p.State, Event: ev.Type}
		}
		return out, nil
	}
	ps, err := d.store.Partners(ctx)
	if err != nil {
		return nil, err
	}
	var out []Target
	for _, p := range ps {
		if typ, attrs, ok := updateFor(p, ev, now); ok && p.Wants(typ, attrs, now) {
			out = append(out, Target{ID: p.ID, URL: p.URL, State: p.State, Event: typ})
		}
	}
	return out, nil
}

// updateFor returns the event type an update ev with a previous targeting
// is for partner p, and the targeting that type is judged by; ok is false
// when neither version is for p.
func updateFor(p subscribers.Partner, ev flashwire.Event, now time.Time) (flashwire.EventType, flashwire.Attrs, bool) {
	prefs := p.Preferences()
	attrs := ev.Alert.Attrs()
	matches, before := prefs.Matches(attrs, now), prefs.Matches(*ev.Previous, now)
	switch {
	case matches && before:
		return flashwire.Updated, attrs, true
	case matches:
		return flashwire.Published, attrs, true
	case before:
		return flashwire.Retracted, *ev.Previous, true
	}
	return "", attrs, false
}

// Targets returns the partners with the given ids that still exist, from
// one look at the store.
func (d *StoreDirectory) Targets(ctx context.Context, ids []string) (map[string]Target, error) {
	ps, err := d.store.Partners(ctx)
	if err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	out := make(map[string]Target, len(ids))
	for _, p := range ps {
		if want[p.ID] {
			out[p.ID] = Target{ID: p.ID, URL: p.URL, State: p.State}
		}
	}
	return out, nil
}

// Disable marks the partner disabled with reason.
func (d *StoreDirectory) Disable(ctx context.Context, id, reason string) error {
	if err := d.store.SetPartnerState(ctx, id, subscribers.PartnerDisabled, reason); err != nil {
		return fmt.Errorf("disable partner %s: %w", id, err)
	}
	return nil
}

// Disabled counts the disabled partners, for the metric.
func (d *StoreDirectory) Disabled(ctx context.Context) (int, error) {
	ps, err := d.store.Partners(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range ps {
		if p.State == subscribers.PartnerDisabled {
			n++
		}
	}
	return n, nil
}
