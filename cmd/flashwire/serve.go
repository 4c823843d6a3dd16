package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"flashwire/notifier"
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
	raiseOpenFileLimit(log)

	rdb, closeRedis, err := openRedis(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeRedis()
	embedded := len(cfg.RedisURLs) == 0

	store := subscribers.NewStore(rdb)
	if err := store.Seed(ctx); err != nil {
		return err
	}
	adminToken := cfg.AdminToken
	if adminToken == "" && embedded {
		adminToken = web.NewSecret()
	}
	tokens := web.NewTokens(rdb, adminToken)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	alerts := notifier.NewService(notifier.NewLog(rdb), store)
	handler := web.NewServer(web.Config{
		Logger:         log,
		Redis:          rdb,
		Alerts:         alerts,
		Subscribers:    store,
		Tokens:         tokens,
		AllowedOrigins: cfg.AllowedOrigins,
		PublicURL:      cfg.PublicURL,
		Registry:       reg,
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
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	public := cfg.PublicURL
	if public == "" {
		public = "http://" + displayHost(ln.Addr())
	}
	log.Info("flashwire listening", "addr", ln.Addr().String(), "public_url", public, "embedded_redis", embedded)
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
	return shutdown(log, srv)
}

// shutdown stops the service in a fixed order, all within shutdownTimeout:
//
//  1. stop schedulers, so no new work starts;
//  2. stop accepting connections and finish in-flight requests
//     (http.Server.Shutdown); it does not close hijacked connections, so
//     WebSockets are closed by the hub, with a reconnect hint, from a
//     RegisterOnShutdown hook at the start of this step;
//  3. drain webhook deliveries in flight;
//  4. close Redis (deferred by serve, after this returns).
func shutdown(log *slog.Logger, srv *http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("http shutdown incomplete", "error", err.Error())
	}
	log.Info("shutdown complete", "took", time.Since(start).String())
	return nil
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
