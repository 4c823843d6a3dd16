package subscribers

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
	"flashwire/internal/redistest"
)

// benchReaders is how many readers BenchmarkAudience stores.
const benchReaders = 1_000_000

// BenchmarkAudience stores a million readers in a redis-server of its own,
// loaded through the same script as PutReader in pipelined batches, then
// times counting and listing the audience of an alert for one topic and
// one region. Benchmarks run only with -bench, so go test never pays for
// the load.
//
// It runs on one redis-server and on a three-master Cluster, with the
// default 16 shards: the shards are counted in parallel, and on the
// Cluster they sit on different masters.
func BenchmarkAudience(b *testing.B) {
	if testing.Short() {
		b.Skip("loads a million readers")
	}
	b.Run("single", func(b *testing.B) {
		_, rdb := redistest.Start(b)
		benchAudience(b, rdb)
	})
	b.Run("cluster", func(b *testing.B) {
		_, rdb := redistest.StartCluster(b)
		benchAudience(b, rdb)
	})
}

func benchAudience(b *testing.B, rdb redis.UniversalClient) {
	ctx := context.Background()
	s := NewStore(rdb)
	if err := s.Seed(ctx); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	loadReaders(b, s, benchReaders)
	b.Logf("stored %d readers in %v; redis used_memory %s", benchReaders, time.Since(start).Round(time.Second), usedMemory(b, s))

	now := time.Date(2026, 11, 26, 21, 30, 0, 0, time.UTC)
	alert := flashwire.Attrs{Topics: []string{"world"}, Regions: []string{"europe"}, Language: "en", Priority: "urgent"}
	var readers int64
	b.Run("count", func(b *testing.B) {
		for b.Loop() {
			aud, err := s.CountAudience(ctx, alert, now)
			if err != nil {
				b.Fatal(err)
			}
			readers = aud.Readers
		}
		b.ReportMetric(float64(readers), "readers")
	})
	b.Run("list", func(b *testing.B) {
		for b.Loop() {
			ids, err := s.MatchReaders(ctx, alert, now)
			if err != nil {
				b.Fatal(err)
			}
			if int64(len(ids)) != readers {
				b.Fatalf("listed %d readers, counted %d", len(ids), readers)
			}
		}
	})
}

// loadReaders stores n random readers with pipelined calls of the save
// script: 500 at a time, so the client never holds more than a batch.
func loadReaders(tb testing.TB, s *Store, n int) {
	tb.Helper()
	ctx := context.Background()
	rdb := s.rdb
	if err := saveScript.Load(ctx, rdb).Err(); err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	zones := []string{"Europe/London", "Europe/Paris", "Europe/Berlin", "America/New_York", "America/Chicago",
		"America/Los_Angeles", "America/Sao_Paulo", "Asia/Kolkata", "Asia/Tokyo", "Asia/Singapore", "Australia/Sydney", "Africa/Lagos"}
	languages := []string{"en", "en-GB", "en-US", "fr", "de", "es", "pt-BR", "ar"}
	priorities := []flashwire.Priority{"", "", "normal", "urgent", "flash"}
	pick := func(from []string, max int) []string {
		var out []string
		for range rng.IntN(max + 1) {
			out = append(out, from[rng.IntN(len(from))])
		}
		return flashwire.NormalizeSlugs(out)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	const batch = 500
	for done := 0; done < n; done += batch {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for range min(batch, n-done) {
				prefs := Preferences{
					Topics:      pick(DefaultTopics, 3),
					Regions:     pick(DefaultRegions, 2),
					MinPriority: priorities[rng.IntN(len(priorities))],
				}
				if rng.IntN(5) < 2 {
					prefs.Languages = pick(languages, 2)
				}
				if rng.IntN(5) == 0 {
					prefs.QuietHours = &QuietHours{
						Start: strconv.Itoa(21+rng.IntN(3)) + ":" + []string{"00", "30"}[rng.IntN(2)],
						End:   "0" + strconv.Itoa(6+rng.IntN(3)) + ":00",
						TZ:    zones[rng.IntN(len(zones))], AllowFlash: rng.IntN(2) == 0,
					}
				}
				paused := ""
				if rng.IntN(50) == 0 {
					until := now.Add(time.Duration(rng.IntN(48)) * time.Hour)
					prefs.PausedUntil = &until
					paused = strconv.FormatInt(until.UnixMilli(), 10)
				}
				data, _ := encodePreferences(prefs)
				id := NewReaderID()
				index, spec := readerIndexKeys(s.shard(id), prefs)
				keys := append([]string{s.readerKey(id)}, index...)
				saveScript.EvalSha(ctx, p, keys, id, data, now.UnixMilli(), ReaderTTL.Milliseconds(), paused, spec, "", "")
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("load readers at %d: %v", done, err)
		}
	}
}

// usedMemory returns Redis's used_memory_human of each master.
func usedMemory(tb testing.TB, s *Store) string {
	tb.Helper()
	var mu sync.Mutex
	var out []string
	read := func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "memory").Result()
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(line, "used_memory_human:"); ok {
				mu.Lock()
				out = append(out, strings.TrimSpace(v))
				mu.Unlock()
			}
		}
		return err
	}
	ctx := context.Background()
	var err error
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, read)
	case *redis.Client:
		err = read(ctx, c)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Join(out, " + ")
}
