package redistest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestStart(t *testing.T) {
	srv, rdb := Start(t)
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("set on %s: %v", srv.Addr, err)
	}
	if got := rdb.Get(ctx, "k").Val(); got != "v" {
		t.Fatalf("get = %q, want v", got)
	}
	srv.Stop()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("ping after Stop succeeded; the server should be gone")
	}
}

// TestRestart writes to an append-only server with a password, kills it
// and starts it again: the write is back, on the same address, and a
// client without the password is refused.
func TestRestart(t *testing.T) {
	srv, rdb := StartWith(t, Options{Password: "s3cret-for-tests", AppendOnly: true})
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Redis writes the append-only file before it answers, so a kill
	// (not a power cut) loses no acknowledged write.
	srv.Stop()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("ping after Stop succeeded")
	}
	srv.Restart(t)
	if got := rdb.Get(ctx, "k").Val(); got != "v" {
		t.Fatalf("after restart get = %q, want v from the append-only file", got)
	}
	anon := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer anon.Close()
	if err := anon.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("ping without the password = %v, want NOAUTH", err)
	}
	if !strings.Contains(srv.URL(), ":s3cret-for-tests@") {
		t.Fatalf("URL %q lacks the password", srv.URL())
	}
}

func TestStartCluster(t *testing.T) {
	c, rdb := StartCluster(t)
	if len(c.Nodes) != 3 {
		t.Fatalf("nodes = %d, want 3", len(c.Nodes))
	}
	ctx := context.Background()
	// Keys spread over every master: each must take writes.
	for i := range 100 {
		if err := rdb.Set(ctx, fmt.Sprintf("key-%d", i), i, 0).Err(); err != nil {
			t.Fatalf("set key-%d: %v", i, err)
		}
	}
	// ForEachMaster calls back concurrently.
	var masters atomic.Int32
	err := rdb.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		masters.Add(1)
		n, err := m.DBSize(ctx).Result()
		if err == nil && n == 0 {
			return fmt.Errorf("master %s holds no keys", m.Options().Addr)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if masters.Load() != 3 {
		t.Fatalf("masters = %d, want 3", masters.Load())
	}
}
