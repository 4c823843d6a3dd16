package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// secretPrefix marks a signing secret, as the Standard Webhooks libraries
// expect it.
const secretPrefix = "whsec_"

// secretBytes is the length of a generated key: the specification asks for
// 24 to 64 bytes.
const secretBytes = 32

// NewSecret returns a fresh signing secret: "whsec_" and the standard base64
// of 32 random bytes.
func NewSecret() string {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported systems.
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// secretKey returns the HMAC key of a "whsec_" secret.
func secretKey(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return nil, errors.New("signing secret lacks the whsec_ prefix")
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("decode signing secret: %w", err)
	}
	return key, nil
}

// Sign returns the webhook-signature header for one message: "v1," and the
// base64 HMAC-SHA256 of "id.timestamp.body" under each secret's key,
// space-separated, so a partner verifying with either the old or the new
// secret during a rotation succeeds.
func Sign(id string, ts time.Time, body []byte, secrets ...string) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("sign webhook: no signing secret")
	}
	prefix := id + "." + strconv.FormatInt(ts.Unix(), 10) + "."
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return "", fmt.Errorf("sign webhook %s: %w", id, err)
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(prefix))
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}
