package webpush

import (
	"context"
	"encoding/json"
	"fmt"
	"math/bits"

	"flashwire"
	"flashwire/notifier"
	"flashwire/subscribers"
)

// sentBefore returns, for a correction or retraction, which subscriptions
// of the shard the alert itself was sent to (nil for a new alert).
func (s *Sender) sentBefore(ctx context.Context, j job) (func(bit int) bool, error) {
	if j.Type == string(flashwire.Published) {
		return nil, nil
	}
	claimed, err := s.q.bitmap(ctx, keyClaimed(j.Shard, j.AlertID))
	if err != nil {
		return nil, err
	}
	return func(bit int) bool { return bitSet(claimed, bit) }, nil
}

// snapshot returns the slots j walks, storing them on the first lease so
// every holder walks the same: the readers a new alert or a correction
// reaches now (at the event's time), and for a correction or retraction
// the readers the alert was sent to.
func (s *Sender) snapshot(ctx context.Context, j job, sent func(int) bool) ([]int, error) {
	if j.Snapped {
		bitmap, err := s.q.bitmap(ctx, keyMatch(j.Shard, j.ID))
		return subscribers.Slots(bitmap), err
	}
	var bitmap []byte
	var subs int64
	if j.Type != string(flashwire.Retracted) {
		var a flashwire.Alert
		if err := json.Unmarshal(j.Alert, &a); err != nil {
			return nil, fmt.Errorf("decode alert of web push job %s: %w", j.ID, err)
		}
		var err error
		if bitmap, subs, err = s.dir.MatchPush(ctx, j.Shard, a.Attrs(), j.Created); err != nil {
			return nil, err
		}
	}
	if sent != nil {
		claimed, err := s.q.bitmap(ctx, keyClaimed(j.Shard, j.AlertID))
		if err != nil {
			return nil, err
		}
		bitmap, subs = withSent(bitmap, subs, claimed)
	}
	stored, subs, err := s.q.snap(ctx, j, s.token, bitmap, subs)
	if err != nil {
		return nil, err
	}
	if stored {
		s.figures(ctx, j, notifier.Tally{Pending: subs})
	} else if bitmap, err = s.q.bitmap(ctx, keyMatch(j.Shard, j.ID)); err != nil {
		return nil, err
	}
	return subscribers.Slots(bitmap), nil
}

// withSent adds to a bitmap of slots the slots of the subscriptions set in
// claimed (a bitmap of subscription bits), counting those subscriptions
// once: a correction reaches everyone the alert reached.
func withSent(slots []byte, subs int64, claimed []byte) ([]byte, int64) {
	for _, bit := range subscribers.Slots(claimed) {
		slot := bit / subscribers.MaxPushPerReader
		if !bitSet(slots, slot) {
			for len(slots) <= slot/8 {
				slots = append(slots, 0)
			}
			slots[slot/8] |= 0x80 >> (slot % 8)
			subs += int64(bits.OnesCount8(onesOfSlot(claimed, slot)))
		}
	}
	return slots, subs
}

// onesOfSlot returns the claimed bits of one reader's subscriptions as a
// byte (MaxPushPerReader is 8: one byte per reader).
func onesOfSlot(claimed []byte, slot int) byte {
	if slot < len(claimed) {
		return claimed[slot]
	}
	return 0
}

// bitSet reports whether bit n of a Redis bitmap is set.
func bitSet(bitmap []byte, n int) bool {
	return n/8 < len(bitmap) && bitmap[n/8]&(0x80>>(n%8)) != 0
}

func slotsOf(bitsList []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, b := range bitsList {
		if slot := b / subscribers.MaxPushPerReader; !seen[slot] {
			seen[slot] = true
			out = append(out, slot)
		}
	}
	return out
}

func keep(ts []subscribers.PushTarget, ok func(bit int) bool) []subscribers.PushTarget {
	if ok == nil {
		return ts
	}
	out := ts[:0]
	for _, t := range ts {
		if ok(t.Bit) {
			out = append(out, t)
		}
	}
	return out
}

// sweep counts as failed the subscriptions an earlier holder of j claimed
// and never settled: it died, or lost the job, between claiming and
// recording. Whether the push went out is unknown; sending again could
// show it twice, so it is not sent again, and the figures say so.
func (s *Sender) sweep(ctx context.Context, j job) error {
	claimed, err := s.q.bitmap(ctx, keyClaimed(j.Shard, j.ID))
	if err != nil || len(claimed) == 0 {
		return err
	}
	done, err := s.q.bitmap(ctx, keyDone(j.Shard, j.ID))
	if err != nil {
		return err
	}
	var lost []outcome
	for i, c := range claimed {
		var d byte
		if i < len(done) {
			d = done[i]
		}
		for b := c &^ d; b != 0; {
			n := bits.LeadingZeros8(b)
			lost = append(lost, outcome{bit: i*8 + n, what: outFailed})
			b &^= 0x80 >> n
		}
	}
	if len(lost) == 0 {
		return nil
	}
	counted, err := s.q.record(ctx, j, s.token, lost, nil)
	if err != nil {
		return err
	}
	n := 0
	for _, c := range counted {
		if c {
			n++
		}
	}
	if n > 0 {
		s.figures(ctx, j, notifier.Tally{Failed: int64(n), Pending: -int64(n)})
		s.metrics.sends.WithLabelValues("interrupted", "all").Add(float64(n))
		s.log.Warn("web push interrupted: an instance stopped between claiming and recording; counted as failed, not sent again",
			"event", j.ID, "shard", j.Shard, "subscriptions", n)
	}
	return nil
}
