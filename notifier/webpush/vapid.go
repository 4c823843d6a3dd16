package webpush

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Keys is the VAPID key pair (RFC 8292) every instance signs its pushes
// with, base64url without padding: the P-256 public key, uncompressed (65
// bytes), which browsers subscribe with, and the private scalar (32 bytes).
type Keys struct {
	Public  string
	Private string
}

// keyVAPID holds the pair generated on first start, "PUBLIC PRIVATE".
const keyVAPID = "flashwire:v1:{webpush}:vapid"

// ParseKeys checks a configured key pair: both base64url, the public key
// a point of P-256 and the one the private key makes. Its error names the
// half at fault ("public" or "private").
func ParseKeys(public, private string) (Keys, error) {
	pub, err := decodeKey(public)
	if err != nil {
		return Keys{}, fmt.Errorf("public key: %w", err)
	}
	if _, err := ecdh.P256().NewPublicKey(pub); err != nil || len(pub) != 65 {
		return Keys{}, errors.New("public key: is not an uncompressed P-256 point (65 bytes, base64url)")
	}
	priv, err := decodeKey(private)
	if err != nil {
		return Keys{}, fmt.Errorf("private key: %w", err)
	}
	key, err := ecdh.P256().NewPrivateKey(priv)
	if err != nil {
		return Keys{}, errors.New("private key: is not a P-256 private key (32 bytes, base64url)")
	}
	if string(key.PublicKey().Bytes()) != string(pub) {
		return Keys{}, errors.New("private key: does not belong to the public key")
	}
	enc := base64.RawURLEncoding
	return Keys{Public: enc.EncodeToString(pub), Private: enc.EncodeToString(priv)}, nil
}

func decodeKey(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(s), "="))
	if err != nil {
		return nil, errors.New("is not base64url")
	}
	return b, nil
}

// LoadKeys returns the installation's key pair, generating and storing it
// on first start: SET NX makes the first instance's pair everyone's.
func LoadKeys(ctx context.Context, rdb redis.UniversalClient) (Keys, error) {
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return Keys{}, fmt.Errorf("generate VAPID keys: %w", err)
	}
	enc := base64.RawURLEncoding
	fresh := enc.EncodeToString(key.PublicKey().Bytes()) + " " + enc.EncodeToString(key.Bytes())
	if err := rdb.SetNX(ctx, keyVAPID, fresh, 0).Err(); err != nil {
		return Keys{}, fmt.Errorf("store VAPID keys: %w", err)
	}
	stored, err := rdb.Get(ctx, keyVAPID).Result()
	if err != nil {
		return Keys{}, fmt.Errorf("load VAPID keys: %w", err)
	}
	public, private, _ := strings.Cut(stored, " ")
	keys, err := ParseKeys(public, private)
	if err != nil {
		return Keys{}, fmt.Errorf("stored VAPID keys: %w", err)
	}
	return keys, nil
}

// CheckSubject returns what is wrong with a VAPID subject, the contact a
// push service writes to about this sender, or "" when it is a mailto: or
// https: URL.
func CheckSubject(s string) string {
	switch {
	case strings.HasPrefix(s, "mailto:") && strings.Contains(s, "@") && !strings.ContainsAny(s, " \t\n"):
		return ""
	case strings.HasPrefix(s, "https://") && len(s) > len("https://") && !strings.ContainsAny(s, " \t\n"):
		return ""
	}
	return "is not a mailto: or https: contact such as mailto:newsdesk@example.com"
}
