package notifier

import (
	"context"
	"fmt"
	"time"

	"flashwire/internal/invalid"
)

// Service publishes alerts: it validates them and appends them to the log,
// from which every channel takes them.
type Service struct {
	log      *Log
	taxonomy Taxonomy
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// NewService returns a Service writing to log and checking topics and regions
// against taxonomy.
func NewService(log *Log, taxonomy Taxonomy) *Service {
	return &Service{log: log, taxonomy: taxonomy, Now: time.Now}
}

// Log returns the alert log the service writes to.
func (s *Service) Log() *Log { return s.log }

// Check normalizes a and returns an *invalid.Error naming every field at
// fault, or nil.
func (s *Service) Check(ctx context.Context, a *Alert) error {
	a.Normalize()
	topics, regions, err := s.taxonomy.KnownSlugs(ctx)
	if err != nil {
		return fmt.Errorf("load taxonomy: %w", err)
	}
	var bad invalid.Error
	a.Validate(&bad, topics, regions)
	return bad.Err()
}

// Publish checks a, stamps it and appends it to the log. The returned alert
// carries its id and publish time.
func (s *Service) Publish(ctx context.Context, a Alert) (Alert, error) {
	if err := s.Check(ctx, &a); err != nil {
		return Alert{}, err
	}
	a.PublishedAt = s.Now().UTC().Truncate(time.Millisecond)
	a.UpdatedAt = time.Time{}
	a.Retracted = false
	ev, err := s.log.Append(ctx, Event{Type: Published, Alert: a})
	if err != nil {
		return Alert{}, fmt.Errorf("publish %q: %w", a.Headline, err)
	}
	return ev.Alert, nil
}
