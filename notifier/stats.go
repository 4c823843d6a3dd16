package notifier

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// Channel names a way alerts reach people.
type Channel string

// The channels.
const (
	WebSocket Channel = "websocket"
	SSE       Channel = "sse"
	Webhook   Channel = "webhook"
	WebPush   Channel = "webpush"
)

// Tally is what one instance saw of one alert on one channel since its last
// report: counts are deltas, latencies are publish-to-write times of the
// alert itself.
type Tally struct {
	// Reached counts deliveries of the alert's publication: each recipient
	// gets it once, so each counts once.
	Reached int64
	// Entered are the recipients (connection, partner or push subscription
	// ids) an update newly matched, sent the alert itself; each adds to
	// reached unless it had the alert before and left (see Left).
	Entered []string
	// Left are the recipients sent a retraction by an update that no
	// longer matched them: they had the alert, so an update that brings it
	// back to them does not count them again.
	Left []string
	// Updates and Retractions count the deliveries of corrections and
	// retractions (including updates that stopped matching, which go as
	// retractions).
	Updates     int64
	Retractions int64
	Failed      int64
	Pending     int64
	// Expired counts messages given up because their alert stopped being
	// news before they could go (Web Push: the TTL ran out).
	Expired int64
	// Removed counts subscriptions found gone and deleted (Web Push: the
	// push service answered 404 or 410).
	Removed   int64
	Latencies []time.Duration
}

// Add adds d to t.
func (t *Tally) Add(d Tally) {
	t.Reached += d.Reached
	t.Entered = append(t.Entered, d.Entered...)
	t.Left = append(t.Left, d.Left...)
	t.Updates += d.Updates
	t.Retractions += d.Retractions
	t.Failed += d.Failed
	t.Pending += d.Pending
	t.Expired += d.Expired
	t.Removed += d.Removed
	t.Latencies = append(t.Latencies, d.Latencies...)
}

// Delivered is the tally of one delivery to recipient, latency after its
// event: told is what the recipient was told (Published: the alert itself)
// and event the log event it came from, which differs when an update
// changed who the alert is for (told Published: it newly matched; told
// Retracted: it no longer matched). Recipients are counted once per alert:
// a publication once by construction, an update that newly matches unless
// the recipient had the alert before.
func Delivered(told, event flashwire.EventType, recipient string, latency time.Duration) Tally {
	switch {
	case told == flashwire.Updated:
		return Tally{Updates: 1}
	case told == flashwire.Retracted && event == flashwire.Updated:
		return Tally{Retractions: 1, Left: []string{recipient}}
	case told == flashwire.Retracted:
		// Nothing follows a retraction: there is no one to remember.
		return Tally{Retractions: 1}
	case event == flashwire.Updated:
		return Tally{Entered: []string{recipient}}
	}
	return Tally{Reached: 1, Latencies: []time.Duration{latency}}
}

// ChannelStats is how an alert did on one channel, summed over instances.
type ChannelStats struct {
	// Reached counts the recipients (connections, partners, push
	// subscriptions) the alert itself reached, each once whatever its
	// updates and retraction.
	Reached int64 `json:"reached"`
	// Updates and Retractions count deliveries of the alert's corrections
	// and retractions, on their own.
	Updates     int64 `json:"updates"`
	Retractions int64 `json:"retractions"`
	Failed      int64 `json:"failed"`
	Pending     int64 `json:"pending"`
	// Expired and Removed are kept by the channels that have them (see
	// Tally).
	Expired int64 `json:"expired,omitempty"`
	Removed int64 `json:"removed,omitempty"`
	// First, Median and P99 are publish-to-delivery times in milliseconds,
	// read from a histogram: Median and P99 are the upper bound of their
	// bucket (at most 19% above the true figure). Nil before any delivery.
	FirstMS  *float64 `json:"first_ms"`
	MedianMS *float64 `json:"median_ms"`
	P99MS    *float64 `json:"p99_ms"`
}

// Stats keeps per-alert delivery figures in Redis:
//
//	flashwire:v1:{alerts}:stats:ID        hash: CHANNEL:reached|updates|retractions|failed|pending|expired|removed|first, CHANNEL:b:BUCKET
//	flashwire:v1:{alerts}:left:ID:CHANNEL set of the recipients an update stopped matching (see Tally.Left)
//
// Both live as long as the alert's state. The set holds only those an
// update moved the alert away from, so an alert whose corrections keep its
// targeting keeps none.
//
// Reports are batched by the channels (one per alert per instance fan-out),
// never one per connection.
type Stats struct {
	rdb redis.UniversalClient
}

// NewStats returns the stats kept in rdb.
func NewStats(rdb redis.UniversalClient) *Stats {
	return &Stats{rdb: rdb}
}

const (
	keyStats = "flashwire:v1:{alerts}:stats:"
	keyLeft  = "flashwire:v1:{alerts}:left:"
)

// recordScript adds counters, counts entered recipients that did not have
// the alert before, remembers those who left, and keeps the smallest
// first-delivery time. Reports of one alert's events may land out of
// order across instances; a recipient that left and came back within
// moments may then count twice.
//
// KEYS: stats hash, the channel's left set. ARGV: ttl seconds,
// first-field, first value or "", reached field, N, N entered recipients,
// M, M left recipients, then field/increment pairs.
var recordScript = redis.NewScript(`
local i = 5
local n = tonumber(ARGV[i])
local newly = 0
for j = i + 1, i + n do
  if redis.call('SREM', KEYS[2], ARGV[j]) == 0 then
    newly = newly + 1
  end
end
if newly > 0 then
  redis.call('HINCRBY', KEYS[1], ARGV[4], newly)
end
i = i + n + 1
local m = tonumber(ARGV[i])
for j = i + 1, i + m, 500 do
  redis.call('SADD', KEYS[2], unpack(ARGV, j, math.min(j + 499, i + m)))
end
if m > 0 then
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
for j = i + m + 1, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[j], ARGV[j+1])
end
if ARGV[3] ~= '' then
  local cur = redis.call('HGET', KEYS[1], ARGV[2])
  if not cur or tonumber(ARGV[3]) < tonumber(cur) then
    redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
`)

// bucketOf maps a latency to a histogram bucket: bucket b holds latencies up
// to 1.19^b ms, so 80 buckets reach past 10 minutes.
func bucketOf(d time.Duration) int {
	ms := float64(d) / float64(time.Millisecond)
	if ms <= 1 {
		return 0
	}
	return min(int(math.Ceil(math.Log(ms)/math.Log(1.19))), 120)
}

func bucketUpper(b int) float64 {
	return math.Round(math.Pow(1.19, float64(b))*10) / 10
}

// Record adds t to the figures of alert id on channel c.
func (s *Stats) Record(ctx context.Context, id string, c Channel, t Tally) error {
	prefix := string(c) + ":"
	args := []any{int64(alertTTL / time.Second), prefix + "first", ""}
	if len(t.Latencies) > 0 {
		first := t.Latencies[0]
		for _, l := range t.Latencies {
			first = min(first, l)
		}
		args[2] = strconv.FormatFloat(float64(first)/float64(time.Millisecond), 'f', 2, 64)
	}
	args = append(args, prefix+"reached", len(t.Entered))
	for _, r := range t.Entered {
		args = append(args, r)
	}
	args = append(args, len(t.Left))
	for _, r := range t.Left {
		args = append(args, r)
	}
	for name, n := range map[string]int64{"reached": t.Reached, "updates": t.Updates, "retractions": t.Retractions, "failed": t.Failed, "pending": t.Pending, "expired": t.Expired, "removed": t.Removed} {
		if n != 0 {
			args = append(args, prefix+name, n)
		}
	}
	buckets := map[int]int64{}
	for _, l := range t.Latencies {
		buckets[bucketOf(l)]++
	}
	for b, n := range buckets {
		args = append(args, prefix+"b:"+strconv.Itoa(b), n)
	}
	if err := recordScript.Run(ctx, s.rdb, []string{keyStats + id, keyLeft + id + ":" + string(c)}, args...).Err(); err != nil {
		return fmt.Errorf("record %s stats of alert %s: %w", c, id, err)
	}
	return nil
}

// Get returns the figures of alert id by channel; channels with nothing
// recorded are absent.
func (s *Stats) Get(ctx context.Context, id string) (map[Channel]ChannelStats, error) {
	raw, err := s.rdb.HGetAll(ctx, keyStats+id).Result()
	if err != nil {
		return nil, fmt.Errorf("load stats of alert %s: %w", id, err)
	}
	out := map[Channel]ChannelStats{}
	hist := map[Channel]map[int]int64{}
	for field, val := range raw {
		ch, rest, ok := strings.Cut(field, ":")
		if !ok {
			continue
		}
		c := Channel(ch)
		cs := out[c]
		n, _ := strconv.ParseInt(val, 10, 64)
		switch {
		case rest == "reached":
			cs.Reached = n
		case rest == "updates":
			cs.Updates = n
		case rest == "retractions":
			cs.Retractions = n
		case rest == "failed":
			cs.Failed = n
		case rest == "pending":
			cs.Pending = n
		case rest == "expired":
			cs.Expired = n
		case rest == "removed":
			cs.Removed = n
		case rest == "first":
			f, _ := strconv.ParseFloat(val, 64)
			cs.FirstMS = &f
		case strings.HasPrefix(rest, "b:"):
			b, _ := strconv.Atoi(rest[2:])
			if hist[c] == nil {
				hist[c] = map[int]int64{}
			}
			hist[c][b] += n
		}
		out[c] = cs
	}
	for c, h := range hist {
		cs := out[c]
		cs.MedianMS = quantile(h, 0.5)
		cs.P99MS = quantile(h, 0.99)
		out[c] = cs
	}
	return out, nil
}

func quantile(h map[int]int64, q float64) *float64 {
	var total int64
	keys := make([]int, 0, len(h))
	for b, n := range h {
		total += n
		keys = append(keys, b)
	}
	if total == 0 {
		return nil
	}
	sort.Ints(keys)
	rank := int64(math.Ceil(q * float64(total)))
	var seen int64
	for _, b := range keys {
		seen += h[b]
		if seen >= rank {
			v := bucketUpper(b)
			return &v
		}
	}
	return nil
}

// Tallies batches one channel's figures per alert: a channel adds each
// outcome as it happens and Run writes the sums every half second, one
// Record per alert, never one per message.
type Tallies struct {
	stats   *Stats
	channel Channel
	mu      sync.Mutex
	// m is guarded by mu.
	m map[string]*Tally
}

// Tallies returns a batch of figures of channel c; s may be nil, which
// keeps nothing.
func (s *Stats) Tallies(c Channel) *Tallies {
	return &Tallies{stats: s, channel: c, m: map[string]*Tally{}}
}

// Add adds d to the figures of alert id.
func (t *Tallies) Add(id string, d Tally) {
	if t.stats == nil || id == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := t.m[id]
	if cur == nil {
		cur = &Tally{}
		t.m[id] = cur
	}
	cur.Add(d)
}

// Flush records what was added since the last flush.
func (t *Tallies) Flush(ctx context.Context, log *slog.Logger) {
	t.mu.Lock()
	m := t.m
	t.m = map[string]*Tally{}
	t.mu.Unlock()
	for id, tl := range m {
		if err := t.stats.Record(ctx, id, t.channel, *tl); err != nil {
			log.Warn("record delivery figures", "channel", string(t.channel), "alert", id, "error", err.Error())
		}
	}
}

// Run flushes every half second until stop is closed, then once more.
func (t *Tallies) Run(ctx context.Context, stop <-chan struct{}, log *slog.Logger) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			t.Flush(ctx, log)
			return
		case <-tick.C:
			t.Flush(ctx, log)
		}
	}
}
