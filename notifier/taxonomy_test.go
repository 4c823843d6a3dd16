package notifier

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"flashwire"
	"flashwire/internal/redistest"
	"flashwire/subscribers"
)

// commandCount counts the round trips a client makes: one per command, one
// per pipeline or transaction.
type commandCount struct{ n atomic.Int64 }

func (c *commandCount) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCount) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *commandCount) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// A publish checks the alert against the instance's copy of the taxonomy,
// and a topic removed or added on another instance counts on this one at
// once: the append compares the taxonomy's version in its own step.
func TestPublishTaxonomyAcrossInstances(t *testing.T) {
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		storeA, storeB := subscribers.NewStore(rdb), subscribers.NewStore(rdb)
		if err := storeA.Seed(ctx); err != nil {
			t.Fatal(err)
		}
		b := NewService(NewLog(rdb), storeB)
		publish := func(topic string, n int) error {
			a := validAlert()
			a.Topics = []string{topic}
			a.URL = fmt.Sprintf("https://news.example.com/taxonomy/%s/%d", topic, n)
			_, _, err := b.Publish(ctx, a, PublishOptions{})
			return err
		}
		// B reads its copy with "world" in it.
		if err := publish("world", 1); err != nil {
			t.Fatal(err)
		}
		if err := storeA.RemoveTopic(ctx, "world"); err != nil {
			t.Fatal(err)
		}
		var bad *flashwire.InvalidError
		if err := publish("world", 2); !errors.As(err, &bad) || len(bad.Fields) != 1 || bad.Fields[0].Field != "topics" {
			t.Fatalf("publish to a topic removed on another instance: err = %v, want topics invalid", err)
		}
		if err := storeA.AddSlugs(ctx, []string{"world", "elections"}, nil); err != nil {
			t.Fatal(err)
		}
		for i, topic := range []string{"world", "elections"} {
			if err := publish(topic, 3+i); err != nil {
				t.Errorf("publish to %q, added on another instance: %v", topic, err)
			}
		}
		// A publish on this instance's own removal is refused as well.
		if err := storeB.RemoveTopic(ctx, "elections"); err != nil {
			t.Fatal(err)
		}
		if err := publish("elections", 5); !errors.As(err, &bad) {
			t.Fatalf("publish to a topic removed on this instance: err = %v, want invalid", err)
		}
	})
}

// With the taxonomy's copy read, a publish is one round trip: the append.
func TestPublishIsOneRoundTrip(t *testing.T) {
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		store := subscribers.NewStore(rdb)
		if err := store.Seed(ctx); err != nil {
			t.Fatal(err)
		}
		svc := NewService(NewLog(rdb), store)
		a := validAlert()
		if _, _, err := svc.Publish(ctx, a, PublishOptions{}); err != nil {
			t.Fatal(err)
		}
		count := &commandCount{}
		rdb.AddHook(count)
		a.URL += "?second"
		a.Headline += " (second)"
		if _, _, err := svc.Publish(ctx, a, PublishOptions{}); err != nil {
			t.Fatal(err)
		}
		if n := count.n.Load(); n != 1 {
			t.Errorf("publish made %d round trips, want 1", n)
		}
	})
}

// BenchmarkPublishStore is BenchmarkPublish against the store's taxonomy,
// as an instance runs it.
func BenchmarkPublishStore(b *testing.B) {
	_, rdb := redistest.Start(b)
	ctx := context.Background()
	store := subscribers.NewStore(rdb)
	if err := store.Seed(ctx); err != nil {
		b.Fatal(err)
	}
	svc := NewService(NewLog(rdb), store)
	i := 0
	for b.Loop() {
		a := validAlert()
		a.URL = fmt.Sprintf("https://news.example.com/bench/store/%d", i)
		i++
		if _, _, err := svc.Publish(ctx, a, PublishOptions{Force: true}); err != nil {
			b.Fatal(err)
		}
	}
}
