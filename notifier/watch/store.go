package watch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

const (
	keySources = "flashwire:v1:{watch}:sources"
	keyState   = "flashwire:v1:{watch}:state:"
	keyLease   = "flashwire:v1:{watch}:lease:"
	keyStory   = "flashwire:v1:{watch}:story:"
	keyHeld    = "flashwire:v1:{watch}:held"
	// keyOutcomes lists a source's recent decisions on breaking stories,
	// keyEveryday its everyday items skipped as not flagged, each newest
	// first; keyDecided remembers each listed story's last outcome.
	keyOutcomes = "flashwire:v1:{watch}:outcomes:"
	keyEveryday = "flashwire:v1:{watch}:everyday:"
	keyDecided  = "flashwire:v1:{watch}:decided:"
	chanChange  = "flashwire:v1:{watch}:changed"
)

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "src_" + hex.EncodeToString(b)
}

// sourceStore reads and writes sources and their state.
type sourceStore struct {
	rdb redis.UniversalClient
}

func (st sourceStore) all(ctx context.Context) ([]Source, error) {
	m, err := st.rdb.HGetAll(ctx, keySources).Result()
	if err != nil {
		return nil, fmt.Errorf("load sources: %w", err)
	}
	out := make([]Source, 0, len(m))
	for id, raw := range m {
		var s Source
		if err := json.Unmarshal([]byte(raw), &s); err != nil {
			return nil, fmt.Errorf("load source %s: %w", id, err)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func (st sourceStore) get(ctx context.Context, id string) (Source, error) {
	raw, err := st.rdb.HGet(ctx, keySources, id).Result()
	if errors.Is(err, redis.Nil) {
		return Source{}, fmt.Errorf("source %s: %w", id, flashwire.ErrNotFound)
	}
	if err != nil {
		return Source{}, fmt.Errorf("load source %s: %w", id, err)
	}
	var s Source
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return Source{}, fmt.Errorf("load source %s: %w", id, err)
	}
	return s, nil
}

func (st sourceStore) put(ctx context.Context, s Source) error {
	s.State = nil
	raw, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("save source %s: %w", s.ID, err)
	}
	if err := st.rdb.HSet(ctx, keySources, s.ID, raw).Err(); err != nil {
		return fmt.Errorf("save source %s: %w", s.ID, err)
	}
	st.rdb.Publish(ctx, chanChange, s.ID)
	return nil
}

func (st sourceStore) delete(ctx context.Context, id string) error {
	n, err := st.rdb.HDel(ctx, keySources, id).Result()
	if err != nil {
		return fmt.Errorf("delete source %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("source %s: %w", id, flashwire.ErrNotFound)
	}
	st.rdb.Del(ctx, keyState+id, keyOutcomes+id, keyEveryday+id, keyDecided+id)
	st.rdb.Publish(ctx, chanChange, id)
	return nil
}

func (st sourceStore) state(ctx context.Context, id string) (State, error) {
	m, err := st.rdb.HGetAll(ctx, keyState+id).Result()
	if err != nil {
		return State{}, fmt.Errorf("load state of source %s: %w", id, err)
	}
	var s State
	s.LastSuccess = parseMillis(m["last_success"])
	s.LastError = m["last_error"]
	s.LastErrorAt = parseMillis(m["last_error_at"])
	s.Failures, _ = strconv.Atoi(m["failures"])
	s.ItemsSeen, _ = strconv.ParseInt(m["items_seen"], 10, 64)
	s.AlertsMade, _ = strconv.ParseInt(m["alerts_made"], 10, 64)
	s.BackoffUntil = parseMillis(m["backoff_until"])
	s.NextRun = parseMillis(m["next_run"])
	s.etag = m["etag"]
	s.lastModified = m["last_modified"]
	return s, nil
}

func parseMillis(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// recordSuccess notes a good fetch: the validators for the next
// conditional GET, the item count (unless unchanged), and no error.
func (st sourceStore) recordSuccess(ctx context.Context, id string, now time.Time, etag, lastModified string, items int, changed bool) {
	fields := map[string]any{
		"last_success": millis(now), "last_error": "", "last_error_at": "",
		"failures": 0, "backoff_until": "",
	}
	if changed {
		fields["etag"] = etag
		fields["last_modified"] = lastModified
		fields["items_seen"] = items
	}
	st.rdb.HSet(ctx, keyState+id, fields)
}

// recordError notes a failed fetch or parse and returns the backoff.
func (st sourceStore) recordError(ctx context.Context, id string, now time.Time, problem string, base time.Duration) time.Duration {
	n, err := st.rdb.HIncrBy(ctx, keyState+id, "failures", 1).Result()
	if err != nil {
		n = 1
	}
	d := backoff(base, int(n))
	st.rdb.HSet(ctx, keyState+id, "last_error", problem, "last_error_at", millis(now), "backoff_until", millis(now.Add(d)))
	return d
}

// maxBackoff caps the wait after repeated errors.
const maxBackoff = 30 * time.Minute

// backoff doubles from base with each failure in a row, up to maxBackoff.
func backoff(base time.Duration, failures int) time.Duration {
	d := base
	for i := 1; i < failures && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

func (st sourceStore) countAlert(ctx context.Context, id string) {
	st.rdb.HIncrBy(ctx, keyState+id, "alerts_made", 1)
}
