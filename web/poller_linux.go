//go:build linux

package web

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pollReaders is how many WebSockets are read at once. A reader reads what
// has arrived and goes on to the next socket; it never waits for bytes.
const pollReaders = 64

// poller waits for bytes on every idle WebSocket with one epoll instance,
// so an idle connection has no goroutine (a parked reader holds a 4 KiB
// stack: about a third of what an idle connection cost). When bytes
// arrive, one of pollReaders goroutines reads the frames that came
// (client.readPump) and hands the socket back. A socket is registered
// one-shot: it fires once and stays silent until re-armed after its read,
// so it still has one reader at a time. Since no goroutine waits on a read
// deadline, the idle timeout is a sweep over the sockets each second
// (wsTransport.idle).
type poller struct {
	logger *slog.Logger
	// epfd is the epoll instance; closed when run ends.
	epfd  int
	ready chan *wsTransport

	mu     sync.Mutex
	conns  map[uint64]*wsTransport // guarded by mu; by epoll event data
	lastID uint64                  // guarded by mu
	closed bool                    // guarded by mu; epfd is closed
}

// newPoller returns a poller, or nil when epoll is not available, in which
// case every WebSocket gets a reading goroutine of its own.
func newPoller(logger *slog.Logger) *poller {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		logger.Warn("no epoll: one reading goroutine per WebSocket", "error", err.Error())
		return nil
	}
	return &poller{logger: logger, epfd: fd, ready: make(chan *wsTransport, pollReaders), conns: map[uint64]*wsTransport{}}
}

// pollEvents is armed on each socket: bytes, the peer's half close, and
// (always reported) errors and hang-ups, once.
const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// add starts waiting for bytes on t, whose handler has given up reading.
// False means t cannot be waited on (not a socket, the poller stopped, the
// connection already closed): the caller reads it with a goroutine.
func (p *poller) add(t *wsTransport) bool {
	if p == nil {
		return false
	}
	sc, ok := t.ws.NetConn().(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	t.raw = raw
	added := false
	// Control keeps the descriptor open while it is registered, so it is
	// never a newer connection's reused number.
	err = raw.Control(func(fd uintptr) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.closed || t.c.closed.Load() {
			return
		}
		p.lastID++
		t.id = p.lastID
		p.conns[t.id] = t
		if unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), event(t.id)) != nil {
			delete(p.conns, t.id)
			t.id = 0
			return
		}
		added = true
	})
	return err == nil && added
}

// rearm hands t back after its read. A closed connection was forgotten;
// a failure to re-arm ends it.
func (p *poller) rearm(t *wsTransport) {
	var failed bool
	err := t.raw.Control(func(fd uintptr) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.conns[t.id] == t && !p.closed {
			failed = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, int(fd), event(t.id)) != nil
		}
	})
	if err != nil || failed {
		t.c.close()
	}
}

// forget stops watching t once its socket is closed; closing the socket
// took it out of the epoll set.
func (p *poller) forget(t *wsTransport) {
	if p == nil {
		return
	}
	p.mu.Lock()
	delete(p.conns, t.id)
	p.mu.Unlock()
}

// event is the epoll registration of the socket named id: the kernel hands
// the 64 bits back with each event. Ids are never reused, so an event for
// a socket closed meanwhile names no one.
func event(id uint64) *unix.EpollEvent {
	return &unix.EpollEvent{Events: pollEvents, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
}

// run waits for bytes and sweeps idle sockets until ctx ends, then closes
// the epoll instance; its readers end with it.
func (p *poller) run(ctx context.Context) {
	if p == nil {
		return
	}
	defer func() {
		p.mu.Lock()
		p.closed = true
		_ = unix.Close(p.epfd)
		p.mu.Unlock()
	}()
	for range pollReaders {
		go p.readLoop(ctx)
	}
	events := make([]unix.EpollEvent, 256)
	swept := time.Now()
	for ctx.Err() == nil {
		// A one-second wait lets run see ctx end and sweep on time.
		n, err := unix.EpollWait(p.epfd, events, 1000)
		if err != nil && err != unix.EINTR {
			p.logger.Error("epoll wait failed; idle WebSockets are no longer read", "error", err.Error())
			return
		}
		for _, ev := range events[:max(n, 0)] {
			p.mu.Lock()
			t := p.conns[uint64(uint32(ev.Fd))|uint64(uint32(ev.Pad))<<32]
			p.mu.Unlock()
			if t == nil {
				continue
			}
			select {
			case p.ready <- t:
			case <-ctx.Done():
				return
			}
		}
		if now := time.Now(); now.Sub(swept) >= time.Second {
			p.sweep(now)
			swept = now
		}
	}
}

// readLoop is one of the readers: it reads each socket handed to it.
func (p *poller) readLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-p.ready:
			p.done(t, t.c.readPump(t))
		}
	}
}

// done hands t back once its reader is done with what came, or ends it.
// The rest of a message longer than the buffer may be slow to come: a
// goroutine of its own waits for it (within writeWait), not a reader, so
// slow senders never hold up the others.
func (p *poller) done(t *wsTransport, err error) {
	switch {
	case errors.Is(err, errLongMessage):
		go func() {
			_ = t.ws.SetReadDeadline(time.Now().Add(writeWait))
			err := t.c.readMessage(t)
			if err == nil {
				err = t.c.readBuffered(t)
			}
			p.done(t, err)
		}()
	case err != nil:
		t.c.close()
	default:
		p.rearm(t)
	}
}

// sweep closes the sockets silent past their idle deadline.
func (p *poller) sweep(now time.Time) {
	var idle []*wsTransport
	p.mu.Lock()
	for _, t := range p.conns {
		if t.idle.Load() < now.UnixNano() {
			idle = append(idle, t)
		}
	}
	p.mu.Unlock()
	for _, t := range idle {
		t.c.close()
	}
}
