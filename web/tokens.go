package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// Role is what a token may do. Admins may do everything editors may.
type Role string

// The roles.
const (
	RoleEditor Role = "editor"
	RoleAdmin  Role = "admin"
)

// allows reports whether a token with role r may act as need.
func (r Role) allows(need Role) bool {
	return r == RoleAdmin || r == need
}

// ParseRole returns the role named s, or an error naming the field "role".
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleEditor, RoleAdmin:
		return r, nil
	}
	return "", flashwire.Invalid("role", "%q is not one of editor, admin", s)
}

// Token is an API token as listed: never its secret.
type Token struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	// Hash is the hex SHA-256 of the secret; the secret itself is never kept.
	Hash string `json:"-"`
}

// storedToken is the JSON kept in Redis.
type storedToken struct {
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	Hash      string    `json:"hash"`
}

var errTokenNotFound = flashwire.NewError(flashwire.ErrNotFound, "token not found")

const (
	keyTokens       = "flashwire:v1:{tokens}:all"
	keyTokensByHash = "flashwire:v1:{tokens}:by-hash"
	tokenPrefix     = "fw_"
	maxTokenName    = 100
	bootstrapID     = "bootstrap"
)

// Tokens keeps API tokens, hashed, in Redis, and recognises the bootstrap
// admin token from the configuration.
type Tokens struct {
	rdb redis.UniversalClient
	// bootstrap is the SHA-256 of FLASHWIRE_ADMIN_TOKEN, or nil.
	bootstrap []byte
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// NewTokens returns the token store on rdb. A non-empty bootstrapSecret is
// accepted as an admin token named "bootstrap".
func NewTokens(rdb redis.UniversalClient, bootstrapSecret string) *Tokens {
	t := &Tokens{rdb: rdb, Now: time.Now}
	if bootstrapSecret != "" {
		h := sha256.Sum256([]byte(bootstrapSecret))
		t.bootstrap = h[:]
	}
	return t
}

// NewSecret returns a fresh random token secret.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// Create stores a new token and returns it with its secret, which is shown
// this once and never again.
func (t *Tokens) Create(ctx context.Context, name string, role Role) (Token, string, error) {
	name = strings.TrimSpace(name)
	var bad flashwire.InvalidError
	bad.RequiredText("name", name, maxTokenName)
	if _, err := ParseRole(string(role)); err != nil {
		bad.Add("role", "%q is not one of editor, admin", role)
	}
	if err := bad.Err(); err != nil {
		return Token{}, "", err
	}
	secret := NewSecret()
	sum := sha256.Sum256([]byte(secret))
	idBytes := make([]byte, 8)
	_, _ = rand.Read(idBytes)
	tok := Token{
		ID:        "tok_" + hex.EncodeToString(idBytes),
		Name:      name,
		Role:      role,
		CreatedAt: t.Now().UTC().Truncate(time.Second),
		Hash:      hex.EncodeToString(sum[:]),
	}
	body, err := json.Marshal(storedToken{Name: tok.Name, Role: tok.Role, CreatedAt: tok.CreatedAt, Hash: tok.Hash})
	if err != nil {
		return Token{}, "", fmt.Errorf("encode token: %w", err)
	}
	_, err = t.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, keyTokens, tok.ID, body)
		p.HSet(ctx, keyTokensByHash, tok.Hash, tok.ID)
		return nil
	})
	if err != nil {
		return Token{}, "", fmt.Errorf("store token %s: %w", tok.ID, err)
	}
	return tok, secret, nil
}

// List returns every stored token, oldest first.
func (t *Tokens) List(ctx context.Context) ([]Token, error) {
	all, err := t.rdb.HGetAll(ctx, keyTokens).Result()
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out := make([]Token, 0, len(all))
	for id, body := range all {
		tok, err := decodeToken(id, body)
		if err != nil {
			return nil, err
		}
		out = append(out, tok)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Revoke deletes the token with the given id; it stops working at once.
func (t *Tokens) Revoke(ctx context.Context, id string) error {
	body, err := t.rdb.HGet(ctx, keyTokens, id).Result()
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("revoke token %s: %w", id, errTokenNotFound)
	}
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	tok, err := decodeToken(id, body)
	if err != nil {
		return err
	}
	_, err = t.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, keyTokens, id)
		p.HDel(ctx, keyTokensByHash, tok.Hash)
		return nil
	})
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	return nil
}

// Authenticate returns the token whose secret is given, or errUnauthorized.
func (t *Tokens) Authenticate(ctx context.Context, secret string) (Token, error) {
	if secret == "" || len(secret) > 200 {
		return Token{}, errUnauthorized
	}
	sum := sha256.Sum256([]byte(secret))
	if t.bootstrap != nil && subtle.ConstantTimeCompare(sum[:], t.bootstrap) == 1 {
		return Token{ID: bootstrapID, Name: bootstrapID, Role: RoleAdmin}, nil
	}
	hash := hex.EncodeToString(sum[:])
	id, err := t.rdb.HGet(ctx, keyTokensByHash, hash).Result()
	if errors.Is(err, redis.Nil) {
		return Token{}, errUnauthorized
	}
	if err != nil {
		return Token{}, fmt.Errorf("look up token: %w", err)
	}
	body, err := t.rdb.HGet(ctx, keyTokens, id).Result()
	if errors.Is(err, redis.Nil) {
		return Token{}, errUnauthorized
	}
	if err != nil {
		return Token{}, fmt.Errorf("load token %s: %w", id, err)
	}
	tok, err := decodeToken(id, body)
	if err != nil {
		return Token{}, err
	}
	// The lookup went by hash; comparing again in constant time keeps the
	// check itself free of timing differences whatever Redis does.
	if subtle.ConstantTimeCompare([]byte(tok.Hash), []byte(hash)) != 1 {
		return Token{}, errUnauthorized
	}
	return tok, nil
}

func decodeToken(id, body string) (Token, error) {
	var st storedToken
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return Token{}, fmt.Errorf("decode token %s: %w", id, err)
	}
	return Token{ID: id, Name: st.Name, Role: st.Role, CreatedAt: st.CreatedAt, Hash: st.Hash}, nil
}
