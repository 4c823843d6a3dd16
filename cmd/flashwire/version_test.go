package main

import (
	"bytes"
	"context"
	"runtime"
	"testing"
)

// TestVersionCommand checks that linker flags win over the Go build
// information, and what a test binary (no flags, no VCS stamp) prints.
func TestVersionCommand(t *testing.T) {
	tests := []struct {
		name                 string
		version, rev, dirty  string // linker flags
		wantVersion, wantRev string
		wantDirty            bool
	}{
		// A release build: everything from the flags.
		{"OK release", "v1.4.0", "0123abc", "false", "v1.4.0", "0123abc", false},
		// A build from a checkout with changes.
		{"OK dirty", "0123abc-dirty", "0123abc", "true", "0123abc-dirty", "0123abc", true},
		// No flags: the build information of a test binary has neither a
		// module version nor a VCS stamp.
		{"OK unstamped", "", "", "", "dev", "unknown", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			version, revision, modified = tt.version, tt.rev, tt.dirty
			t.Cleanup(func() { version, revision, modified = "", "", "" })
			var out bytes.Buffer
			if err := run(context.Background(), []string{"version"}, envMap(nil), &out, &out); err != nil {
				t.Fatal(err)
			}
			got := parseVersion(t, out.String())
			want := build{Version: tt.wantVersion, Revision: tt.wantRev, Dirty: tt.wantDirty, GoVersion: runtime.Version()}
			if got != want {
				t.Errorf("flashwire version = %+v, want %+v", got, want)
			}
		})
	}
}
