package webhook

import (
	"context"
	"fmt"
	"time"

	"flashwire"
	"flashwire/notifier"
)

// maxRecordBatch bounds how many outcomes one call to Redis records, and
// recordLinger how long the recorder waits for more before it stores what
// it has: a few milliseconds more before an outcome is stored, never before
// a partner gets its message, for fewer, larger calls under load.
const (
	maxRecordBatch = 64
	recordLinger   = 5 * time.Millisecond
)

// recorder stores the outcomes of a Sender's attempts. One goroutine (run)
// collects outcomes for up to recordLinger after the first, or up to
// maxRecordBatch of them, and records them in one call. Its queue is bounded: when Redis falls behind, the
// workers wait to hand over their outcome, holding their slot, so claiming
// slows down with it.
//
// Nothing is lost by recording later: a delivery stays leased until its
// outcome is stored, and if this instance stops first its lease runs out
// and it is sent again, as after a crash.
type recorder struct {
	s    *Sender
	in   chan result
	done chan struct{}
}

func newRecorder(s *Sender) *recorder {
	return &recorder{s: s, in: make(chan result, 2*s.opts.Workers), done: make(chan struct{})}
}

// add hands over an outcome to record.
func (r *recorder) add(res result) { r.in <- res }

// close records what was handed over and returns once it is stored; no add
// may follow.
func (r *recorder) close() {
	close(r.in)
	<-r.done
}

// run records outcomes until close.
func (r *recorder) run(ctx context.Context) {
	defer close(r.done)
	batch := make([]result, 0, maxRecordBatch)
	for res := range r.in {
		batch = append(batch[:0], res)
		linger := time.NewTimer(recordLinger)
	more:
		for len(batch) < maxRecordBatch {
			select {
			case res, ok := <-r.in:
				if !ok {
					break more
				}
				batch = append(batch, res)
			case <-linger.C:
				break more
			}
		}
		linger.Stop()
		r.s.record(ctx, batch)
	}
}

// record stores outcomes and reports them in metrics, logs and stats.
func (s *Sender) record(ctx context.Context, rs []result) {
	fs, err := s.queue.finishAll(ctx, rs, s.opts.DisableAfter)
	if err != nil {
		// The leases run out and the deliveries are tried again: at least
		// once.
		s.log.Error("record webhook attempts", "deliveries", len(rs), "first", rs[0].d.ID, "error", err.Error())
		return
	}
	for i, r := range rs {
		f, d, now := fs[i], r.d, r.now
		if r.a != nil {
			s.metrics.attempts.WithLabelValues(r.a.Outcome).Inc()
		}
		if r.state == StateDelivered {
			s.metrics.latency.Observe(max(now.Sub(d.CreatedAt), 0).Seconds())
		}
		if f.first && d.AlertID != "" {
			switch r.state {
			case StateDelivered:
				t := notifier.Delivered(flashwire.EventType(d.Type), d.event(), d.PartnerID, d.eventID(), max(now.Sub(d.CreatedAt), 0))
				t.Pending = -1
				s.tally.Add(d.AlertID, t)
			case StateFailed:
				s.tally.Add(d.AlertID, notifier.Tally{Failed: 1, Pending: -1})
			}
		}
		if f.disable {
			reason := fmt.Sprintf("every delivery failed from %s to %s", f.failingSince.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
			s.disable(ctx, d.PartnerID, reason, "failing")
		}
	}
}
