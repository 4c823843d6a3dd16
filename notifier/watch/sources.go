package watch

import (
	"context"
	"time"
)

// Sources returns every source with its state, oldest first.
func (w *Watcher) Sources(ctx context.Context) ([]Source, error) {
	all, err := w.store.all(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if err := w.withState(ctx, &all[i]); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// Source returns one source with its state.
func (w *Watcher) Source(ctx context.Context, id string) (Source, error) {
	s, err := w.store.get(ctx, id)
	if err != nil {
		return Source{}, err
	}
	return s, w.withState(ctx, &s)
}

func (w *Watcher) withState(ctx context.Context, s *Source) error {
	st, err := w.store.state(ctx, s.ID)
	if err != nil {
		return err
	}
	now := w.cfg.Now()
	if sched, err := ParseSchedule(s.Schedule); err == nil {
		// The poller's own next tick, as it recorded it; else this
		// instance's schedule; else the schedule's next time from now.
		if !st.NextRun.After(now) {
			st.NextRun = w.nextTick(s.ID)
		}
		if !st.NextRun.After(now) {
			st.NextRun = sched.Next(now)
		}
		st.NextRun = st.NextRun.UTC()
		if st.BackoffUntil.After(now) {
			// The first scheduled run after the backoff ends.
			st.NextRun = sched.Next(st.BackoffUntil.Add(-time.Nanosecond)).UTC()
		}
	}
	s.State = &st
	return nil
}

// CreateSource validates s against the taxonomy, stores it and schedules
// it on every instance.
func (w *Watcher) CreateSource(ctx context.Context, s Source) (Source, error) {
	s.ID = ""
	if err := w.checkSource(ctx, &s); err != nil {
		return Source{}, err
	}
	s.ID = newID()
	s.CreatedAt = w.cfg.Now().UTC().Truncate(time.Millisecond)
	s.UpdatedAt = s.CreatedAt
	if err := w.store.put(ctx, s); err != nil {
		return Source{}, err
	}
	w.reloadNow(ctx)
	return w.Source(ctx, s.ID)
}

// UpdateSource applies p to a source. A new URL starts its fetch state
// afresh.
func (w *Watcher) UpdateSource(ctx context.Context, id string, p SourcePatch) (Source, error) {
	s, err := w.store.get(ctx, id)
	if err != nil {
		return Source{}, err
	}
	oldURL := s.URL
	p.Apply(&s)
	if err := w.checkSource(ctx, &s); err != nil {
		return Source{}, err
	}
	s.UpdatedAt = w.cfg.Now().UTC().Truncate(time.Millisecond)
	if !s.UpdatedAt.After(s.CreatedAt) {
		s.UpdatedAt = s.CreatedAt.Add(time.Millisecond)
	}
	if s.URL != oldURL {
		w.cfg.Redis.HDel(ctx, keyState+id, "etag", "last_modified", "backoff_until", "failures")
	}
	// The next tick recorded was the old schedule's.
	w.cfg.Redis.HDel(ctx, keyState+id, "next_run")
	if err := w.store.put(ctx, s); err != nil {
		return Source{}, err
	}
	w.reloadNow(ctx)
	return w.Source(ctx, s.ID)
}

// DeleteSource stops watching a source. Its stories' records stay, so
// adding it back does not push them again.
func (w *Watcher) DeleteSource(ctx context.Context, id string) error {
	if err := w.store.delete(ctx, id); err != nil {
		return err
	}
	w.reloadNow(ctx)
	return nil
}

// reloadNow brings this instance's schedules in step at once; the others
// follow on the change message.
func (w *Watcher) reloadNow(ctx context.Context) {
	if err := w.reload(ctx); err != nil {
		w.cfg.Logger.Warn("watch: reload sources", "error", err.Error())
	}
}
