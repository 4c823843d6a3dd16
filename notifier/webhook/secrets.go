package webhook

import (
	"context"
	"fmt"
	"strconv"
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
type Secrets struct {
	rdb redis.UniversalClient
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// NewSecrets returns the secrets kept in rdb.
func NewSecrets(rdb redis.UniversalClient) *Secrets {
	return &Secrets{rdb: rdb, Now: time.Now}
}

func keySecret(partnerID string) string { return keyPrefix + "secret:" + partnerID }

// Create gives the partner a new signing secret and returns it: this is the
// only time it is shown. An existing secret is replaced at once.
func (s *Secrets) Create(ctx context.Context, partnerID string) (string, error) {
	secret := NewSecret()
	if err := s.rdb.HSet(ctx, keySecret(partnerID), "current", secret, "previous", "", "until", 0).Err(); err != nil {
		return "", fmt.Errorf("store secret of partner %s: %w", partnerID, err)
	}
	return secret, nil
}

// rotateScript moves the current secret to previous until ARGV[3] and sets
// the new one. KEYS: secret hash. ARGV: new secret, grace > 0 ("1"/"0"),
// until (unix ms).
var rotateScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'current')
if not cur or ARGV[2] == '0' then cur = '' end
redis.call('HSET', KEYS[1], 'current', ARGV[1], 'previous', cur, 'until', ARGV[3])
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
	if err := rotateScript.Run(ctx, s.rdb, []string{keySecret(partnerID)}, secret, keep, until).Err(); err != nil {
		return "", fmt.Errorf("rotate secret of partner %s: %w", partnerID, err)
	}
	return secret, nil
}

// RevokePrevious stops the rotated-out secret from signing now, before its
// grace period ends.
func (s *Secrets) RevokePrevious(ctx context.Context, partnerID string) error {
	if err := s.rdb.HSet(ctx, keySecret(partnerID), "previous", "", "until", 0).Err(); err != nil {
		return fmt.Errorf("revoke previous secret of partner %s: %w", partnerID, err)
	}
	return nil
}

// Signing returns the secrets that sign the partner's messages now: the
// current one, then the previous one while its grace lasts.
func (s *Secrets) Signing(ctx context.Context, partnerID string) ([]string, error) {
	h, err := s.rdb.HGetAll(ctx, keySecret(partnerID)).Result()
	if err != nil {
		return nil, fmt.Errorf("load secret of partner %s: %w", partnerID, err)
	}
	if h["current"] == "" {
		return nil, fmt.Errorf("load secret of partner %s: %w", partnerID, ErrNoSecret)
	}
	out := []string{h["current"]}
	until, _ := strconv.ParseInt(h["until"], 10, 64)
	if h["previous"] != "" && s.Now().UnixMilli() < until {
		out = append(out, h["previous"])
	}
	return out, nil
}
