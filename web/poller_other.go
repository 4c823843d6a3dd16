//go:build !linux

package web

import (
	"context"
	"log/slog"
)

// poller is epoll's (poller_linux.go); elsewhere every WebSocket has a
// reading goroutine of its own (client.readLoop).
type poller struct{}

func newPoller(*slog.Logger) *poller { return nil }

func (p *poller) add(*wsTransport) bool { return false }

func (p *poller) forget(*wsTransport) {}

func (p *poller) run(context.Context) {}
