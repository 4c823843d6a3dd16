package webhook

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// DefaultGrace is how long a rotated-out secret keeps signing beside the new
// one, so partners can switch without losing a message.
const DefaultGrace = 24 * time.Hour

// ErrNoSecret means the partner has no signing secret.
var ErrNoSecret = flashwire.NewError(flashwire.ErrConflict, "partner has no signing secret")

// Secrets keeps partners' signing secrets. They are stored as they are, not
// hashed: signing needs the key itself.
//
// A Secrets that a Sender uses keeps them in memory too, so a delivery is
// signed without a round trip: every change bumps a version key, whichever
// instance makes it, and the sender's claims read that version (see
// claimScript) and hand it to observe, which drops the cache when it moved.
// A delivery claimed after a rotation or a revocation is therefore signed
// with the secrets as they are after it. A Secrets that has observed no
// version keeps nothing in memory.
type Secrets struct {
	rdb redis.UniversalClient
	// Now is the clock; tests replace it.
	Now func() time.Time

	mu sync.Mutex
	// version is the last version observed, -1 before any; gen counts the
	// times the cache was dropped; cache holds secrets read since the last
	// drop. All three are guarded by mu.
	version int64
	gen     uint64
	cache   map[string]stored
}

// stored is one partner's secrets as kept in Redis.
type stored struct {
	current, previous string
	until             int64 // unix ms
}

// NewSecrets returns the secrets kept in rdb.
func NewSecrets(rdb redis.UniversalClient) *Secrets {
	return &Secrets{rdb: rdb, Now: time.Now, version: -1}
}

func keySecret(partnerID string) string { return keyPrefix + "secret:" + partnerID }

// observe tells the cache the secrets' version read from Redis: when it
// differs from the last one observed, what was kept is dropped. Claims
// running side by side may observe versions out of order; that costs a
// drop more, never a stale secret (see load).
func (s *Secrets) observe(version int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if version != s.version {
		s.version = version
		s.drop()
	}
}

// changed drops this instance's cache at once after a change it made;
// other instances drop theirs at their next claim.
func (s *Secrets) changed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop()
}

// drop empties the cache; the caller holds mu.
func (s *Secrets) drop() {
	s.cache = nil
	s.gen++
}

// Create gives the partner a new signing secret and returns it: this is the
// only time it is shown. An existing secret is replaced at once.
func (s *Secrets) Create(ctx context.Context, partnerID string) (string, error) {
	secret := NewSecret()
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, keySecret(partnerID), "current", secret, "previous", "", "until", 0)
		p.Incr(ctx, keySecretsVersion)
		return nil
	})
	s.changed()
	if err != nil {
		return "", fmt.Errorf("store secret of partner %s: %w", partnerID, err)
	}
	return secret, nil
}

// rotateScript moves the current secret to previous until ARGV[3] and sets
// the new one. KEYS: secret hash, secrets version. ARGV: new secret, grace
// > 0 ("1"/"0"), until (unix ms).
var rotateScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'current')
if not cur or ARGV[2] == '0' then cur = '' end
redis.call('HSET', KEYS[1], 'current', ARGV[1], 'previous', cur, 'until', ARGV[3])
redis.call('INCR', KEYS[2])
return 1
`)

// Rotate gives the partner a new secret and returns it; the old one keeps
// signing beside it for grace (zero or less: revoked at once).
func (s *Secrets) Rotate(ctx context.Context, partnerID string, grace time.Duration) (string, error) {
	secret := NewSecret()
	keep := "1"
	if grace <= 0 {
		keep, grace = "0", 0
	}
	until := s.Now().Add(grace).UnixMilli()
	err := rotateScript.Run(ctx, s.rdb, []string{keySecret(partnerID), keySecretsVersion}, secret, keep, until).Err()
	s.changed()
	if err != nil {
		return "", fmt.Errorf("rotate secret of partner %s: %w", partnerID, err)
	}
	return secret, nil
}

// RevokePrevious stops the rotated-out secret from signing now, before its
// grace period ends.
func (s *Secrets) RevokePrevious(ctx context.Context, partnerID string) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, keySecret(partnerID), "previous", "", "until", 0)
		p.Incr(ctx, keySecretsVersion)
		return nil
	})
	s.changed()
	if err != nil {
		return fmt.Errorf("revoke previous secret of partner %s: %w", partnerID, err)
	}
	return nil
}

// Signing returns the secrets that sign the partner's messages now: the
// current one, then the previous one while its grace lasts.
func (s *Secrets) Signing(ctx context.Context, partnerID string) ([]string, error) {
	st, err := s.load(ctx, partnerID)
	if err != nil {
		return nil, err
	}
	if st.current == "" {
		return nil, fmt.Errorf("load secret of partner %s: %w", partnerID, ErrNoSecret)
	}
	out := []string{st.current}
	if st.previous != "" && s.Now().UnixMilli() < st.until {
		out = append(out, st.previous)
	}
	return out, nil
}

// load returns the partner's secrets from the cache, or from Redis. What
// Redis gives is kept only if the cache was not dropped meanwhile: it may
// have been read before the change that the drop answered.
func (s *Secrets) load(ctx context.Context, partnerID string) (stored, error) {
	s.mu.Lock()
	gen, observed := s.gen, s.version >= 0
	st, ok := s.cache[partnerID]
	s.mu.Unlock()
	if ok {
		return st, nil
	}
	h, err := s.rdb.HGetAll(ctx, keySecret(partnerID)).Result()
	if err != nil {
		return stored{}, fmt.Errorf("load secret of partner %s: %w", partnerID, err)
	}
	st = stored{current: h["current"], previous: h["previous"]}
	st.until, _ = strconv.ParseInt(h["until"], 10, 64)
	s.mu.Lock()
	if observed && s.gen == gen {
		if s.cache == nil {
			s.cache = map[string]stored{}
		}
		s.cache[partnerID] = st
	}
	s.mu.Unlock()
	return st, nil
}
