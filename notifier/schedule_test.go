package notifier

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
	"flashwire/internal/redistest"
)

func TestSchedule(t *testing.T) {
	eachRedis(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := context.Background()
		clk := newClock()
		svc := NewService(NewLog(rdb), openTaxonomy{})
		svc.Now = clk.Now
		svc.MinGap = time.Hour

		sc, err := svc.Schedule(ctx, validAlert(), clk.Now().Add(10*time.Minute), "night desk")
		if err != nil {
			t.Fatal(err)
		}
		later := validAlert()
		later.URL = "https://news.example.com/later"
		sc2, err := svc.Schedule(ctx, later, clk.Now().Add(time.Hour), "night desk")
		if err != nil {
			t.Fatal(err)
		}

		t.Run("invalid", func(t *testing.T) {
			bad := validAlert()
			bad.Headline = ""
			_, err := svc.Schedule(ctx, bad, clk.Now().Add(-time.Minute), "x")
			var inv *flashwire.InvalidError
			if !errors.As(err, &inv) || len(inv.Fields) != 2 || inv.Fields[0].Field != "headline" || inv.Fields[1].Field != "send_at" {
				t.Fatalf("bad schedule: %v, want headline and send_at named", err)
			}
			if _, err := svc.Schedule(ctx, validAlert(), clk.Now().Add(MaxScheduleAhead+time.Hour), "x"); err == nil {
				t.Fatal("scheduled beyond MaxScheduleAhead")
			}
		})
		t.Run("list", func(t *testing.T) {
			list, err := svc.ScheduledAlerts(ctx)
			if err != nil || len(list) != 2 || list[0].ID != sc.ID || list[1].ID != sc2.ID || list[0].CreatedBy != "night desk" {
				t.Fatalf("ScheduledAlerts = %+v, %v", list, err)
			}
		})
		t.Run("not yet due", func(t *testing.T) {
			clk.Advance(9 * time.Minute)
			if sent, err := svc.SendDue(ctx); err != nil || len(sent) != 0 {
				t.Fatalf("SendDue before time = %v, %v", sent, err)
			}
		})
		t.Run("due once across instances", func(t *testing.T) {
			clk.Advance(time.Minute)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var all []flashwire.Alert
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					other := NewService(NewLog(rdb), openTaxonomy{})
					other.Now = clk.Now
					sent, err := other.SendDue(ctx)
					if err != nil {
						t.Error(err)
					}
					mu.Lock()
					all = append(all, sent...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			if len(all) != 1 || all[0].Headline != validAlert().Headline || all[0].ID == "" {
				t.Fatalf("sent %+v, want the one due alert once", all)
			}
			if got, err := svc.log.Alert(ctx, all[0].ID); err != nil || !got.PublishedAt.Equal(clk.Now()) {
				t.Fatalf("published alert %+v, %v", got, err)
			}
		})
		t.Run("cancel", func(t *testing.T) {
			got, err := svc.CancelScheduled(ctx, sc2.ID)
			if err != nil || got.Alert.URL != later.URL {
				t.Fatalf("CancelScheduled = %+v, %v", got, err)
			}
			clk.Advance(2 * time.Hour)
			if sent, err := svc.SendDue(ctx); err != nil || len(sent) != 0 {
				t.Fatalf("cancelled alert sent: %v, %v", sent, err)
			}
		})
		t.Run("ErrNotScheduled", func(t *testing.T) {
			for _, id := range []string{sc.ID, sc2.ID, "sch_nope"} {
				if _, err := svc.CancelScheduled(ctx, id); !errors.Is(err, ErrNotScheduled) {
					t.Errorf("cancel %s: %v, want ErrNotScheduled", id, err)
				}
			}
		})
	})
}

func TestHistory(t *testing.T) {
	_, rdb := redistest.Start(t)
	ctx := context.Background()
	svc := NewService(NewLog(rdb), openTaxonomy{})
	var ids []string
	for i := range 7 {
		a := validAlert()
		a.Headline = "Story " + string(rune('A'+i))
		p, _, err := svc.Publish(ctx, a, PublishOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	var got []string
	cursor := ""
	for page := 0; page < 5; page++ {
		list, next, err := svc.History(ctx, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range list {
			got = append(got, a.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(got) != 7 {
		t.Fatalf("paged through %d alerts, want 7: %v", len(got), got)
	}
	for i := range got {
		if got[i] != ids[6-i] {
			t.Fatalf("history order %v, want newest first of %v", got, ids)
		}
	}
}
