package redistest

import (
	"context"
	"fmt"
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
