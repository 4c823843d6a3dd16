package watch

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RunOnce polls one source now, if this instance holds or can take its
// lease (ErrLeased otherwise). Its error is also recorded on the source.
func (w *Watcher) RunOnce(ctx context.Context, id string) error {
	src, err := w.store.get(ctx, id)
	if err != nil {
		return err
	}
	ok, err := acquireScript.Run(ctx, w.cfg.Redis, []string{keyLease + id}, w.cfg.Instance, w.cfg.LeaseTTL.Milliseconds()).Bool()
	if err != nil {
		return fmt.Errorf("lease of source %s: %w", id, err)
	}
	if !ok {
		w.mu.Lock()
		delete(w.leases, id)
		w.mu.Unlock()
		w.metrics.polls.WithLabelValues(pollLeased).Inc()
		return ErrLeased
	}
	w.mu.Lock()
	w.leases[id] = true
	w.mu.Unlock()
	return w.poll(ctx, src)
}

// keepLeases renews this instance's leases and, as a safety net for a
// missed change message, reloads the sources.
func (w *Watcher) keepLeases() {
	defer w.wg.Done()
	t := time.NewTicker(w.cfg.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
		}
		w.mu.Lock()
		ids := make([]string, 0, len(w.leases))
		for id := range w.leases {
			ids = append(ids, id)
		}
		w.mu.Unlock()
		for _, id := range ids {
			ok, err := renewScript.Run(w.ctx, w.cfg.Redis, []string{keyLease + id}, w.cfg.Instance, w.cfg.LeaseTTL.Milliseconds()).Bool()
			if err != nil || !ok {
				w.mu.Lock()
				delete(w.leases, id)
				w.mu.Unlock()
			}
		}
		if err := w.reload(w.ctx); err != nil && w.ctx.Err() == nil {
			w.cfg.Logger.Warn("watch: reload sources", "error", err.Error())
		}
	}
}

// Lease scripts: a lease is the holder's instance id with an expiry.
var (
	acquireScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`)
	renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`)
	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
)
