package notifier

import (
	"context"
	"errors"
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
	// MinGap is the newsroom-wide minimum time between non-flash alerts
	// sent with PublishWith; zero turns the guard off.
	MinGap time.Duration
	// ScheduleLease is how long an instance may take to publish a scheduled
	// alert it claimed before another instance claims it again; zero means
	// DefaultScheduleLease.
	ScheduleLease time.Duration
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
	a, _, err := s.publishChecked(ctx, a, "")
	return a, err
}

// publishChecked is Publish for an alert that passed Check, under the once
// key once ("" for none); repeat reports that once had already published
// the returned alert.
func (s *Service) publishChecked(ctx context.Context, a Alert, once string) (_ Alert, repeat bool, _ error) {
	a.PublishedAt = s.Now().UTC().Truncate(time.Millisecond)
	a.UpdatedAt = time.Time{}
	a.Retracted = false
	ev, repeat, err := s.log.AppendOnce(ctx, Event{Type: Published, Alert: a}, once)
	if err != nil {
		return Alert{}, false, fmt.Errorf("publish %q: %w", a.Headline, err)
	}
	return ev.Alert, repeat, nil
}

// published returns the alert once published, with ok false when none was.
func (s *Service) published(ctx context.Context, once string) (_ Alert, ok bool, _ error) {
	id, err := s.log.OnceID(ctx, once)
	if err != nil || id == "" {
		return Alert{}, false, err
	}
	a, err := s.log.Alert(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Alert{ID: id}, true, nil
	}
	if err != nil {
		return Alert{}, false, err
	}
	return a, true, nil
}

// Update replaces the text and targeting of the alert with the given id by
// a's, keeping its id and publish time, and appends an Updated event:
// browsers replace the banner, partners get alert.updated.
func (s *Service) Update(ctx context.Context, id string, a Alert) (Alert, error) {
	cur, err := s.log.Alert(ctx, id)
	if err != nil {
		return Alert{}, err
	}
	if cur.Retracted {
		return Alert{}, fmt.Errorf("update alert %s: %w", id, ErrRetracted)
	}
	if err := s.Check(ctx, &a); err != nil {
		return Alert{}, err
	}
	a.ID, a.PublishedAt = cur.ID, cur.PublishedAt
	a.UpdatedAt = s.Now().UTC().Truncate(time.Millisecond)
	ev, err := s.log.Append(ctx, Event{Type: Updated, Alert: a})
	if err != nil {
		return Alert{}, fmt.Errorf("update alert %s: %w", id, err)
	}
	return ev.Alert, nil
}

// Retract withdraws the alert with the given id and appends a Retracted
// event: browsers remove the banner, partners get alert.retracted.
// Retracting twice is an error, so a partner never gets two retractions.
func (s *Service) Retract(ctx context.Context, id string) (Alert, error) {
	cur, err := s.log.Alert(ctx, id)
	if err != nil {
		return Alert{}, err
	}
	if cur.Retracted {
		return Alert{}, fmt.Errorf("retract alert %s: %w", id, ErrRetracted)
	}
	cur.Retracted = true
	cur.UpdatedAt = s.Now().UTC().Truncate(time.Millisecond)
	ev, err := s.log.Append(ctx, Event{Type: Retracted, Alert: cur})
	if err != nil {
		return Alert{}, fmt.Errorf("retract alert %s: %w", id, err)
	}
	return ev.Alert, nil
}
