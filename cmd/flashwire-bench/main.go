// Command flashwire-bench is Flashwire's load generator: it opens many
// WebSocket connections to a running instance, publishes alerts through
// the API, and reports how long the alerts took to reach every connection
// and how much server memory each connection costs.
//
//	flashwire-bench -url http://127.0.0.1:8080 -token ADMIN_OR_EDITOR_TOKEN -conns 15000 -alerts 10
//
// Against a loopback server it spreads its connections' source addresses
// over 127.0.0.1 to 127.0.0.N (-sources), so neither the ephemeral port
// range nor the per-address connection limit is the bottleneck.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "flashwire-bench:", err)
		os.Exit(1)
	}
}
