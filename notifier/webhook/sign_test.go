package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func TestNewSecret(t *testing.T) {
	s := NewSecret()
	raw, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		t.Fatalf("secret %q lacks whsec_", s)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) < 24 {
		t.Fatalf("secret key is %d bytes (%v); at least 24 required", len(key), err)
	}
	if NewSecret() == s {
		t.Fatal("two secrets are equal")
	}
}

func TestSignVerifiesWithOfficialLibrary(t *testing.T) {
	oldSecret, newSecret := NewSecret(), NewSecret()
	body := []byte(`{"type":"alert.published","timestamp":"2026-11-26T22:00:00Z","data":{"id":"1-0"}}`)
	now := time.Now()
	tests := []struct {
		name    string
		signs   []string // secrets that sign
		checks  string   // secret the partner verifies with
		wantErr bool
	}{
		// The usual case: one secret.
		{"OK", []string{newSecret}, newSecret, false},
		// During a rotation a partner still on the old secret verifies.
		{"RotationOld", []string{newSecret, oldSecret}, oldSecret, false},
		// And one already on the new secret too.
		{"RotationNew", []string{newSecret, oldSecret}, newSecret, false},
		// After the grace period the old secret no longer verifies.
		{"ErrRevoked", []string{newSecret}, oldSecret, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig, err := Sign("msg_1-0_pt_1", now, body, tt.signs...)
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			h.Set("webhook-id", "msg_1-0_pt_1")
			h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
			h.Set("webhook-signature", sig)
			wh, err := standardwebhooks.NewWebhook(tt.checks)
			if err != nil {
				t.Fatal(err)
			}
			err = wh.Verify(body, h)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Verify = %v, want error %v", err, tt.wantErr)
			}
			// The same bytes with one changed must never verify.
			changed := append([]byte(nil), body...)
			changed[len(changed)-2] = ' '
			if err := wh.Verify(changed, h); err == nil {
				t.Fatal("a changed body verified")
			}
		})
	}
}

// TestSignSpecVector checks the construction independently of the official
// library, straight from the specification: HMAC-SHA256 keyed with the
// base64-decoded secret over "msg_id.timestamp.body", base64, "v1," prefix.
func TestSignSpecVector(t *testing.T) {
	// The example of the Standard Webhooks test suites.
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	id := "msg_p5jXN8AQM9LWM0D4loKWxJek"
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	got, err := Sign(id, ts, body, secret)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := base64.StdEncoding.DecodeString("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + ".1614265330." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	if want != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("independent signature %s differs from the specification's example", want)
	}
}
