package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// Idempotency-Key: a client that retries a POST with the same key gets the
// first answer again instead of a second alert. Keys are per token, kept
// idempotencyTTL, and bound to the request they came with:
//
//	flashwire:v1:{idem}:SHA256(TOKEN ID, KEY)  JSON storedResponse
const (
	keyIdempotency = "flashwire:v1:{idem}:"
	idempotencyTTL = 24 * time.Hour
	maxIdemKey     = 255
)

var (
	errIdempotencyInProgress = flashwire.NewError(flashwire.ErrConflict, "a request with this Idempotency-Key is still being answered; retry shortly")
	errIdempotencyMismatch   = flashwire.NewError(flashwire.ErrConflict, "this Idempotency-Key was used with a different request")
)

// storedResponse is a remembered answer, or "pending" while the first
// request runs.
type storedResponse struct {
	State       string `json:"state"`
	Fingerprint string `json:"fingerprint"`
	Status      int    `json:"status,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Body        []byte `json:"body,omitempty"`
}

// idempotent answers a repeated Idempotency-Key with the stored response.
// Only successes are kept: after a refusal (a 400 to fix, a 409 or 429
// from the guards, a 5xx) the same key may be sent again, with the request
// corrected, and is evaluated afresh. It must sit inside requireRole: keys
// belong to the caller's token.
func (s *Server) idempotent(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" || r.URL.Query().Get("dry_run") == "true" {
			h.ServeHTTP(w, r)
			return
		}
		if len(key) > maxIdemKey {
			writeError(w, r, flashwire.Invalid("Idempotency-Key", "is longer than %d characters", maxIdemKey))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			writeError(w, r, decodeError(err))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		fp := sha256.Sum256(append([]byte(r.Method+" "+r.URL.RequestURI()+"\n"), body...))
		fingerprint := hex.EncodeToString(fp[:])
		ks := sha256.Sum256([]byte(caller(r.Context()).ID + "\n" + key))
		rkey := keyIdempotency + hex.EncodeToString(ks[:])
		ctx := r.Context()

		pending, _ := json.Marshal(storedResponse{State: "pending", Fingerprint: fingerprint})
		first, err := s.cfg.Redis.SetNX(ctx, rkey, pending, idempotencyTTL).Result()
		if err != nil {
			writeError(w, r, fmt.Errorf("claim idempotency key: %w", err))
			return
		}
		if !first {
			raw, err := s.cfg.Redis.Get(ctx, rkey).Bytes()
			if errors.Is(err, redis.Nil) {
				writeError(w, r, errIdempotencyInProgress)
				return
			}
			if err != nil {
				writeError(w, r, fmt.Errorf("load idempotency key: %w", err))
				return
			}
			var prev storedResponse
			if err := json.Unmarshal(raw, &prev); err != nil {
				writeError(w, r, fmt.Errorf("decode idempotency key: %w", err))
				return
			}
			switch {
			case prev.Fingerprint != fingerprint:
				writeError(w, r, errIdempotencyMismatch)
			case prev.State == "pending":
				writeError(w, r, errIdempotencyInProgress)
			default:
				w.Header().Set("Content-Type", prev.ContentType)
				w.Header().Set("Idempotent-Replayed", "true")
				w.WriteHeader(prev.Status)
				_, _ = w.Write(prev.Body)
			}
			return
		}

		rec := &bufferedWriter{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		store := context.WithoutCancel(ctx)
		if rec.status/100 != 2 {
			_ = s.cfg.Redis.Del(store, rkey).Err()
		} else {
			done, _ := json.Marshal(storedResponse{State: "done", Fingerprint: fingerprint, Status: rec.status,
				ContentType: rec.header.Get("Content-Type"), Body: rec.body.Bytes()})
			_ = s.cfg.Redis.Set(store, rkey, done, redis.KeepTTL).Err()
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
	})
}

// bufferedWriter holds a whole response so that it can be stored before it
// is sent.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
