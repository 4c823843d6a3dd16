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
	// Moves are the recipients (connection, partner or push subscription
	// ids) an update newly matched, sent the alert itself, or stopped
	// matching, sent a retraction. A recipient adds to reached when its
	// earliest move, by log event, is an entry: had it left first, it had
	// the alert's publication, already counted.
	Moves []Move
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

// Move is one recipient an update moved the alert to (Entered) or away
// from, with the log event of the update: reports of one alert's events
// may land in any order, and the event ids put them back in order.
type Move struct {
	Recipient string
	EventID   string
	Entered   bool
}

// Add adds d to t.
func (t *Tally) Add(d Tally) {
	t.Reached += d.Reached
	t.Moves = append(t.Moves, d.Moves...)
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
// and event the type of the log event eventID it came from, which differs
// when an update changed who the alert is for (told Published: it newly
// matched; told Retracted: it no longer matched). Recipients are counted
// once per alert: a publication once by construction, an update that
// newly matches unless the recipient had the alert before.
func Delivered(told, event flashwire.EventType, recipient, eventID string, latency time.Duration) Tally {
	switch {
	case told == flashwire.Updated:
		return Tally{Updates: 1}
	case told == flashwire.Retracted && event == flashwire.Updated:
		return Tally{Retractions: 1, Moves: []Move{{Recipient: recipient, EventID: eventID}}}
	case told == flashwire.Retracted:
		// Nothing follows a retraction: there is no one to remember.
		return Tally{Retractions: 1}
	case event == flashwire.Updated:
		return Tally{Moves: []Move{{Recipient: recipient, EventID: eventID, Entered: true}}}
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
//	flashwire:v1:{alerts}:moves:ID:CHANNEL hash: recipient -> its earliest move, E or L:EVENT-ID (see Tally.Moves)
//
// Both live as long as the alert's state. The hash holds only those an
// update moved the alert to or away from, so an alert whose corrections
// keep its targeting keeps none.
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
	keyMoves = "flashwire:v1:{alerts}:moves:"
)

// recordScript adds counters, counts the recipients whose earliest move is
// an entry (see Tally.Moves), and keeps the smallest first-delivery time.
// Each recipient's earliest move is kept with its event id, so reports of
// one alert's events count the same in whatever order they land: a move
// older than the one kept replaces it and corrects the count.
//
// KEYS: stats hash, the channel's moves hash. ARGV: ttl seconds,
// first-field, first value or "", reached field, N, N triples (recipient,
// E or L, event id), then field/increment pairs.
var recordScript = redis.NewScript(`
local function before(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if not am or not bm then return a < b end
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  if am ~= bm then return am < bm end
  return as < bs
end
local n = tonumber(ARGV[5])
local i = 6
local delta = 0
for j = 1, n do
  local r, kind, seq = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  i = i + 3
  local cur = redis.call('HGET', KEYS[2], r)
  if not cur or before(seq, string.sub(cur, 3)) then
    redis.call('HSET', KEYS[2], r, kind .. ':' .. seq)
    if kind == 'E' then delta = delta + 1 end
    if cur and string.sub(cur, 1, 1) == 'E' then delta = delta - 1 end
  end
end
if delta ~= 0 then
  redis.call('HINCRBY', KEYS[1], ARGV[4], delta)
end
if n > 0 then
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
for j = i, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[j], ARGV[j + 1])
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
	args = append(args, prefix+"reached", len(t.Moves))
	for _, m := range t.Moves {
		kind := "L"
		if m.Entered {
			kind = "E"
		}
		args = append(args, m.Recipient, kind, m.EventID)
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
	if err := recordScript.Run(ctx, s.rdb, []string{keyStats + id, keyMoves + id + ":" + string(c)}, args...).Err(); err != nil {
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
