// Command flashwire-bench is Flashwire's load generator.
//
// Without a subcommand it opens many WebSocket connections to a running
// instance, publishes alerts through the API, and reports how long the
// alerts took to reach every connection and how much server memory each
// connection costs:
//
//	flashwire-bench -url http://127.0.0.1:8080 -token ADMIN_OR_EDITOR_TOKEN -conns 15000 -alerts 10
//
// With compare it measures Flashwire against the floor in the same run:
// it starts the processes itself (redis-server, Flashwire instances, a
// minimal broadcaster and a bare webhook sender), alternates floor and
// Flashwire runs, and reports medians and ratios, optionally rewriting the
// generated section of BENCHMARKS.md:
//
//	flashwire-bench compare -flashwire-bin bin/flashwire -markdown BENCHMARKS.md
//
// floor-server and client are the child processes compare starts (this
// same binary): the minimal broadcaster, and a worker holding up to 15,000
// readers' connections.
//
// Against a loopback server it spreads its connections' source addresses
// over 127.0.0.1 to 127.0.0.N (-sources), so neither the ephemeral port
// range nor the per-address connection limit is the bottleneck.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "flashwire-bench:", err)
		os.Exit(1)
	}
}

// run picks the subcommand; without one it is the load test.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "compare":
			return runCompare(ctx, args[1:], stdout, stderr)
		case "floor-server":
			return runFloorServer(ctx, args[1:], stdout, stderr)
		case "client":
			return runClient(ctx, args[1:], stdin, stdout, stderr)
		}
	}
	return runLoad(ctx, args, getenv, stdout, stderr)
}
