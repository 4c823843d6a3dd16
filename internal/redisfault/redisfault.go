// Package redisfault turns a Redis that cannot be reached into an error of
// kind flashwire.ErrUnavailable, for every command of a client, in one
// place: a hook that cmd/flashwire (and the tests' redistest) installs
// where the client is built. A request that needs Redis while it is down,
// restarting or failing over is then answered 503 with Retry-After by
// web/errors.go like any other ErrUnavailable, whichever package's keys it
// touched, and no package has to remember to classify its own errors.
//
// Only failures to reach Redis are classified: refused or dropped
// connections, timeouts, a closed client, an exhausted pool, and a server
// that answers but cannot serve yet (LOADING, MASTERDOWN, CLUSTERDOWN,
// TRYAGAIN). Replies such as redis.Nil and script errors, and a caller's
// own cancelled context, pass unchanged. The original error stays in the
// chain: errors.Is still finds it and the log still shows it.
//
// It owns no keys, and must never be imported by anything but the code that
// builds clients.
package redisfault

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// Retry is the wait a 503 suggests: long enough for a restart or a
// failover to make progress, short enough that a publish is not held up.
const Retry = 2 * time.Second

// errStore is the kind, message and wait every classified failure carries;
// the message is what a client is told.
var errStore = &flashwire.Error{
	Kind:    flashwire.ErrUnavailable,
	Message: "the data store is unavailable; try again in a few seconds",
	Retry:   Retry,
}

// Install makes every command of rdb, alone or in a pipeline, return
// failures to reach Redis as errors of kind flashwire.ErrUnavailable.
func Install(rdb redis.UniversalClient) {
	rdb.AddHook(hook{})
}

// Down reports whether err says Redis could not be reached or cannot
// serve now, as opposed to an answer (redis.Nil, a script error) or the
// caller giving up.
func Down(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, flashwire.ErrUnavailable) {
		return false
	}
	var netErr net.Error
	switch {
	case errors.As(err, &netErr),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, redis.ErrClosed), errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrPoolExhausted):
		return true
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		msg := strings.TrimPrefix(reply.Error(), "ERR ")
		for _, p := range []string{"LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN"} {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
	}
	return false
}

// downError is a failure to reach Redis: of kind ErrUnavailable through
// errStore, its cause kept for errors.Is and the log.
type downError struct{ cause error }

func (e *downError) Error() string   { return "redis unavailable: " + e.cause.Error() }
func (e *downError) Unwrap() []error { return []error{errStore, e.cause} }

func classify(err error) error {
	if Down(err) {
		return &downError{cause: err}
	}
	return err
}

// hook classifies the error of each command after go-redis has retried it.
type hook struct{}

func (hook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		mark(cmd)
		return classify(err)
	}
}

func (hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			mark(cmd)
		}
		return classify(err)
	}
}

// mark classifies the error a command holds, which is what its Result and
// Err methods return to the caller.
func mark(cmd redis.Cmder) {
	if err := cmd.Err(); Down(err) {
		cmd.SetErr(&downError{cause: err})
	}
}
