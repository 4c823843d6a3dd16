package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"flashwire/internal/redistest"
)

// TestMain lets the test binary stand in for flashwire-bench when compare
// re-executes itself as a floor server or a client worker.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && (os.Args[1] == "floor-server" || os.Args[1] == "client") {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestCompare runs every mode of compare at a tiny scale against the real
// flashwire binary, a real redis-server, floor servers and client workers
// as child processes, and checks what it reports, not how fast.
func TestCompare(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		redistest.Missing(t, "redis-server")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "flashwire")
	if out, err := exec.Command("go", "build", "-o", bin, "flashwire/cmd/flashwire").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	md := filepath.Join(dir, "BENCHMARKS.md")
	const hand = "# Benchmarks\n\nA hand-written section.\n"
	if err := os.WriteFile(md, []byte(hand+"\n"+sectionBegin+"\nstale figures\n"+sectionEnd+"\n\n## After\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"compare", "-flashwire-bin", bin, "-conns", "50", "-instances", "3", "-instance-conns", "20",
		"-alerts", "2", "-interval", "10ms", "-settle", "0s", "-partners", "3", "-webhook-alerts", "2",
		"-rounds", "1", "-sources", "3", "-markdown", md}
	var out, progress bytes.Buffer
	if err := run(context.Background(), args, func(string) string { return "" }, nil, &out, &progress); err != nil {
		t.Fatalf("compare: %v\n%s", err, progress.String())
	}
	for _, want := range []string{
		"one instance, 50 readers, 2 alerts a run",
		"| 1 | floor | 100.00% |",
		"| 1 | flashwire | 100.00% |",
		"3 instances on one Redis, 60 readers (20 each)",
		"| 1 | floor | 6 of 6 (0) |",
		"| 1 | flashwire | 6 of 6 (0) |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s\n%s", want, out.String(), progress.String())
		}
	}
	if c := strings.Count(out.String(), "| 1 | floor | 100.00% |"); c != 2 {
		t.Errorf("%d floor fan-out runs reached every reader, want 2 (one and three instances)", c)
	}
	got, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if want := hand + "\n" + out.String() + "\n## After\n"; string(got) != want {
		t.Errorf("BENCHMARKS.md after the rewrite:\n%s\nwant:\n%s", got, want)
	}
}

func TestRewriteSection(t *testing.T) {
	section := sectionBegin + "\nnew\n" + sectionEnd + "\n"
	cases := []struct {
		old, want string
		ok        bool
	}{
		// Replaced in place, what surrounds it kept.
		{"a\n" + sectionBegin + "\nold\n" + sectionEnd + "\nb\n", "a\n" + section + "b\n", true},
		// Appended after a blank line when the file has no section.
		{"a\n", "a\n\n" + section, true},
		// A file that does not exist yet is the section alone.
		{"", section, true},
		// One marker without the other is refused, the file left alone.
		{"a\n" + sectionBegin + "\nold\n", "a\n" + sectionBegin + "\nold\n", false},
	}
	for _, tc := range cases {
		path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
		if tc.old != "" {
			if err := os.WriteFile(path, []byte(tc.old), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		err := rewriteSection(path, section)
		if (err == nil) != tc.ok {
			t.Errorf("rewriteSection(%q) error = %v, want ok %v", tc.old, err, tc.ok)
		}
		got, _ := os.ReadFile(path)
		if string(got) != tc.want {
			t.Errorf("rewriteSection(%q) wrote %q, want %q", tc.old, got, tc.want)
		}
	}
}

func TestParseCompare(t *testing.T) {
	cases := []struct {
		args []string
		ok   bool
	}{
		// The defaults: 15,000 readers, three instances, 100 partners.
		{nil, true},
		// Every suite skipped but one.
		{[]string{"-conns", "0", "-instances", "0"}, true},
		// A worker holds at most 15,000 sockets.
		{[]string{"-instance-conns", "15001"}, false},
		// At least one round.
		{[]string{"-rounds", "0"}, false},
		// Too many loopback sources for 127.0.0.x.
		{[]string{"-sources", "255"}, false},
		// A setting for the instances, repeatable.
		{[]string{"-flashwire-env", "GOMEMLIMIT=160MiB", "-flashwire-env", "FLASHWIRE_WEBHOOK_WORKERS=512"}, true},
		// Not NAME=VALUE.
		{[]string{"-flashwire-env", "GOMEMLIMIT"}, false},
	}
	for _, tc := range cases {
		_, err := parseCompare(tc.args, io.Discard)
		if (err == nil) != tc.ok {
			t.Errorf("parseCompare(%q) error = %v, want ok %v", tc.args, err, tc.ok)
		}
	}
}

func TestMedianAndQuantile(t *testing.T) {
	id := func(v float64) float64 { return v }
	cases := []struct {
		runs []float64
		want float64
	}{
		// The middle of three, whatever the order.
		{[]float64{3, 1, 2}, 2},
		// The mean of the middle two of an even count.
		{[]float64{4, 1, 3, 2}, 2.5},
		// One run is its own median.
		{[]float64{7}, 7},
		// No runs.
		{nil, 0},
	}
	for _, tc := range cases {
		if got := median(tc.runs, id); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.runs, got, tc.want)
		}
	}
	sorted := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	qs := []struct {
		p    float64
		want time.Duration
	}{
		// p50 of ten is the sixth: at least half are at or below it.
		{0.5, 6},
		// p99 of ten is the last.
		{0.99, 10},
		{0, 1},
	}
	for _, q := range qs {
		if got := quantile(sorted, q.p); got != q.want {
			t.Errorf("quantile(1..10, %v) = %v, want %v", q.p, got, q.want)
		}
	}
	if got := quantile(nil, 0.99); got != 0 {
		t.Errorf("quantile(nil) = %v, want 0", got)
	}
}

func TestShellJoin(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		// Plain words stay as they are.
		{[]string{"-conns", "15000"}, "-conns 15000"},
		// Spaces and shell characters are single-quoted.
		{[]string{"-go-bench-command", "go test -run '^$'"}, `-go-bench-command 'go test -run '\''^$'\'''`},
		// An empty argument stays visible.
		{[]string{"-markdown", ""}, "-markdown ''"},
	}
	for _, tc := range cases {
		if got := shellJoin(tc.args); got != tc.want {
			t.Errorf("shellJoin(%q) = %s, want %s", tc.args, got, tc.want)
		}
	}
	if got := thousands(45000); got != "45,000" {
		t.Errorf("thousands(45000) = %s", got)
	}
}
