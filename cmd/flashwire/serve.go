package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"flashwire/notifier"
	"flashwire/notifier/outbound"
	"flashwire/notifier/watch"
	"flashwire/notifier/webhook"
	"flashwire/notifier/webpush"
	"flashwire/subscribers"
	"flashwire/web"
)

// shutdownTimeout bounds the whole shutdown sequence.
const shutdownTimeout = 15 * time.Second

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig("flashwire serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	routeRedisLogs(log)
	raiseOpenFileLimit(log)
	setMemoryLimit(getenv, cfg.MaxConnections, log)
	setGCPercent(getenv, log)
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	guard := outbound.Config{Allow: cfg.OutboundAllow}

	rdb, closeRedis, err := openRedis(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeRedis()
	embedded := len(cfg.RedisURLs) == 0

	store := subscribers.NewStore(rdb)
	store.Shards = cfg.ReaderShards
	if err := store.Seed(ctx); err != nil {
		return err
	}
	// The shard count is fixed per installation; readers of an earlier
	// unsharded index move into their shards here, once.
	var shardsErr *subscribers.ShardsError
	if err := store.InitShards(ctx); errors.As(err, &shardsErr) {
		return &usageError{msg: "FLASHWIRE_READER_SHARDS: " + shardsErr.Error()}
	} else if err != nil {
		return err
	}
	// Readers not seen for subscribers.ReaderTTL leave the audience
	// indexes. Any instance may sweep; it stops with ctx.
	go store.RunSweeper(ctx, time.Hour, func(err error) { log.Warn("sweep readers", "error", err.Error()) })
	adminToken := cfg.AdminToken
	if adminToken == "" && embedded {
		adminToken = web.NewSecret()
	}
	tokens := web.NewTokens(rdb, adminToken)

	reg := prometheus.NewRegistry()
	bin := readBuild()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newBuildInfo(bin), newRedisUp(rdb))

	alertLog := notifier.NewLog(rdb)
	alerts := notifier.NewService(alertLog, store)
	alerts.MinGap = cfg.MinGap
	// Every instance polls for scheduled alerts; claiming is atomic, so
	// each goes out once. It stops first on shutdown (step 1).
	schedulerDone := make(chan struct{})
	go func() { defer close(schedulerDone); alerts.RunScheduler(ctx, log) }()
	// The feed watcher polls newsroom feeds on every instance; a lease per
	// source makes one instance poll each. It stops first on shutdown too.
	watcher := watch.New(watch.Config{Redis: rdb, Alerts: alerts, Taxonomy: store, Logger: log, Registry: reg, Outbound: guard, Version: bin.Version})
	if err := watcher.Start(ctx); err != nil {
		return fmt.Errorf("start feed watcher: %w", err)
	}
	stats := notifier.NewStats(rdb)
	hub := web.NewHub(web.HubConfig{
		Log:                 alertLog,
		Stats:               stats,
		Registry:            reg,
		Logger:              log,
		MaxConnections:      cfg.MaxConnections,
		MaxConnectionsPerIP: cfg.MaxConnectionsPerIP,
		Taxonomy:            store,
		// Dry runs count readers online on every instance; the hub
		// registers this one while it runs and leaves in step 2.
		Online: &web.OnlineConfig{Redis: rdb, InstanceID: consumerName(cfg.InstanceID)},
	})
	// The hub outlives ctx: its writers send the goodbye frames during
	// shutdown. It stops when serve returns.
	hubCtx, stopHub := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHub()
	go func() { _ = hub.Run(hubCtx) }()
	// Webhooks: on every instance the dispatcher turns alert events into
	// durable deliveries (a consumer group on the alert log) and the sender
	// delivers them. The group exists before the first publish so no event
	// is missed; the sender outlives ctx to drain in step 3 of shutdown.
	partnerSecrets := webhook.NewSecrets(rdb)
	sender := webhook.NewSender(rdb, webhook.NewStoreDirectory(store), partnerSecrets, webhook.Options{
		Outbound: guard,
		Timeout:  cfg.WebhookTimeout,
		Workers:  cfg.WebhookWorkers,
		Lease:    cfg.WebhookLease,
		Version:  bin.Version,
		Logger:   log,
		Registry: reg,
		Stats:    stats,
	})
	dispatcher := webhook.NewDispatcher(alertLog, consumerName(cfg.InstanceID), webhook.NewStoreDirectory(store), sender, stats, log)
	if err := dispatcher.Group().Create(ctx); err != nil {
		return err
	}
	// The dispatcher stops with ctx and writes the figures it holds; the
	// drain waits for that too, before Redis closes.
	dispatcherDone := make(chan struct{})
	go func() { defer close(dispatcherDone); _ = dispatcher.Run(ctx) }()
	senderCtx, stopSender := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSender()
	senderDone := make(chan struct{})
	go func() { defer close(senderDone); _ = sender.Run(senderCtx) }()
	drainWebhooks := func(ctx context.Context) {
		stopSender()
		select {
		case <-senderDone:
		case <-ctx.Done():
			log.Warn("webhook deliveries still in flight at the deadline; their leases run out and any instance retries them")
			return
		}
		select {
		case <-dispatcherDone:
		case <-ctx.Done():
		}
	}
	// Web Push: like webhooks, a dispatcher on every instance turns alert
	// events into durable jobs (one per reader shard) and the sender walks
	// them; it outlives ctx to drain in step 3 of shutdown.
	vapid := cfg.VAPID
	if vapid == (webpush.Keys{}) {
		if vapid, err = webpush.LoadKeys(ctx, rdb); err != nil {
			return err
		}
	}
	if cfg.VAPIDSubject == "" {
		log.Warn("FLASHWIRE_VAPID_SUBJECT is not set: push services expect a contact (mailto:ADDRESS or an https: URL) and may refuse or throttle Web Push without one; set it in production")
	}
	pusher := webpush.NewSender(rdb, store, webpush.Options{
		Keys:     vapid,
		Subject:  cfg.VAPIDSubject,
		Outbound: guard,
		Workers:  cfg.WebPushWorkers,
		Lease:    cfg.WebPushLease,
		Logger:   log,
		Registry: reg,
		Stats:    stats,
	})
	pushDispatcher := webpush.NewDispatcher(alertLog, consumerName(cfg.InstanceID), pusher, log)
	if err := pushDispatcher.Group().Create(ctx); err != nil {
		return err
	}
	go func() { _ = pushDispatcher.Run(ctx) }()
	pusherCtx, stopPusher := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPusher()
	pusherDone := make(chan struct{})
	go func() { defer close(pusherDone); _ = pusher.Run(pusherCtx) }()
	drainPush := func(ctx context.Context) {
		stopPusher()
		select {
		case <-pusherDone:
		case <-ctx.Done():
			log.Warn("web push jobs still in flight at the deadline; their leases run out and any instance goes on with them")
		}
	}
	handler := web.NewServer(web.Config{
		Logger:         log,
		Redis:          rdb,
		Alerts:         alerts,
		Subscribers:    store,
		Tokens:         tokens,
		AllowedOrigins: cfg.AllowedOrigins,
		PublicURL:      cfg.PublicURL,
		Registry:       reg,
		Hub:            hub,
		Stats:          stats,
		Watcher:        watcher,
		PartnerSecrets: partnerSecrets,
		Webhooks:       sender,
		Push:           pusher,
		TrustedProxies: cfg.TrustedProxies,
	})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("FLASHWIRE_ADDR: listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		// No WriteTimeout: SSE streams stay open for hours. Handlers that
		// stream clear or set their own deadlines; the rest answer fast.
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 32 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Shutdown does not close hijacked connections: the hub closes
	// WebSockets (1012 with a jittered reconnect hint) and ends SSE streams
	// at the start of step 2 of shutdown; step 2 ends when it is done.
	hubClosed := make(chan struct{})
	srv.RegisterOnShutdown(func() {
		defer close(hubClosed)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hub.Shutdown(ctx)
	})
	waitHub := func(ctx context.Context) {
		select {
		case <-hubClosed:
		case <-ctx.Done():
		}
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	public := cfg.PublicURL
	if public == "" {
		public = "http://" + displayHost(ln.Addr())
	}
	log.Info("flashwire listening", "addr", ln.Addr().String(), "public_url", public, "embedded_redis", embedded,
		"version", bin.Version, "revision", bin.Revision)
	fmt.Fprintf(stdout, "Flashwire is running.\n  Reader demo page: %s/\n  Editor console:   %s/editor\n", public, public)
	if adminToken != "" && cfg.AdminToken == "" {
		fmt.Fprintf(stdout, "  Admin token:      %s  (generated for this run; set FLASHWIRE_ADMIN_TOKEN to choose one)\n", adminToken)
	}

	select {
	case <-ctx.Done():
		log.Info("shutting down", "deadline", shutdownTimeout.String())
	case err := <-serveErr:
		return fmt.Errorf("http server: %w", err)
	}
	return shutdown(log, []step{
		{"stop the alert scheduler", func(ctx context.Context) {
			select {
			case <-schedulerDone: // a poll under way finishes within 10 s
			case <-ctx.Done():
			}
		}},
		// Polls of feeds under way finish (each bounded by the fetch
		// timeout) and the leases go back, so another instance takes over
		// the sources at once.
		{"stop the feed watcher", watcher.Stop},
		{"stop accepting and close connections", func(ctx context.Context) {
			if err := srv.Shutdown(ctx); err != nil {
				log.Warn("http shutdown incomplete", "error", err.Error())
			}
			waitHub(ctx)
		}},
		{"drain webhook deliveries", drainWebhooks},
		{"drain web push", drainPush},
	})
}

// step is one stage of shutdown.
type step struct {
	name string
	run  func(context.Context)
}

// shutdown runs the steps in order under one deadline of shutdownTimeout
// from the signal, so the whole sequence ends within it:
//
//  1. stop schedulers (alert scheduler, feed watcher), so no new work starts;
//  2. stop accepting connections and finish in-flight requests
//     (http.Server.Shutdown); it does not close hijacked connections, so
//     WebSockets are closed by the hub, with a reconnect hint, from a
//     RegisterOnShutdown hook at the start of this step, once the hub has
//     left the instances that dry runs count readers online on;
//  3. drain webhook deliveries and Web Push in flight (a push job gives
//     its lease back after the step it is at);
//  4. close Redis (deferred by serve, after this returns).
func shutdown(log *slog.Logger, steps []step) error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	start := time.Now()
	for _, s := range steps {
		began := time.Now()
		s.run(ctx)
		log.Info("shutdown step done", "step", s.name, "took", time.Since(began).String())
	}
	log.Info("shutdown complete", "took", time.Since(start).String())
	return nil
}

// consumerName names this process in the alert log's consumer groups:
// the configured instance id, which lets a restart resume its own pending
// events at once, or else unique per process; readable in XINFO.
func consumerName(instanceID string) string {
	if instanceID != "" {
		return instanceID
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// displayHost turns a listening address into something a browser can open.
func displayHost(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + port
}

// raiseOpenFileLimit lifts the soft limit on open files to the hard limit:
// every WebSocket is a file.
func raiseOpenFileLimit(log *slog.Logger) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("cannot read the open-file limit", "error", err.Error())
		return
	}
	if lim.Cur < lim.Max {
		old := lim.Cur
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			log.Warn("cannot raise the open-file limit", "soft", old, "hard", lim.Max, "error", err.Error())
			return
		}
	}
	log.Info("open-file limit", "soft", lim.Cur, "hard", lim.Max)
}
