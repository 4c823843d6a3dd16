package main

import "testing"

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
