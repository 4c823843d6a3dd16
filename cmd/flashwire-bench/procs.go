package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a process the tool started: a redis-server, a Flashwire
// instance, a floor server or a client worker. Every child is stopped by
// the mode that started it, on every path out.
type child struct {
	name string
	cmd  *exec.Cmd
	tail *tailBuffer
	done chan struct{}
}

// tailBuffer keeps the last 16 KiB a child printed, for error messages.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - 16<<10; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// startChild starts bin with args and env (added to this process's). When
// stdin or stdout are wanted the caller gets the pipes; otherwise what the
// child prints goes to its tail.
func startChild(name, bin string, args, env []string, pipes bool) (*child, io.WriteCloser, io.Reader, error) {
	c := &child{name: name, cmd: exec.Command(bin, args...), tail: &tailBuffer{}, done: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stderr = c.tail
	// Should this process die without stopping its children (SIGKILL, a
	// crash), Linux ends them too, so no run outlives the tool.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	var stdin io.WriteCloser
	var stdout io.Reader
	if pipes {
		var err error
		if stdin, err = c.cmd.StdinPipe(); err != nil {
			return nil, nil, nil, err
		}
		if stdout, err = c.cmd.StdoutPipe(); err != nil {
			return nil, nil, nil, err
		}
	} else {
		c.cmd.Stdout = c.tail
	}
	if err := c.cmd.Start(); err != nil {
		return nil, nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	return c, stdin, stdout, nil
}

// stop asks the child to end (SIGTERM) and kills it after 10 seconds.
func (c *child) stop() {
	if c == nil {
		return
	}
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// exited says whether the child has ended, with what it printed last.
func (c *child) exited() error {
	select {
	case <-c.done:
		return fmt.Errorf("%s exited: %v\n%s", c.name, c.cmd.ProcessState, c.tail.String())
	default:
		return nil
	}
}

// rssKiB reads the child's resident memory, VmRSS in /proc/PID/status.
func (c *child) rssKiB() (float64, error) {
	return rssKiB(c.cmd.Process.Pid)
}

func rssKiB(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read resident memory: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				return 0, fmt.Errorf("read resident memory: %q: %w", line, err)
			}
			return kb, nil
		}
	}
	return 0, errors.New("read resident memory: no VmRSS line")
}

// freeAddr returns a loopback address nothing listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startRedis starts a redis-server in its own directory under dir, on a
// free loopback port, with append-only persistence fsynced every second
// (as a production Redis for Flashwire runs), and returns its URL.
func startRedis(ctx context.Context, dir string) (*child, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	_, port, _ := net.SplitHostPort(addr)
	data := filepath.Join(dir, "redis-"+port)
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, "", err
	}
	c, _, _, err := startChild("redis-server", "redis-server", []string{
		"--port", port, "--bind", "127.0.0.1", "--dir", data, "--save", "",
		"--appendonly", "yes", "--appendfsync", "everysec", "--maxclients", "10000",
	}, nil, false)
	if err != nil {
		return nil, "", err
	}
	if err := waitFor(ctx, 10*time.Second, func() bool {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		defer conn.Close()
		_, _ = conn.Write([]byte("PING\r\n"))
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		line, _ := bufio.NewReader(conn).ReadString('\n')
		return strings.HasPrefix(line, "+PONG")
	}); err != nil {
		c.stop()
		return nil, "", fmt.Errorf("redis-server on %s: %w\n%s", addr, err, c.tail.String())
	}
	return c, "redis://" + addr, nil
}

// startFlashwire starts a Flashwire instance on a free loopback port and
// returns its base URL once /readyz answers 200.
func startFlashwire(ctx context.Context, bin, name, redisURL, token string, env ...string) (*child, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	c, _, _, err := startChild(name, bin, nil, append([]string{
		"FLASHWIRE_ADDR=" + addr,
		"FLASHWIRE_REDIS_URL=" + redisURL,
		"FLASHWIRE_ADMIN_TOKEN=" + token,
		"FLASHWIRE_INSTANCE_ID=" + name,
		"FLASHWIRE_LOG_LEVEL=warn",
	}, env...), false)
	if err != nil {
		return nil, "", err
	}
	base := "http://" + addr
	if err := waitFor(ctx, 30*time.Second, func() bool {
		if c.exited() != nil {
			return true
		}
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}); err != nil || c.exited() != nil {
		c.stop()
		return nil, "", fmt.Errorf("%s not ready: %v\n%s", name, err, c.tail.String())
	}
	return c, base, nil
}

// startFloor starts the floor server (this binary, floor-server) and
// returns its base URL.
func startFloor(self, name string) (*child, string, error) {
	c, stdin, stdout, err := startChild(name, self, []string{"floor-server"}, nil, true)
	if err != nil {
		return nil, "", err
	}
	_ = stdin // the floor server reads nothing; the pipe closes with it
	lines := bufio.NewReader(stdout)
	line, err := lines.ReadString('\n')
	if err != nil {
		c.stop()
		return nil, "", fmt.Errorf("%s: %w\n%s", name, err, c.tail.String())
	}
	go func() { _, _ = io.Copy(io.Discard, lines) }()
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if !ok {
		c.stop()
		return nil, "", fmt.Errorf("%s printed %q", name, line)
	}
	return c, base, nil
}

// buildFlashwire compiles cmd/flashwire into dir, from the module the
// working directory is in.
func buildFlashwire(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "flashwire")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "flashwire/cmd/flashwire")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build flashwire/cmd/flashwire (run from the repository, or give -flashwire-bin): %w\n%s", err, out.String())
	}
	return bin, nil
}

// waitFor polls cond every 50 ms until it holds or within passes.
func waitFor(ctx context.Context, within time.Duration, cond func() bool) error {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// sleep waits for d or the end of ctx.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
