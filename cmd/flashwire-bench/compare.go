package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// compareConfig is the compare subcommand's flags.
type compareConfig struct {
	fanoutConns   int // readers on one instance; 0 skips the one-instance fan-out
	instances     int // instances of the multi-instance fan-out; 0 skips it
	instanceConns int // readers per instance there
	partners      int // webhook partners; 0 skips webhooks
	hookAlerts    int
	alerts        int
	interval      time.Duration
	wait          time.Duration
	settle        time.Duration
	hookWait      time.Duration
	rounds        int
	sources       int
	dialWorkers   int
	flashwireBin  string
	flashwireEnv  []string
	markdown      string
	timeout       time.Duration
	pause         time.Duration
	goBench       string // a file of Go benchmark output to quote
	goBenchCmd    string // the command that wrote it
}

func parseCompare(args []string, stderr io.Writer) (compareConfig, error) {
	fs := flag.NewFlagSet("flashwire-bench compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c compareConfig
	fs.IntVar(&c.fanoutConns, "conns", 15000, "readers on one instance (and on one floor server); 0 skips the one-instance fan-out")
	fs.IntVar(&c.instances, "instances", 3, "Flashwire instances on one redis-server for the multi-instance fan-out; 0 skips it")
	fs.IntVar(&c.instanceConns, "instance-conns", 15000, "readers per instance in the multi-instance fan-out")
	fs.IntVar(&c.alerts, "alerts", 10, "alerts per fan-out run")
	fs.DurationVar(&c.interval, "interval", time.Second, "pause between a fan-out run's alerts")
	fs.DurationVar(&c.wait, "wait", 30*time.Second, "how long to wait for an alert to reach every reader")
	fs.DurationVar(&c.settle, "settle", 20*time.Second, "at most how long to wait, after the readers connected, for each server's two garbage collections before reading its memory")
	fs.IntVar(&c.partners, "partners", 100, "webhook partners (local receivers); 0 skips webhooks")
	fs.IntVar(&c.hookAlerts, "webhook-alerts", 200, "alerts per webhook run")
	fs.DurationVar(&c.hookWait, "webhook-wait", 2*time.Minute, "how long to wait for every webhook delivery")
	fs.IntVar(&c.rounds, "rounds", 3, "runs of each side, alternating floor and Flashwire; the report gives the median")
	fs.IntVar(&c.sources, "sources", 250, "loopback source addresses each client worker spreads its connections over (127.0.0.1..N)")
	fs.IntVar(&c.dialWorkers, "dial-workers", 64, "connections each client worker opens at once")
	fs.StringVar(&c.flashwireBin, "flashwire-bin", "", "the flashwire binary to run; empty builds flashwire/cmd/flashwire from the working directory's module")
	fs.Func("flashwire-env", "NAME=VALUE set for every Flashwire instance (repeatable), such as GOMEMLIMIT=160MiB or FLASHWIRE_WEBHOOK_WORKERS=512, to measure a setting", func(v string) error {
		if name, _, ok := strings.Cut(v, "="); !ok || name == "" {
			return fmt.Errorf("%q is not NAME=VALUE", v)
		}
		c.flashwireEnv = append(c.flashwireEnv, v)
		return nil
	})
	fs.StringVar(&c.markdown, "markdown", "", "rewrite the generated section of this Markdown file (BENCHMARKS.md) with the report")
	fs.DurationVar(&c.pause, "pause", 3*time.Second, "pause before each run, so the previous run's processes and sockets are gone")
	fs.DurationVar(&c.timeout, "timeout", 40*time.Minute, "stop everything and fail after this long")
	fs.StringVar(&c.goBench, "go-bench", "", "a file of Go benchmark output (go test -bench) to quote in the report")
	fs.StringVar(&c.goBenchCmd, "go-bench-command", "", "the command that wrote -go-bench, quoted with it")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.fanoutConns < 0 || c.instances < 0 || c.partners < 0:
		return c, errors.New("-conns, -instances and -partners must not be negative")
	case c.instances > 0 && (c.instanceConns < 1 || c.instanceConns > maxPerWorker):
		return c, fmt.Errorf("-instance-conns must be from 1 to %d", maxPerWorker)
	case c.alerts < 1 || c.rounds < 1:
		return c, errors.New("-alerts and -rounds must be at least 1")
	case c.partners > 0 && c.hookAlerts < 1:
		return c, errors.New("-webhook-alerts must be at least 1")
	case c.sources < 1 || c.sources > 254:
		return c, errors.New("-sources must be from 1 to 254")
	case c.dialWorkers < 1:
		return c, errors.New("-dial-workers must be at least 1")
	case c.timeout <= 0 || c.pause < 0:
		return c, errors.New("-timeout must be positive and -pause not negative")
	}
	return c, nil
}

// report is everything compare measured, for the text and Markdown output.
type report struct {
	started, finished time.Time
	args              []string
	load              []string // before and after the whole run
	one               *fanoutPair
	many              *fanoutPair
	hooks             *hookPair
	goBench           string // Go benchmark output quoted as it is
	goBenchCmd        string
}

type fanoutPair struct {
	instances, conns, alerts int
	floor, flash             []fanoutRun
}

// runCompare is the compare subcommand.
func runCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseCompare(args, stderr)
	if err != nil {
		return err
	}
	raiseOpenFileLimit(stderr)
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	rep := &report{started: time.Now().UTC(), args: args, load: []string{loadAvg()}, goBenchCmd: cfg.goBenchCmd}
	if cfg.goBench != "" {
		b, err := os.ReadFile(cfg.goBench)
		if err != nil {
			return fmt.Errorf("-go-bench: %w", err)
		}
		rep.goBench = string(b)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "flashwire-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := cfg.flashwireBin
	if bin == "" {
		fmt.Fprintln(stderr, "building flashwire/cmd/flashwire")
		if bin, err = buildFlashwire(ctx, dir); err != nil {
			return err
		}
	}
	// Webhooks first: their floor is pure CPU and the most sensitive to
	// what the fan-out runs leave behind (tens of thousands of sockets
	// closing).
	if cfg.partners > 0 {
		hc := hookConfig{flashwireBin: bin, flashwireEnv: cfg.flashwireEnv, dir: dir, partners: cfg.partners, alerts: cfg.hookAlerts,
			wait: cfg.hookWait, rounds: cfg.rounds, pause: cfg.pause, progress: stderr}
		fl, fw, err := runHooks(ctx, hc)
		if err != nil {
			return fmt.Errorf("webhooks: %w", err)
		}
		rep.hooks = &hookPair{cfg.partners, cfg.hookAlerts, fl, fw}
	}
	fc := fanoutConfig{self: self, flashwireBin: bin, flashwireEnv: cfg.flashwireEnv, dir: dir, alerts: cfg.alerts, interval: cfg.interval,
		wait: cfg.wait, settle: cfg.settle, rounds: cfg.rounds, pause: cfg.pause, sources: cfg.sources, dialWorkers: cfg.dialWorkers, progress: stderr}
	if cfg.fanoutConns > 0 {
		fc.instances, fc.conns = 1, cfg.fanoutConns
		fl, fw, err := runFanout(ctx, fc)
		if err != nil {
			return fmt.Errorf("fan-out, one instance: %w", err)
		}
		rep.one = &fanoutPair{1, cfg.fanoutConns, cfg.alerts, fl, fw}
	}
	if cfg.instances > 0 {
		fc.instances, fc.conns = cfg.instances, cfg.instanceConns
		fl, fw, err := runFanout(ctx, fc)
		if err != nil {
			return fmt.Errorf("fan-out, %d instances: %w", cfg.instances, err)
		}
		rep.many = &fanoutPair{cfg.instances, cfg.instanceConns, cfg.alerts, fl, fw}
	}
	rep.finished = time.Now().UTC()
	rep.load = append(rep.load, loadAvg())
	md := rep.markdown()
	fmt.Fprint(stdout, md)
	if cfg.markdown != "" {
		return rewriteSection(cfg.markdown, md)
	}
	return nil
}

// median of each run's figure.
func median[T any](runs []T, figure func(T) float64) float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = figure(r)
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("**%.2fx**", a/b)
}

// fanoutRows is the median table's rows: name and figure.
var fanoutRows = []struct {
	name string
	unit string
	fig  func(fanoutRun) float64
}{
	{"reach (deliveries / readers x alerts)", "%", fanoutRun.reach},
	{"publish to last reader, p50 over alerts", "ms", func(r fanoutRun) float64 { return msOf(r.lastP50) }},
	{"publish to last reader, p99 over alerts", "ms", func(r fanoutRun) float64 { return msOf(r.lastP99) }},
	{"publish to each reader, p50", "ms", func(r fanoutRun) float64 { return msOf(r.readerP50) }},
	{"publish to each reader, p99", "ms", func(r fanoutRun) float64 { return msOf(r.readerP99) }},
	{"resident memory per connection, (after - before) / readers", "KiB", func(r fanoutRun) float64 { return r.rssDeltaKiB }},
	{"resident memory per connection, after / readers", "KiB", func(r fanoutRun) float64 { return r.rssTotalKiB }},
	{"Go heap in use per connection, (after - before) / readers", "KiB", func(r fanoutRun) float64 { return r.heapKiB }},
	{"goroutine stacks per connection, (after - before) / readers", "KiB", func(r fanoutRun) float64 { return r.stackKiB }},
}

func (p *fanoutPair) table(b *strings.Builder, one *fanoutPair) {
	withOne := one != nil && one != p
	if withOne {
		fmt.Fprintf(b, "| figure (median of %d) | floor | Flashwire | Flashwire / floor | Flashwire, one instance, %s readers | %d instances / one |\n|---|---|---|---|---|---|\n",
			len(p.flash), thousands(one.conns), p.instances)
	} else {
		fmt.Fprintf(b, "| figure (median of %d) | floor | Flashwire | Flashwire / floor |\n|---|---|---|---|\n", len(p.flash))
	}
	for _, row := range fanoutRows {
		fl, fw := median(p.floor, row.fig), median(p.flash, row.fig)
		format := "%.1f %s"
		if row.unit == "%" {
			format = "%.2f%s"
		}
		fmt.Fprintf(b, "| %s | "+format+" | "+format+" | %s |", row.name, fl, row.unit, fw, row.unit, ratio(fw, fl))
		if withOne {
			o := median(one.flash, row.fig)
			fmt.Fprintf(b, " "+format+" | %s |", o, row.unit, ratio(fw, o))
		}
		b.WriteString("\n")
	}
	byServer, sep := "", ""
	if p.instances > 1 {
		byServer, sep = " last reader p99 on each server |", "---|"
	}
	fmt.Fprintf(b, "\nEach run, in the order run:\n\n| run | side | reach | last reader p50 / p99 |%s each reader p50 / p99 | RSS per conn (delta / total) | two GCs before memory | load average before -> after |\n|---|---|---|---|%s---|---|---|---|\n",
		byServer, sep)
	for i := range p.flash {
		for _, r := range []fanoutRun{p.floor[i], p.flash[i]} {
			settled := fmt.Sprintf("yes, in %.1f s", r.settleTime.Seconds())
			if !r.gcsSettled {
				settled = fmt.Sprintf("no, not in %.0f s", r.settleTime.Seconds())
			}
			servers := ""
			if p.instances > 1 {
				each := make([]string, len(r.serverLastP99))
				for j, d := range r.serverLastP99 {
					each[j] = fmt.Sprintf("%.0f", msOf(d))
				}
				servers = " " + strings.Join(each, " / ") + " ms |"
			}
			fmt.Fprintf(b, "| %d | %s | %.2f%% | %.1f / %.1f ms |%s %.1f / %.1f ms | %.1f / %.1f KiB | %s | %s -> %s |\n",
				i+1, r.side, r.reach(), msOf(r.lastP50), msOf(r.lastP99), servers, msOf(r.readerP50), msOf(r.readerP99),
				r.rssDeltaKiB, r.rssTotalKiB, settled, r.loadBefore, r.loadAfter)
		}
	}
}

// markdown renders the report as the generated section of BENCHMARKS.md.
func (rep *report) markdown() string {
	var b strings.Builder
	b.WriteString(sectionBegin + "\n")
	b.WriteString("## Against the floor, side by side (generated by `make bench`)\n\n")
	fmt.Fprintf(&b, "Generated %s (%s) by `flashwire-bench compare %s`.\n",
		rep.started.Format("2006-01-02 15:04 MST"), rep.finished.Sub(rep.started).Round(time.Second), shellJoin(rep.args))
	fmt.Fprintf(&b, "Machine: %d cores, %s, load average (1, 5, 15 min) %s before and %s after the whole run.\n\n",
		runtime.NumCPU(), runtime.Version(), rep.load[0], rep.load[len(rep.load)-1])
	b.WriteString("The machine is shared with other work and noisy: absolute figures move with its load, by a factor\n" +
		"of two or more between runs minutes apart, so read the ratios, which compare runs made minutes apart\n" +
		"in alternating order (floor, Flashwire, floor, ...), each on freshly started processes. Everything\n" +
		"runs on loopback on the same cores: servers, redis-server, and the client workers that hold the\n" +
		"readers' connections (this binary, `client`, at most 15,000 each, source addresses spread over\n" +
		"127.0.0.x). The load averages count the run's own processes as well as the machine's other work.\n\n" +
		"- **Floor (WebSocket)**: `flashwire-bench floor-server`, a child process of the same binary: one\n" +
		"  reading goroutine per connection, and each alert written as one gorilla `PreparedMessage` to\n" +
		"  every socket in turn (same 512-byte buffers as Flashwire), nothing else.\n" +
		"- **Flashwire**: the real binary on its defaults (log level warn) on a redis-server the tool starts\n" +
		"  (append-only, fsync every second, own temporary directory, free port); alerts go through\n" +
		"  `POST /api/v1/alerts` on the first instance.\n" +
		"- **Latency**: from the start of the publish request to the frame's arrival on each reader\n" +
		"  (wall clock, read by each worker). \"Last reader\" is each alert's slowest reader; its p50 and\n" +
		"  p99 are over the alerts of a run.\n" +
		"- **Memory**: VmRSS of the server processes (`/proc/PID/status`), read before the readers connect\n" +
		"  and again once every server has completed two garbage collections after they connected, or\n" +
		"  after the settle time when it has not (the runs table says which). An idle Go program collects\n" +
		"  only every 2 minutes, so the tool brings the collections on: the floor runs `runtime.GC()` when\n" +
		"  asked; Flashwire's `/metrics` is read in a loop until `go_gc_duration_seconds_count` has grown by\n" +
		"  two, the reads' own garbage bringing the collections. Per connection is (after - before) /\n" +
		"  readers, and after / readers (which includes the idle process). Go heap and stacks in use\n" +
		"  (`HeapInuse`, `StackInuse`) are read at the same two moments, from `/metrics` for Flashwire.\n\n")
	if rep.one != nil {
		fmt.Fprintf(&b, "### WebSocket fan-out: one instance, %s readers, %d alerts a run\n\n", thousands(rep.one.conns), rep.one.alerts)
		rep.one.table(&b, nil)
		b.WriteString("\n")
	}
	if rep.many != nil {
		fmt.Fprintf(&b, "### WebSocket fan-out: %d instances on one Redis, %s readers (%s each)\n\n",
			rep.many.instances, thousands(rep.many.instances*rep.many.conns), thousands(rep.many.conns))
		fmt.Fprintf(&b, "The floor here is %d floor servers, each sent the alert directly; Flashwire's alerts are\n"+
			"published on the first instance and reach the others through Redis.\n\n", rep.many.instances)
		rep.many.table(&b, rep.one)
		b.WriteString("\n")
	}
	if rep.hooks != nil {
		rep.hooks.markdown(&b)
	}
	if rep.goBench != "" {
		b.WriteString("### Go benchmarks of the fan-out path\n\n")
		if rep.goBenchCmd != "" {
			fmt.Fprintf(&b, "`%s`, run just before the above:\n\n", rep.goBenchCmd)
		}
		b.WriteString("```\n" + strings.TrimRight(rep.goBench, "\n") + "\n```\n\n")
	}
	b.WriteString(sectionEnd + "\n")
	return b.String()
}

// shellJoin quotes the arguments that need it for a POSIX shell.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " '\"$\\|&;<>()*?[]^#~`") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// thousands writes n with comma separators.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

const (
	sectionBegin = "<!-- generated by flashwire-bench compare (make bench): begin; edits inside are overwritten -->"
	sectionEnd   = "<!-- generated by flashwire-bench compare (make bench): end -->"
)

// rewriteSection replaces the generated section of the Markdown file
// (from sectionBegin to sectionEnd) with md, or appends md when the file
// has none.
func rewriteSection(path, md string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, sectionBegin), strings.Index(s, sectionEnd)
	switch {
	case i >= 0 && j > i:
		s = s[:i] + md + strings.TrimPrefix(s[j+len(sectionEnd):], "\n")
	case i >= 0 || j >= 0:
		return fmt.Errorf("%s: one generated-section marker without the other", path)
	default:
		if s != "" && !strings.HasSuffix(s, "\n\n") {
			s = strings.TrimRight(s, "\n") + "\n\n"
		}
		s += md
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
