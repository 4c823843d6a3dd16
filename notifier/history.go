package notifier

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// History returns up to limit alerts published before the alert id before
// ("" for the newest), newest first, read through the index sorted set.
// next is the cursor for the following page, "" after the last one.
// Alerts whose stored state has expired are left out.
func (s *Service) History(ctx context.Context, before string, limit int) (alerts []flashwire.Alert, next string, err error) {
	top := "+inf"
	if before != "" {
		if !flashwire.ValidEventID(before) {
			return nil, "", fmt.Errorf("list alerts before %q: %w", before, flashwire.ErrNotFound)
		}
		top = strconv.FormatInt(flashwire.EventTime(before).UnixMilli(), 10)
	}
	// Alerts sharing a millisecond share a score: fetch a few more than
	// asked and cut by id, which orders them exactly.
	ids, err := s.log.rdb.ZRevRangeByScore(ctx, keyIndex, &redis.ZRangeBy{
		Max: top, Min: "-inf", Count: int64(limit) + 17,
	}).Result()
	if err != nil {
		return nil, "", fmt.Errorf("list alerts: %w", err)
	}
	kept := ids[:0]
	for _, id := range ids {
		if flashwire.ValidEventID(id) && (before == "" || flashwire.CompareEventIDs(id, before) < 0) {
			kept = append(kept, id)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return flashwire.CompareEventIDs(kept[i], kept[j]) > 0 })
	more := len(kept) > limit
	if more {
		kept = kept[:limit]
	}
	alerts = make([]flashwire.Alert, 0, len(kept))
	if len(kept) == 0 {
		return alerts, "", nil
	}
	keys := make([]string, len(kept))
	for i, id := range kept {
		keys[i] = keyAlert + id
	}
	// One MGET: every alert key shares the {alerts} hash tag.
	bodies, err := s.log.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, "", fmt.Errorf("load alerts: %w", err)
	}
	for i, b := range bodies {
		body, ok := b.(string)
		if !ok {
			continue
		}
		var a flashwire.Alert
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			return nil, "", fmt.Errorf("decode alert %s: %w", kept[i], err)
		}
		alerts = append(alerts, a)
	}
	if more {
		next = kept[len(kept)-1]
	}
	return alerts, next, nil
}
