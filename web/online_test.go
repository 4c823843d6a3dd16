package web

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
	"flashwire/internal/redistest"
)

// onlineRedis is a Redis for the count of readers online: the shared client
// and a way to open another connection to it, for an instance whose own
// connection the test cuts.
type onlineRedis struct {
	shared redis.UniversalClient
	open   func(tb testing.TB) redis.UniversalClient
}

// eachOnlineRedis runs fn against a single redis-server and a three-master
// Redis Cluster, each started for the test.
func eachOnlineRedis(t *testing.T, fn func(t *testing.T, r onlineRedis)) {
	t.Run("OneRedis", func(t *testing.T) {
		srv, rdb := redistest.Start(t)
		fn(t, onlineRedis{shared: rdb, open: func(tb testing.TB) redis.UniversalClient {
			c := redis.NewClient(&redis.Options{Addr: srv.Addr})
			tb.Cleanup(func() { _ = c.Close() })
			return c
		}})
	})
	t.Run("Cluster", func(t *testing.T) {
		cl, rdb := redistest.StartCluster(t)
		fn(t, onlineRedis{shared: rdb, open: func(tb testing.TB) redis.UniversalClient {
			c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
			tb.Cleanup(func() { _ = c.Close() })
			return c
		}})
	})
}

// dryRunOnline asks instance e for a dry run of an alert with the given
// targeting and returns its online figure and instances.
func dryRunOnline(tb testing.TB, e *testEnv, topics, regions []string, lang, priority string) (online float64, answered, expected float64) {
	tb.Helper()
	code, body := e.do(tb, "POST", "/api/v1/alerts?dry_run=true", testAdminToken, map[string]any{
		"headline": "Counting who is online", "url": "https://news.example.com/online",
		"topics": topics, "regions": regions, "language": lang, "priority": priority,
	})
	aud, _ := body["audience"].(map[string]any)
	inst, _ := aud["online_instances"].(map[string]any)
	if code != 200 || aud == nil || inst == nil {
		tb.Fatalf("dry run = %d %v", code, body)
	}
	n, _ := aud["online"].(float64)
	a, _ := inst["answered"].(float64)
	x, _ := inst["expected"].(float64)
	return n, a, x
}

// TestCountOnline: three instances with their own hubs share one Redis (and
// a Cluster); a dry run on any of them counts the matching readers
// connected to all three, says when the figure is partial, stops expecting
// an instance that is gone, and falls back to its own count without
// pub/sub.
func TestCountOnline(t *testing.T) {
	eachOnlineRedis(t, func(t *testing.T, r onlineRedis) {
		clock := &testClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
		const ttl = 10 * time.Second
		envs := make([]*testEnv, 3)
		own := make([]redis.UniversalClient, 3)
		for i := range envs {
			own[i] = r.open(t)
			envs[i] = newLiveEnv(t, r.shared, func(h *HubConfig, _ *Config) {
				h.Now = clock.Now
				// The test's clock only moves when told: registrations
				// expire when it moves past TTL. Wait is generous, as
				// answers on a loaded machine may be slow; a complete
				// count returns as soon as all answered.
				h.Online = &OnlineConfig{Redis: own[i], InstanceID: fmt.Sprint("instance-", i), TTL: ttl, Refresh: 50 * time.Millisecond, Wait: 2 * time.Second}
			})
		}
		// Each instance's readers, by the filters of their connections.
		filters := [][]string{
			{"", "topics=sport"},
			{"topics=world", "regions=us", "lang=fr"},
			{"min_priority=urgent", "topics=sport&regions=uk", "topics=business"},
		}
		for i, e := range envs {
			for _, q := range filters[i] {
				dial(t, e.wsURL(q), nil)
			}
		}
		eventually(t, "every instance registered and subscribed", func() bool {
			for i, e := range envs {
				_, err := r.shared.ZScore(context.Background(), onlineInstancesKey, fmt.Sprint("instance-", i)).Result()
				if err != nil || !e.hub.online.subscribed.Load() {
					return false
				}
			}
			return true
		})

		cases := []struct {
			name            string
			topics, regions []string
			lang, priority  string
			// want is per instance: the sum is what a dry run reports.
			want [3]int
		}{
			// Sport in the UK: no filter and topics=sport on 0,
			// topics=sport&regions=uk on 2.
			{"SportUK", []string{"sport"}, []string{"uk"}, "en", "normal", [3]int{2, 0, 1}},
			// Urgent world news in the US: no filter on 0; topics=world and
			// regions=us on 1; min_priority=urgent on 2.
			{"WorldUSUrgent", []string{"world"}, []string{"us"}, "en", "urgent", [3]int{1, 2, 1}},
			// French business news: no filter on 0; lang=fr on 1;
			// topics=business on 2.
			{"BusinessFrench", []string{"business"}, []string{"europe"}, "fr-FR", "normal", [3]int{1, 1, 1}},
			// A flash on sport in the US: no filter and topics=sport on 0;
			// regions=us on 1; min_priority=urgent on 2 (the UK filter
			// does not match).
			{"SportUSFlash", []string{"sport"}, []string{"us"}, "en", "flash", [3]int{2, 1, 1}},
			// Health in Asia: only the connection without any filter.
			{"HealthAsia", []string{"health"}, []string{"asia"}, "en", "normal", [3]int{1, 0, 0}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				want := tc.want[0] + tc.want[1] + tc.want[2]
				for i, e := range envs {
					n, answered, expected := dryRunOnline(t, e, tc.topics, tc.regions, tc.lang, tc.priority)
					if n != float64(want) || answered != 3 || expected != 3 {
						t.Errorf("dry run on instance %d: online %v (%v of %v answered), want %d (3 of 3)", i, n, answered, expected, want)
					}
				}
			})
		}

		// Instance 2 loses Redis as a crash would: it neither answers nor
		// leaves.
		_ = own[2].Close()
		t.Run("Partial", func(t *testing.T) {
			// Its registration is still fresh: the figure says it is partial.
			n, answered, expected := dryRunOnline(t, envs[0], []string{"world"}, []string{"us"}, "en", "urgent")
			if n != 3 || answered != 2 || expected != 3 {
				t.Errorf("online %v (%v of %v answered), want 3 (2 of 3)", n, answered, expected)
			}
		})
		t.Run("FallBack", func(t *testing.T) {
			// Without pub/sub, instance 2 counts its own readers.
			n, answered, expected := dryRunOnline(t, envs[2], []string{"world"}, []string{"us"}, "en", "urgent")
			if n != 1 || answered != 1 || expected != 1 {
				t.Errorf("online %v (%v of %v answered), want 1 (1 of 1)", n, answered, expected)
			}
		})
		t.Run("Expired", func(t *testing.T) {
			// Past the TTL the instances still running have registered
			// again and instance 2 is no longer expected.
			clock.Advance(2 * ttl)
			eventually(t, "instance 2 no longer expected", func() bool {
				_, answered, expected := dryRunOnline(t, envs[1], []string{"health"}, nil, "en", "normal")
				return answered == 2 && expected == 2
			})
			n, answered, expected := dryRunOnline(t, envs[1], []string{"world"}, []string{"us"}, "en", "urgent")
			if n != 3 || answered != 2 || expected != 2 {
				t.Errorf("online %v (%v of %v answered), want 3 (2 of 2)", n, answered, expected)
			}
		})
		t.Run("Shutdown", func(t *testing.T) {
			// An instance shutting down leaves at once.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			envs[1].hub.Shutdown(ctx)
			n, answered, expected := dryRunOnline(t, envs[0], []string{"world"}, []string{"us"}, "en", "urgent")
			if n != 1 || answered != 1 || expected != 1 {
				t.Errorf("online %v (%v of %v answered), want 1 (1 of 1)", n, answered, expected)
			}
		})
	})
}

// TestCountOnlineNotConfigured: without HubConfig.Online a dry run counts
// this instance's readers, as one instance of one.
func TestCountOnlineNotConfigured(t *testing.T) {
	_, rdb := redistest.Start(t)
	env := newLiveEnv(t, rdb, nil)
	dial(t, env.wsURL("topics=world"), nil)
	dial(t, env.wsURL("topics=sport"), nil)
	n, answered, expected := dryRunOnline(t, env, []string{"world"}, []string{"us"}, "en", "normal")
	if n != 1 || answered != 1 || expected != 1 {
		t.Errorf("online %v (%v of %v answered), want 1 (1 of 1)", n, answered, expected)
	}
}

// BenchmarkCountOnline is one dry run's count across three instances on
// one Redis, each holding 1,000 readers.
func BenchmarkCountOnline(b *testing.B) {
	_, rdb := redistest.Start(b)
	envs := make([]*testEnv, 3)
	for i := range envs {
		envs[i] = newLiveEnv(b, rdb, func(h *HubConfig, _ *Config) {
			h.Online = &OnlineConfig{Redis: rdb, InstanceID: fmt.Sprint("instance-", i), Wait: 5 * time.Second}
		})
		for range 1000 {
			dial(b, envs[i].wsURL("topics=world"), nil)
		}
	}
	eventually(b, "every instance subscribed", func() bool {
		for _, e := range envs {
			if !e.hub.online.subscribed.Load() {
				return false
			}
		}
		return true
	})
	a := flashwire.Attrs{Topics: []string{"world"}, Language: "en", Priority: "normal"}
	ctx := context.Background()
	for b.Loop() {
		if c := envs[0].hub.CountOnline(ctx, a); c.Online != 3000 || c.Instances.Answered != 3 {
			b.Fatalf("count = %+v, want 3000 from 3 instances", c)
		}
	}
}
