package main

import (
	"bytes"
	"os/exec"
	"testing"
	"time"
)

// instance is one running flashwire process.
type instance struct {
	cmd  *exec.Cmd
	addr string
	out  *bytes.Buffer
	dead bool
}

// kill ends the process at once, as a crash would.
func (in *instance) kill(tb testing.TB) {
	tb.Helper()
	if err := in.cmd.Process.Kill(); err != nil {
		tb.Fatal(err)
	}
	_ = in.cmd.Wait()
	in.dead = true
}

// instanceOf returns the live instance holding a connection of transport.
func instanceOf(tb testing.TB, instances []*instance, transport string) *instance {
	tb.Helper()
	var found *instance
	waitFor(tb, 10*time.Second, "a "+transport+" connection on one instance", func() bool {
		for _, in := range instances {
			if !in.dead && metricValue(tb, in.addr, `flashwire_live_connections{transport="`+transport+`"}`) > 0 {
				found = in
				return true
			}
		}
		return false
	})
	return found
}

// waitFor polls cond until it holds, failing tb after within.
func waitFor(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("waited %s for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
