package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"flashwire/web"
)

// tokenCommand manages API tokens in a real Redis: create, list, revoke.
func tokenCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &usageError{msg: "token needs a subcommand: create, list or revoke\n" + usageText}
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("flashwire token "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	role := fs.String("role", "", "editor or admin (create)")
	name := fs.String("name", "", "who or what the token is for (create)")
	redisURL := fs.String("redis-url", "", "Redis URL (env FLASHWIRE_REDIS_URL)")
	if err := fs.Parse(args); err != nil {
		return &usageError{msg: err.Error()}
	}
	var cargs []string
	if *redisURL != "" {
		cargs = []string{"-redis-url", *redisURL}
	}
	cfg, err := parseConfig("flashwire token", cargs, getenv, stderr)
	if err != nil {
		return err
	}
	if len(cfg.RedisURLs) == 0 {
		return &usageError{msg: "FLASHWIRE_REDIS_URL: token commands need the Redis the service uses; an embedded Redis lives only inside a running server (use its printed admin token and /api/v1/tokens)"}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	routeRedisLogs(log)
	rdb, closeRedis, err := openRedis(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeRedis()
	tokens := web.NewTokens(rdb, "")

	switch sub {
	case "create":
		r, err := web.ParseRole(*role)
		if err != nil {
			return &usageError{msg: "--role: must be editor or admin"}
		}
		if *name == "" {
			return &usageError{msg: "--name: is required"}
		}
		tok, secret, err := tokens.Create(ctx, *name, r)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "created %s token %s (%s); it is shown once:\n", tok.Role, tok.ID, tok.Name)
		fmt.Fprintln(stdout, secret)
		return nil
	case "list":
		list, err := tokens.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROLE\tNAME\tCREATED")
		for _, t := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Role, t.Name, t.CreatedAt.Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return &usageError{msg: "token revoke needs one token id"}
		}
		if err := tokens.Revoke(ctx, fs.Arg(0)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", fs.Arg(0))
		return nil
	}
	return &usageError{msg: fmt.Sprintf("unknown token subcommand %q: use create, list or revoke", sub)}
}
