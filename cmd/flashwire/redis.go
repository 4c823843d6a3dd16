package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// openRedis connects to the configured Redis: one URL is a single node,
// several are a Cluster, none starts an embedded in-memory server that the
// same go-redis client talks to over loopback, so there is one code path.
// The returned close function closes the client and any embedded server.
func openRedis(ctx context.Context, cfg config, log *slog.Logger) (redis.UniversalClient, func(), error) {
	if len(cfg.RedisURLs) == 0 {
		mr := miniredis.NewMiniRedis()
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return nil, nil, fmt.Errorf("start embedded redis: %w", err)
		}
		log.Warn("FLASHWIRE_REDIS_URL is not set: using an embedded in-memory Redis; alerts, subscribers and tokens are lost when the process stops, and instances cannot share it",
			"embedded_redis", mr.Addr())
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		return rdb, func() { _ = rdb.Close(); mr.Close() }, nil
	}

	rdb, err := newRedisClient(cfg.RedisURLs)
	if err != nil {
		return nil, nil, err
	}
	if err := waitForRedis(ctx, rdb, cfg.RedisWait, log); err != nil {
		_ = rdb.Close()
		return nil, nil, fmt.Errorf("redis at %s: %w", redactURL(cfg.RedisURLs[0]), err)
	}
	return rdb, func() { _ = rdb.Close() }, nil
}

func newRedisClient(urls []string) (redis.UniversalClient, error) {
	if len(urls) == 1 {
		opt, err := redis.ParseURL(urls[0])
		if err != nil {
			return nil, &usageError{msg: fmt.Sprintf("FLASHWIRE_REDIS_URL: %v", err)}
		}
		return redis.NewClient(opt), nil
	}
	var copt redis.ClusterOptions
	for i, u := range urls {
		opt, err := redis.ParseURL(u)
		if err != nil {
			return nil, &usageError{msg: fmt.Sprintf("FLASHWIRE_REDIS_URL: address %d: %v", i+1, err)}
		}
		if i == 0 {
			copt.Username, copt.Password, copt.TLSConfig = opt.Username, opt.Password, opt.TLSConfig
		}
		copt.Addrs = append(copt.Addrs, opt.Addr)
	}
	return redis.NewClusterClient(&copt), nil
}

// waitForRedis pings with exponential backoff until Redis answers or wait
// has passed, so instances may start before their Redis does.
func waitForRedis(ctx context.Context, rdb redis.UniversalClient, wait time.Duration, log *slog.Logger) error {
	deadline := time.Now().Add(wait)
	pause := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := rdb.Ping(pctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().Add(pause).After(deadline) {
			return fmt.Errorf("unreachable after %d attempts over %s: %w", attempt, wait, err)
		}
		log.Warn("redis unreachable, retrying", "attempt", attempt, "retry_in", pause.String(), "error", err.Error())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// newRedisUp returns the flashwire_redis_up gauge: 1 when Redis answers a
// PING within a second at scrape time, 0 otherwise, the figure /readyz
// gives load balancers.
func newRedisUp(rdb redis.UniversalClient) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "flashwire_redis_up",
		Help: "1 when Redis answered a PING within 1 s at scrape time, else 0.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if rdb.Ping(ctx).Err() != nil {
			return 0
		}
		return 1
	})
}
