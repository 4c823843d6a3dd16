package subscribers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// The states of a partner. Only active partners get webhooks.
const (
	PartnerActive   = "active"
	PartnerPaused   = "paused"
	PartnerDisabled = "disabled"
)

// Limits on a partner's fields.
const (
	MaxPartnerName = 100
	MaxContact     = 200
	MaxReason      = 500
)

// Partner is a site that receives signed webhooks for the alerts it wants.
// Its signing secrets are kept by the webhook sender, not here.
type Partner struct {
	ID             string                `json:"id"`
	Name           string                `json:"name"`
	URL            string                `json:"url"`
	Topics         []string              `json:"topics"`
	Regions        []string              `json:"regions"`
	Languages      []string              `json:"languages"`
	MinPriority    flashwire.Priority    `json:"min_priority"`
	Events         []flashwire.EventType `json:"events"`
	Contact        string                `json:"contact"`
	State          string                `json:"state"`
	DisabledReason string                `json:"disabled_reason,omitempty"`
	CreatedAt      time.Time             `json:"created_at"`
	UpdatedAt      time.Time             `json:"updated_at"`
}

// Preferences returns the partner's filters as preferences, so that the one
// matching rule applies.
func (p Partner) Preferences() Preferences {
	return Preferences{Topics: p.Topics, Regions: p.Regions, Languages: p.Languages, MinPriority: p.MinPriority}
}

// Wants reports whether the partner, in its current state, should get an
// event of the given type for an alert with attributes a at now.
func (p Partner) Wants(event flashwire.EventType, a flashwire.Attrs, now time.Time) bool {
	return p.State == PartnerActive && slices.Contains(p.Events, event) && p.Preferences().Matches(a, now)
}

// Normalize trims the partner's fields, lower-cases slugs, and asks for
// every event type when none is named.
func (p *Partner) Normalize() {
	p.Name = strings.TrimSpace(p.Name)
	p.URL = strings.TrimSpace(p.URL)
	p.Contact = strings.TrimSpace(p.Contact)
	p.DisabledReason = strings.TrimSpace(p.DisabledReason)
	p.Topics = flashwire.NormalizeSlugs(p.Topics)
	p.Regions = flashwire.NormalizeSlugs(p.Regions)
	p.Languages = normalizeLanguages(p.Languages)
	p.MinPriority = flashwire.Priority(strings.ToLower(strings.TrimSpace(string(p.MinPriority))))
	p.Events = normalizeEvents(p.Events)
	if len(p.Events) == 0 {
		p.Events = slices.Clone(flashwire.EventTypes)
	}
	if p.State == "" {
		p.State = PartnerActive
	}
	if p.State != PartnerDisabled {
		p.DisabledReason = ""
	}
}

// Validate records every problem with p's fields in bad. topics and
// regions are the known slugs.
func (p *Partner) Validate(bad *flashwire.InvalidError, topics, regions map[string]bool) {
	bad.RequiredText("name", p.Name, MaxPartnerName)
	if p.URL == "" {
		bad.Add("url", "is required")
	} else if problem := checkWebhookURL(p.URL); problem != "" {
		bad.Add("url", "%s", problem)
	}
	checkSlugs(bad, "topics", p.Topics, topics, "topic")
	checkSlugs(bad, "regions", p.Regions, regions, "region")
	checkLanguages(bad, "languages", p.Languages)
	checkPriority(bad, "min_priority", p.MinPriority)
	for _, e := range p.Events {
		if !slices.Contains(flashwire.EventTypes, e) {
			bad.Add("events", "%q is not one of alert.published, alert.updated, alert.retracted", e)
			break
		}
	}
	bad.Text("contact", p.Contact, MaxContact)
	switch p.State {
	case PartnerActive, PartnerPaused, PartnerDisabled:
	default:
		bad.Add("state", "%q is not one of active, paused, disabled", p.State)
	}
	bad.Text("disabled_reason", p.DisabledReason, MaxReason)
}

// normalizeEvents trims and lower-cases event types and drops empty
// entries and repeats.
func normalizeEvents(in []flashwire.EventType) []flashwire.EventType {
	out := make([]flashwire.EventType, 0, len(in))
	for _, e := range in {
		e = flashwire.EventType(strings.ToLower(strings.TrimSpace(string(e))))
		if e != "" && !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out
}

// checkWebhookURL returns what is wrong with a webhook URL, or "". Where
// it may point (https only, no private addresses) is decided when the
// sender dials.
func checkWebhookURL(s string) string {
	if problem := flashwire.CheckWebURL(s); problem != "" {
		return problem
	}
	u, _ := url.Parse(s) // CheckWebURL parsed it
	if u.Fragment != "" {
		return "must not have a #fragment"
	}
	return ""
}

// Partner keys: one hash of all partners (id -> JSON) and a version bumped
// by every change, in one slot so that both change in one transaction.
const (
	keyPartners       = "flashwire:v1:{partners}:all"
	keyPartnerVersion = "flashwire:v1:{partners}:version"
)

// partnerCache is one instance's copy of the partner list. Every read
// compares the version key in Redis (one GET) with the version the copy was
// loaded at, and reloads on a difference. That costs a round trip per look
// but, unlike a pub/sub subscription, cannot miss a change while a
// connection is down.
type partnerCache struct {
	mu      sync.Mutex // guards the fields below
	loaded  bool
	version int64
	list    []Partner
}

// Partners returns every partner, oldest first. The slices are shared:
// callers must not modify them.
func (s *Store) Partners(ctx context.Context) ([]Partner, error) {
	v, err := s.rdb.Get(ctx, keyPartnerVersion).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("load partner version: %w", err)
	}
	c := &s.partners
	c.mu.Lock()
	if c.loaded && c.version == v {
		list := c.list
		c.mu.Unlock()
		return list, nil
	}
	c.mu.Unlock()

	var ver *redis.StringCmd
	var all *redis.MapStringStringCmd
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		ver = p.Get(ctx, keyPartnerVersion)
		all = p.HGetAll(ctx, keyPartners)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("load partners: %w", err)
	}
	v, _ = ver.Int64()
	list := make([]Partner, 0, len(all.Val()))
	for id, raw := range all.Val() {
		var p Partner
		if err := json.Unmarshal([]byte(raw), &p); err != nil {
			return nil, fmt.Errorf("decode partner %s: %w", id, err)
		}
		list = append(list, p)
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].CreatedAt.Equal(list[j].CreatedAt) {
			return list[i].CreatedAt.Before(list[j].CreatedAt)
		}
		return list[i].ID < list[j].ID
	})
	c.mu.Lock()
	c.loaded, c.version, c.list = true, v, list
	c.mu.Unlock()
	return list, nil
}

// Partner returns the partner with the given id, or an error wrapping
// ErrNotFound.
func (s *Store) Partner(ctx context.Context, id string) (Partner, error) {
	list, err := s.Partners(ctx)
	if err != nil {
		return Partner{}, err
	}
	for _, p := range list {
		if p.ID == id {
			return p, nil
		}
	}
	return Partner{}, fmt.Errorf("load partner %s: %w", id, flashwire.ErrNotFound)
}

// MatchPartners returns the active partners that want an event of the given
// type for an alert with attributes a at now.
func (s *Store) MatchPartners(ctx context.Context, event flashwire.EventType, a flashwire.Attrs, now time.Time) ([]Partner, error) {
	list, err := s.Partners(ctx)
	if err != nil {
		return nil, err
	}
	var out []Partner
	for _, p := range list {
		if p.Wants(event, a, now) {
			out = append(out, p)
		}
	}
	return out, nil
}

// CheckPartner normalizes p and returns an *flashwire.InvalidError naming every
// field at fault, or nil.
func (s *Store) CheckPartner(ctx context.Context, p *Partner) error {
	return s.check(ctx, p)
}

// CreatePartner stores a new partner made of p's name, URL, filters, events
// and contact; it gets a fresh id and starts active.
func (s *Store) CreatePartner(ctx context.Context, p Partner) (Partner, error) {
	p.ID = newPartnerID()
	p.State, p.DisabledReason = PartnerActive, ""
	if err := s.CheckPartner(ctx, &p); err != nil {
		return Partner{}, err
	}
	now := s.Now().UTC().Truncate(time.Millisecond)
	p.CreatedAt, p.UpdatedAt = now, now
	data, err := json.Marshal(p)
	if err != nil {
		return Partner{}, fmt.Errorf("encode partner: %w", err)
	}
	_, err = s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.HSet(ctx, keyPartners, p.ID, data)
		pipe.Incr(ctx, keyPartnerVersion)
		return nil
	})
	if err != nil {
		return Partner{}, fmt.Errorf("create partner %q: %w", p.Name, err)
	}
	return p, nil
}

// UpdatePartner applies change to the stored partner with the given id and
// stores the result if it is valid. A concurrent change to any partner makes
// it read and apply again, so no change is lost.
func (s *Store) UpdatePartner(ctx context.Context, id string, change func(*Partner)) (Partner, error) {
	topics, regions, err := s.KnownSlugs(ctx)
	if err != nil {
		return Partner{}, err
	}
	var out Partner
	update := func(tx *redis.Tx) error {
		raw, err := tx.HGet(ctx, keyPartners, id).Bytes()
		if errors.Is(err, redis.Nil) {
			return fmt.Errorf("load partner %s: %w", id, flashwire.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("load partner %s: %w", id, err)
		}
		var p Partner
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("decode partner %s: %w", id, err)
		}
		// Slugs the partner already had stay acceptable after an admin
		// removed them from the taxonomy: disabling a partner, or changing
		// its URL, must not fail over a topic nobody changed.
		knownTopics, knownRegions := withSlugs(topics, p.Topics), withSlugs(regions, p.Regions)
		change(&p)
		p.ID = id
		p.Normalize()
		var bad flashwire.InvalidError
		p.Validate(&bad, knownTopics, knownRegions)
		if err := bad.Err(); err != nil {
			return err
		}
		p.UpdatedAt = s.Now().UTC().Truncate(time.Millisecond)
		data, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("encode partner: %w", err)
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.HSet(ctx, keyPartners, id, data)
			pipe.Incr(ctx, keyPartnerVersion)
			return nil
		})
		out = p
		return err
	}
	for range 20 {
		err = s.rdb.Watch(ctx, update, keyPartners)
		if !errors.Is(err, redis.TxFailedErr) {
			break
		}
	}
	if err != nil {
		return Partner{}, err
	}
	return out, nil
}

// SetPartnerState sets the partner's state (active, paused or disabled) and,
// for disabled, the reason shown to admins, cut to MaxReason characters.
func (s *Store) SetPartnerState(ctx context.Context, id, state, reason string) error {
	if r := []rune(strings.ToValidUTF8(reason, "?")); len(r) > MaxReason {
		reason = string(r[:MaxReason-1]) + "…"
	}
	_, err := s.UpdatePartner(ctx, id, func(p *Partner) {
		p.State, p.DisabledReason = state, reason
	})
	return err
}

// withSlugs returns known with slugs added, leaving known unchanged.
func withSlugs(known map[string]bool, slugs []string) map[string]bool {
	out := make(map[string]bool, len(known)+len(slugs))
	for k := range known {
		out[k] = true
	}
	for _, s := range slugs {
		out[s] = true
	}
	return out
}

// DeletePartner removes the partner. It returns an error wrapping
// ErrNotFound for an unknown id.
func (s *Store) DeletePartner(ctx context.Context, id string) error {
	var del *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		del = pipe.HDel(ctx, keyPartners, id)
		pipe.Incr(ctx, keyPartnerVersion)
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete partner %s: %w", id, err)
	}
	if del.Val() == 0 {
		return fmt.Errorf("delete partner %s: %w", id, flashwire.ErrNotFound)
	}
	return nil
}

func newPartnerID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "pt_" + hex.EncodeToString(b)
}
