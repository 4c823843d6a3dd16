package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Set at link time by release builds (make build, the Dockerfile), for
// example -ldflags "-X main.version=v1.2.0 -X main.revision=0123abc
// -X main.modified=false". Each one left empty falls back to the Go build
// information: the module version of "go install ...@v1.2.0", and the VCS
// revision and dirty flag that "go build" stamps in a git checkout.
var (
	version  string
	revision string
	modified string
)

// build describes the running binary.
type build struct {
	Version   string // module version or release tag; "dev" when unknown
	Revision  string // VCS revision; "unknown" when not stamped
	Dirty     bool   // built from a checkout with uncommitted changes
	GoVersion string
}

// readBuild returns what the linker flags and the Go build information say
// about this binary, linker flags first.
func readBuild() build {
	b := build{Version: "dev", Revision: "unknown", GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.modified":
				b.Dirty = s.Value == "true"
			}
		}
	}
	if version != "" {
		b.Version = version
	}
	if revision != "" {
		b.Revision = revision
	}
	if d, err := strconv.ParseBool(modified); err == nil {
		b.Dirty = d
	}
	return b
}

// versionCommand prints the version, revision, dirty flag and Go version,
// one "name: value" a line after the first.
func versionCommand(stdout io.Writer) error {
	b := readBuild()
	_, err := fmt.Fprintf(stdout, "flashwire %s\nrevision: %s\ndirty: %t\ngo: %s\n", b.Version, b.Revision, b.Dirty, b.GoVersion)
	return err
}

// newBuildInfo returns the flashwire_build_info gauge: always 1, its labels
// say which binary runs, so a dashboard can show a rolling upgrade.
func newBuildInfo(b build) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "flashwire_build_info",
		Help: "Always 1; the labels say which build of Flashwire this instance runs.",
		ConstLabels: prometheus.Labels{
			"version": b.Version, "revision": b.Revision,
			"dirty": strconv.FormatBool(b.Dirty), "goversion": b.GoVersion,
		},
	}, func() float64 { return 1 })
}
