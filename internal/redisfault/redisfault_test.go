package redisfault_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
	"flashwire/internal/redisfault"
	"flashwire/internal/redistest"
)

func TestDown(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		// Answers are not failures.
		{"redis.Nil", redis.Nil, false},
		{"script error", redis.ErrNoScript, false},
		{"wrong type", fmt.Errorf("get: %w", errors.New("WRONGTYPE Operation against a key")), false},
		// The caller gave up: its own deadline, not the store.
		{"canceled", context.Canceled, false},
		// Failures to reach Redis.
		{"dial refused", refused, true},
		{"wrapped", fmt.Errorf("look up token: %w", refused), true},
		{"EOF", io.EOF, true},
		{"closed client", redis.ErrClosed, true},
		{"pool timeout", redis.ErrPoolTimeout, true},
		// Classified once is not classified again.
		{"already", fmt.Errorf("x: %w", flashwire.ErrUnavailable), false},
	}
	for _, tt := range tests {
		if got := redisfault.Down(tt.err); got != tt.want {
			t.Errorf("%s: Down(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

// TestInstall stops a real redis-server under a client with the hook (as
// every redistest client has): single commands and pipelines fail with
// ErrUnavailable and a wait, and answers such as redis.Nil are untouched
// while it runs.
func TestInstall(t *testing.T) {
	srv, rdb := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rdb.Get(ctx, "missing").Err(); !errors.Is(err, redis.Nil) || errors.Is(err, flashwire.ErrUnavailable) {
		t.Fatalf("GET of a missing key = %v, want redis.Nil alone", err)
	}
	srv.Stop()
	err := rdb.Get(ctx, "k").Err()
	if !errors.Is(err, flashwire.ErrUnavailable) {
		t.Fatalf("GET with redis stopped = %v, want ErrUnavailable", err)
	}
	if d, ok := flashwire.RetryAfter(err); !ok || d != redisfault.Retry {
		t.Errorf("RetryAfter = %v, %v; want %v", d, ok, redisfault.Retry)
	}
	var kind *flashwire.Error
	if !errors.As(err, &kind) || kind.Message != "the data store is unavailable; try again in a few seconds" {
		t.Errorf("the kind's message %v, want one that names no address", kind)
	}
	var pipeGet *redis.StringCmd
	_, err = rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		pipeGet = p.Get(ctx, "k")
		return nil
	})
	if !errors.Is(err, flashwire.ErrUnavailable) || !errors.Is(pipeGet.Err(), flashwire.ErrUnavailable) {
		t.Errorf("pipeline with redis stopped = %v (command %v), want ErrUnavailable for both", err, pipeGet.Err())
	}
}
