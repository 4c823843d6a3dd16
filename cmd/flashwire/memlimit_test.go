package main

import (
	"io"
	"log/slog"
	"runtime/debug"
	"testing"
)

func TestDefaultMemoryLimit(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		name     string
		maxConns int
		cgroup   int64
		want     int64
		from     string
	}{
		// The default 20,000 connections, no container limit.
		{"Default", 20000, 0, 64*mib + 20000*8<<10, "FLASHWIRE_MAX_CONNECTIONS"},
		// A container roomier than the connections need.
		{"RoomyContainer", 20000, 4096 * mib, 64*mib + 20000*8<<10, "FLASHWIRE_MAX_CONNECTIONS"},
		// A container smaller: 90% of it.
		{"SmallContainer", 20000, 200 * mib, 180 * mib, "cgroup memory limit"},
		// Few connections allowed: little more than the idle process.
		{"FewConnections", 100, 0, 64*mib + 100*8<<10, "FLASHWIRE_MAX_CONNECTIONS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, from := defaultMemoryLimit(tc.maxConns, tc.cgroup)
			if got != tc.want || from != tc.from {
				t.Errorf("defaultMemoryLimit(%d, %d) = %d from %s, want %d from %s", tc.maxConns, tc.cgroup, got, from, tc.want, tc.from)
			}
		})
	}
}

// TestGCPercent: unset, GOGC becomes defaultGCPercent; set, the runtime's
// own reading of it stands.
func TestGCPercent(t *testing.T) {
	was := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(was) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	setGCPercent(func(string) string { return "" }, log)
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("GOGC unset: gc percent %d, want %d", got, defaultGCPercent)
	}
	setGCPercent(func(k string) string {
		if k == "GOGC" {
			return "200"
		}
		return ""
	}, log)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set: gc percent changed to %d", got)
	}
}
