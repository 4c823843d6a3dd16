package notifier

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
	"flashwire/internal/redistest"
)

// clock is a settable time source for Service.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 26, 22, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestPublishWithDuplicate(t *testing.T) {
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		clk := newClock()
		svc := NewService(NewLog(rdb), openTaxonomy{})
		svc.Now = clk.Now
		first, _, err := svc.Publish(ctx, validAlert(), PublishOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Run("ErrDuplicate", func(t *testing.T) {
			again := validAlert()
			again.Headline = "  putin, trump AGREE to joint efforts   against IS in Syria "
			clk.Advance(9 * time.Minute)
			_, _, err := svc.Publish(ctx, again, PublishOptions{})
			var dup *DuplicateError
			if !errors.As(err, &dup) || !errors.Is(err, ErrDuplicate) || dup.Existing.ID != first.ID {
				t.Fatalf("same story 9 min later: %v (%+v), want duplicate of %s", err, dup, first.ID)
			}
		})
		t.Run("other url", func(t *testing.T) {
			other := validAlert()
			other.URL = "https://news.example.com/other"
			if _, _, err := svc.Publish(ctx, other, PublishOptions{}); err != nil {
				t.Fatalf("same headline, other url: %v", err)
			}
		})
		t.Run("force", func(t *testing.T) {
			forced, _, err := svc.Publish(ctx, validAlert(), PublishOptions{Force: true})
			if err != nil || forced.ID == first.ID {
				t.Fatalf("forced = %+v, %v", forced, err)
			}
		})
		t.Run("after the window", func(t *testing.T) {
			clk.Advance(DuplicateWindow + time.Second)
			if _, _, err := svc.Publish(ctx, validAlert(), PublishOptions{}); err != nil {
				t.Fatalf("same story after the window: %v", err)
			}
		})
		t.Run("retracted original", func(t *testing.T) {
			a := validAlert()
			a.URL = "https://news.example.com/retracted"
			orig, _, err := svc.Publish(ctx, a, PublishOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Retract(ctx, orig.ID); err != nil {
				t.Fatal(err)
			}
			if _, _, err := svc.Publish(ctx, a, PublishOptions{}); err != nil {
				t.Fatalf("resending a retracted story: %v", err)
			}
		})
	})
}

// TestDuplicateComparesNormalisedLinks: links that differ only in the
// host's case, tracking parameters, a fragment or a trailing slash are one
// story; another path is another.
func TestDuplicateComparesNormalisedLinks(t *testing.T) {
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		svc := NewService(NewLog(rdb), openTaxonomy{})
		clk := newClock()
		svc.Now = clk.Now
		story := func(link string) flashwire.Alert {
			a := validAlert()
			a.URL = link
			return a
		}
		first, _, err := svc.Publish(ctx, story("https://NEWS.example.org/a"), PublishOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, link := range []string{
			"https://news.example.org/a?utm_source=x",
			"https://news.example.org/a",
			"https://news.example.org/a/#live",
			"https://news.example.org:443/a?fbclid=abc&gclid=def",
		} {
			clk.Advance(time.Second)
			_, _, err := svc.Publish(ctx, story(link), PublishOptions{})
			var dup *DuplicateError
			if !errors.As(err, &dup) || dup.Existing.ID != first.ID {
				t.Errorf("%s: %v, want a duplicate of %s", link, err, first.ID)
			}
		}
		if _, _, err := svc.Publish(ctx, story("https://news.example.org/a?page=2"), PublishOptions{}); err != nil {
			t.Errorf("a link with another real parameter: %v, want it sent", err)
		}
	})
}

func TestPublishWithGap(t *testing.T) {
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		clk := newClock()
		svc := NewService(NewLog(rdb), openTaxonomy{})
		svc.Now = clk.Now
		svc.MinGap = 5 * time.Minute
		story := func(n string, p flashwire.Priority) flashwire.Alert {
			a := validAlert()
			a.URL = "https://news.example.com/" + n
			a.Priority = p
			return a
		}
		if _, _, err := svc.Publish(ctx, story("1", flashwire.Normal), PublishOptions{}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Minute)
		t.Run("ErrTooSoon", func(t *testing.T) {
			_, _, err := svc.Publish(ctx, story("2", flashwire.Urgent), PublishOptions{Force: true})
			var soon *TooSoonError
			if !errors.As(err, &soon) || soon.RetryAfter != 3*time.Minute {
				t.Fatalf("urgent 2 min after normal: %v, want retry after 3m", err)
			}
		})
		t.Run("flash passes", func(t *testing.T) {
			if _, _, err := svc.Publish(ctx, story("3", flashwire.Flash), PublishOptions{}); err != nil {
				t.Fatalf("flash inside the gap: %v", err)
			}
		})
		t.Run("skip gap", func(t *testing.T) {
			if _, _, err := svc.Publish(ctx, story("4", flashwire.Normal), PublishOptions{SkipGap: true}); err != nil {
				t.Fatalf("SkipGap: %v", err)
			}
		})
		t.Run("after the gap", func(t *testing.T) {
			clk.Advance(3 * time.Minute)
			if _, _, err := svc.Publish(ctx, story("5", flashwire.Normal), PublishOptions{}); err != nil {
				t.Fatalf("after the gap: %v", err)
			}
			if _, _, err := svc.Publish(ctx, story("6", flashwire.Normal), PublishOptions{}); !errors.Is(err, ErrTooSoon) {
				t.Fatalf("right after: %v, want ErrTooSoon", err)
			}
		})
		t.Run("concurrent", func(t *testing.T) {
			clk.Advance(time.Hour)
			var wg sync.WaitGroup
			var mu sync.Mutex
			ok := 0
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, _, err := svc.Publish(ctx, story("c"+string(rune('a'+i)), flashwire.Normal), PublishOptions{}); err == nil {
						mu.Lock()
						ok++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if ok != 1 {
				t.Fatalf("%d of 8 simultaneous normal alerts passed the gap, want 1", ok)
			}
		})
	})
}

// BenchmarkPublish measures what the duplicate guard adds to a publish:
// with Force the guard's script only records the story; without, it also
// checks it and reads the earlier alert's state.
func BenchmarkPublish(b *testing.B) {
	_, rdb := redistest.Start(b)
	ctx := context.Background()
	svc := NewService(NewLog(rdb), openTaxonomy{})
	for _, guarded := range []bool{false, true} {
		b.Run(map[bool]string{false: "Force", true: "Guarded"}[guarded], func(b *testing.B) {
			i := 0
			for b.Loop() {
				a := validAlert()
				a.URL = fmt.Sprintf("https://news.example.com/bench/%v/%d", guarded, i)
				i++
				if _, _, err := svc.Publish(ctx, a, PublishOptions{Force: !guarded}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
