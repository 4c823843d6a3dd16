// Command flashwire runs the Flashwire breaking-news push service and its
// administrative subcommands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	// Quiet hours use IANA time zones; the container image has no zoneinfo.
	_ "time/tzdata"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "flashwire:", err)
		var usage *usageError
		if errors.As(err, &usage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

const usageText = `usage:
  flashwire [serve] [flags]                         run the service (the default)
  flashwire token create --role editor|admin --name NAME
  flashwire token list
  flashwire token revoke ID
  flashwire version                                 print the version, VCS revision and Go version
Run "flashwire serve -h" for the settings; each flag has a FLASHWIRE_* variable.`

// run is the whole program; main only calls it. It blocks until ctx ends
// for serve, and returns the first real error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "token":
		return tokenCommand(ctx, args, getenv, stdout, stderr)
	case "version":
		return versionCommand(stdout)
	case "help":
		fmt.Fprintln(stdout, usageText)
		return nil
	}
	return &usageError{msg: fmt.Sprintf("unknown command %q\n%s", cmd, usageText)}
}
