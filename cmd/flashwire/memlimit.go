package main

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// The default memory limit, when GOMEMLIMIT is not set.
const (
	// limitBase is an instance's allowance with no live connection: the
	// idle process holds about 20 MiB, the rest is room for bursts of API
	// requests and webhook and Web Push deliveries.
	limitBase = 64 << 20
	// limitPerConnection is the allowance per live connection, about twice
	// the Go memory an idle WebSocket holds (3.5 KiB with no goroutine; see
	// BENCHMARKS.md), so the limit binds only near FLASHWIRE_MAX_CONNECTIONS
	// and the collector never runs without pause below it.
	limitPerConnection = 8 << 10
	// limitCgroupShare is the share of a container's memory limit the Go
	// runtime may use: the rest is for memory it does not count (thread
	// stacks outside Go, the kernel's socket buffers are charged to the
	// container too).
	limitCgroupShare = 0.9
)

// defaultGCPercent is the collector's target when GOGC is not set: the
// heap may grow to 1.5 times the live memory between collections instead
// of twice. Nearly all of an instance's live memory is its connections,
// which stay; measured with flashwire-bench at 15,000 idle WebSockets it
// took resident memory from 6.7-7.1 to 5.5-6.2 KiB a connection, fan-out
// p99 unchanged (BENCHMARKS.md, "Memory per connection").
const defaultGCPercent = 50

// setGCPercent sets the collector's target to defaultGCPercent unless GOGC
// did (the runtime reads it itself).
func setGCPercent(getenv func(string) string, log *slog.Logger) {
	if v := getenv("GOGC"); v != "" {
		log.Info("gc percent", "value", v, "from", "GOGC")
		return
	}
	debug.SetGCPercent(defaultGCPercent)
	log.Info("gc percent", "value", defaultGCPercent, "from", "default")
}

// cgroupLimitFiles hold a container's memory limit: cgroup v2, then v1.
var cgroupLimitFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// setMemoryLimit sets the Go runtime's soft memory limit unless GOMEMLIMIT
// did (the runtime reads it itself): see defaultMemoryLimit.
func setMemoryLimit(getenv func(string) string, maxConns int, log *slog.Logger) {
	if getenv("GOMEMLIMIT") != "" {
		log.Info("memory limit", "bytes", debug.SetMemoryLimit(-1), "from", "GOMEMLIMIT")
		return
	}
	limit, from := defaultMemoryLimit(maxConns, cgroupLimit())
	debug.SetMemoryLimit(limit)
	log.Info("memory limit", "bytes", limit, "from", from)
}

// defaultMemoryLimit is limitBase plus limitPerConnection for each of
// maxConns connections, capped at limitCgroupShare of the container's limit
// (cgroup, 0 for none): past its limit the runtime collects more often,
// rather than let its heap grow to twice the live memory (GOGC=100) and
// the container be killed. from names what decided it.
func defaultMemoryLimit(maxConns int, cgroup int64) (limit int64, from string) {
	limit, from = limitBase+int64(maxConns)*limitPerConnection, "FLASHWIRE_MAX_CONNECTIONS"
	if share := int64(float64(cgroup) * limitCgroupShare); cgroup > 0 && share < limit {
		limit, from = share, "cgroup memory limit"
	}
	return limit, from
}

// cgroupLimit returns the container's memory limit in bytes, or 0 when
// there is none.
func cgroupLimit() int64 {
	for _, name := range cgroupLimitFiles {
		raw, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		// "max" (v2) or a page-rounded maximum of int64 (v1): no limit.
		if err != nil || n >= 1<<62 {
			return 0
		}
		return n
	}
	return 0
}
