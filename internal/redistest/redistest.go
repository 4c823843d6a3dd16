package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire/internal/redisfault"
)

// Server is one running redis-server.
type Server struct {
	Addr string
	opts Options
	bin  string
	args []string

	mu  sync.Mutex // guards cmd
	cmd *exec.Cmd
}

// Options are the settings of a single server that Start leaves at their
// defaults.
type Options struct {
	// Password, when set, is required of every client (requirepass).
	Password string
	// AppendOnly keeps every write in an append-only file that a Restart
	// reads back, as a production Redis with appendonly yes does.
	AppendOnly bool
}

// URL returns the server's redis:// URL, with its password if it has one.
func (s *Server) URL() string {
	if s.opts.Password != "" {
		return "redis://:" + s.opts.Password + "@" + s.Addr
	}
	return "redis://" + s.Addr
}

// Stop kills the server at once, as a crash would. With AppendOnly, what
// it had written to its file (every write, fsynced each second) survives
// for Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart starts the stopped server again on the same address, with the
// same files, and waits until it answers.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		tb.Fatal("redistest: Restart of a running server")
	}
	cmd, output := launch(tb, s.bin, s.args)
	if err := waitReady(s.Addr, s.opts.Password, 10*time.Second); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		tb.Fatalf("restart redis-server on %s: %v\n%s", s.Addr, err, <-output)
	}
	s.cmd = cmd
}

// Binary returns the path of redis-server, skipping or failing tb when it
// is missing.
func Binary(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		Missing(tb, "redis-server (apt-get install redis-server, or run make test)")
	}
	return path
}

// Missing skips tb for lack of what, or fails it under CI=true.
func Missing(tb testing.TB, what string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("missing test dependency: %s", what)
	}
	tb.Skipf("missing test dependency: %s", what)
}

// Start runs a single redis-server for tb and returns it with a client.
func Start(tb testing.TB) (*Server, *redis.Client) {
	tb.Helper()
	return StartWith(tb, Options{})
}

// StartWith runs a single redis-server with opts for tb and returns it
// with a client.
func StartWith(tb testing.TB, opts Options) (*Server, *redis.Client) {
	tb.Helper()
	srv := start(tb, opts, nil)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Password: opts.Password})
	redisfault.Install(rdb)
	tb.Cleanup(func() { _ = rdb.Close() })
	return srv, rdb
}

// Cluster is a running three-master Redis Cluster.
type Cluster struct {
	Nodes []*Server
}

// Addrs returns the nodes' addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr
	}
	return out
}

// URL returns the comma-separated redis:// URLs that Flashwire reads as a
// Cluster.
func (c *Cluster) URL() string {
	urls := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		urls[i] = n.URL()
	}
	return strings.Join(urls, ",")
}

// StartCluster runs three redis-server masters for tb, splits the 16384
// slots between them, and waits until the cluster reports ok.
func StartCluster(tb testing.TB) (*Cluster, *redis.ClusterClient) {
	tb.Helper()
	c := &Cluster{}
	for range 3 {
		c.Nodes = append(c.Nodes, start(tb, Options{}, []string{"--cluster-enabled", "yes", "--cluster-node-timeout", "5000"}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	per := 16384 / len(c.Nodes)
	for i, n := range c.Nodes {
		lo, hi := i*per, (i+1)*per-1
		if i == len(c.Nodes)-1 {
			hi = 16383
		}
		node := redis.NewClient(&redis.Options{Addr: n.Addr})
		err := node.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err()
		if err == nil && i > 0 {
			host, port, _ := net.SplitHostPort(c.Nodes[0].Addr)
			err = node.Do(ctx, "CLUSTER", "MEET", host, port).Err()
		}
		_ = node.Close()
		if err != nil {
			tb.Fatalf("set up cluster node %s: %v", n.Addr, err)
		}
	}
	for _, n := range c.Nodes {
		node := redis.NewClient(&redis.Options{Addr: n.Addr})
		for {
			info, err := node.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:3") {
				break
			}
			if ctx.Err() != nil {
				tb.Fatalf("cluster did not become ok: %v %s", err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = node.Close()
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	redisfault.Install(rdb)
	tb.Cleanup(func() { _ = rdb.Close() })
	// Every node must see every slot before the client is handed out.
	for {
		err := rdb.ForEachShard(ctx, func(ctx context.Context, s *redis.Client) error { return s.Ping(ctx).Err() })
		if err == nil && rdb.Set(ctx, "redistest:probe", "1", time.Second).Err() == nil {
			break
		}
		if ctx.Err() != nil {
			tb.Fatalf("cluster client not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c, rdb
}

// start runs redis-server with opts and extra arguments on a free port,
// retrying when another process takes the port first.
func start(tb testing.TB, opts Options, extra []string) *Server {
	tb.Helper()
	bin := Binary(tb)
	dir := tb.TempDir()
	appendOnly := "no"
	if opts.AppendOnly {
		appendOnly = "yes"
	}
	var lastErr error
	for range 5 {
		port, err := freePort(len(extra) > 0)
		if err != nil {
			lastErr = err
			continue
		}
		args := append([]string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", appendOnly, "--appendfsync", "everysec", "--dir", dir,
			"--appendfilename", "appendonly-" + strconv.Itoa(port) + ".aof",
			"--appenddirname", "aof-" + strconv.Itoa(port),
			"--dbfilename", "dump-" + strconv.Itoa(port) + ".rdb",
			"--cluster-config-file", "nodes-" + strconv.Itoa(port) + ".conf",
			"--protected-mode", "no", "--loglevel", "warning",
		}, extra...)
		if opts.Password != "" {
			args = append(args, "--requirepass", opts.Password)
		}
		cmd, output := launch(tb, bin, args)
		srv := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), opts: opts, bin: bin, args: args, cmd: cmd}
		if err := waitReady(srv.Addr, opts.Password, 5*time.Second); err != nil {
			srv.Stop()
			lastErr = fmt.Errorf("redis-server on %s: %v\n%s", srv.Addr, err, <-output)
			continue
		}
		tb.Cleanup(srv.Stop)
		return srv
	}
	tb.Fatalf("could not start redis-server: %v", lastErr)
	return nil
}

// launch starts redis-server with args; output delivers the start of what
// it printed once it exits.
func launch(tb testing.TB, bin string, args []string) (*exec.Cmd, <-chan string) {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start redis-server: %v", err)
	}
	output := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if b.Len() < 4096 {
				b.WriteString(sc.Text() + "\n")
			}
		}
		output <- b.String()
	}()
	return cmd, output
}

func waitReady(addr, password string, within time.Duration) error {
	deadline := time.Now().Add(within)
	rdb := redis.NewClient(&redis.Options{Addr: addr, Password: password, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort finds a loopback port nobody listens on; for cluster nodes the
// bus port (port+10000) must be free as well.
func freePort(withBus bool) (int, error) {
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if !withBus {
			return port, nil
		}
		if port+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		if err != nil {
			continue
		}
		_ = bus.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free port pair found")
}
