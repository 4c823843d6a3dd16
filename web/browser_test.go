package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"flashwire/internal/redistest"
)

// This file is the browser tests' harness: a Flashwire instance with a
// gate for WebSocket upgrades, and a Chromium tab driven over chromedp.

// chromiumPath is Debian's chromium, which the browser tests drive.
const chromiumPath = "/usr/bin/chromium"

// artifactsDir keeps the browser tests' screenshots, relative to this
// package; the repository ignores it.
var artifactsDir = filepath.Join("..", "testdata", "artifacts")

// widgetEnv is one Flashwire instance with a running hub behind a gate that
// can refuse WebSocket upgrades, as a network that blocks them would, and an
// editor token.
type widgetEnv struct {
	*testEnv
	editor string
	// blockWS answers GET /ws with 403 while set.
	blockWS atomic.Bool
	// pages are extra pages a test serves at their path, such as a news
	// site's page that embeds the widget: path -> content.
	pages sync.Map
}

// newWidgetEnv starts the instance; opts may ask for more (the hub and
// the gate are always there).
func newWidgetEnv(tb testing.TB, opts envOptions) *widgetEnv {
	tb.Helper()
	env := &widgetEnv{}
	opts.hub = true
	opts.wrap = func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/ws" && env.blockWS.Load() {
				http.Error(w, "WebSockets are blocked here", http.StatusForbidden)
				return
			}
			if page, ok := env.pages.Load(r.URL.Path); ok {
				w.Header().Set("Content-Type", mime.TypeByExtension(path.Ext(r.URL.Path)))
				w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:")
				_, _ = io.WriteString(w, page.(string))
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	env.testEnv = newEnv(tb, opts)
	env.editor = env.newToken(tb, "browser test editor", "editor")
	return env
}

// publish sends an alert through the API, as an editor would, and returns
// its id.
func (e *widgetEnv) publish(tb testing.TB, headline string, topics ...string) string {
	tb.Helper()
	var out struct{ ID string }
	e.call(tb, "POST", "/api/v1/alerts", e.editor, map[string]any{
		"headline": headline,
		"summary":  "Officials confirmed the news minutes ago.",
		"url":      "https://news.example.com/story/" + fmt.Sprint(time.Now().UnixNano()),
		"topics":   topics,
		"regions":  []string{"international"},
		"language": "en",
		"priority": "flash",
	}, &out)
	if out.ID == "" {
		tb.Fatalf("publish %q: no id", headline)
	}
	return out.ID
}

// call sends a JSON request (no body when body is nil) and decodes a 2xx
// answer into out.
func (e *widgetEnv) call(tb testing.TB, method, path, token string, body, out any) {
	tb.Helper()
	resp, raw := e.request(tb, method, path, token, body, map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode/100 != 2 {
		tb.Fatalf("%s %s = %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			tb.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
}

// browserTab is one headless Chromium tab with what the page logged.
type browserTab struct {
	ctx context.Context
	mu  sync.Mutex
	// problems are errors the page logged, other than failed requests,
	// and uncaught exceptions; guarded by mu.
	problems []string
}

// cspProbe records, before any script of the page runs, each violation
// of the page's Content-Security-Policy.
const cspProbe = `window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});`

// socketProbe records, in the page, when each WebSocket opens and how and
// when it closed, as window.__sockets; timestamps are the page's
// Date.now(), taken before the widget's own close handler runs.
const socketProbe = `window.__sockets = [];
(function (WS) {
  var probe = function (url, protocols) {
    var s = protocols === undefined ? new WS(url) : new WS(url, protocols);
    var rec = { opened: Date.now() };
    window.__sockets.push(rec);
    s.addEventListener("close", function (e) { rec.closed = Date.now(); rec.code = e.code; rec.reason = e.reason; });
    return s;
  };
  probe.prototype = WS.prototype;
  ["CONNECTING", "OPEN", "CLOSING", "CLOSED"].forEach(function (k) { probe[k] = WS[k]; });
  window.WebSocket = probe;
})(window.WebSocket);`

// newBrowserTab starts a fresh headless Chromium for tb, with its own
// profile, and opens one tab.
func newBrowserTab(tb testing.TB) *browserTab {
	tb.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		redistest.Missing(tb, "chromium at "+chromiumPath+" (apt-get install chromium)")
	}
	// Chromium's helpers may still write in the profile as it exits, so the
	// directory is removed by hand, after the browser is gone.
	dir, err := os.MkdirTemp("", "flashwire-chromium-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1100, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(func(string, ...any) {}))
	tb.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// Start the browser before anything subscribes to its events: two
	// first calls at once would each start one.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		tb.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspProbe}); err != nil {
		tb.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		tb.Fatal(err)
	}
	bt := &browserTab{ctx: ctx}
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			// Failed requests are expected while offline or blocked.
			if m.IsException() || m.Type == "error" && m.Source != "network" {
				bt.mu.Lock()
				bt.problems = append(bt.problems, m.String())
				bt.mu.Unlock()
			}
		}
	}()
	return bt
}

// do runs actions in the tab.
func (bt *browserTab) do(tb testing.TB, steps ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	if err := chromedp.Do(bt.ctx, steps...); err != nil {
		tb.Fatal(err)
	}
}

// eval evaluates a JavaScript expression in the page and decodes its value.
func eval[T any](tb testing.TB, bt *browserTab, expr string) T {
	tb.Helper()
	v, err := chromedp.Run(bt.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls the page until expr is true. The deadline is generous for
// a loaded machine; speed is measured, not asserted, by the callers.
func (bt *browserTab) waitFor(tb testing.TB, what, expr string) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if eval[bool](tb, bt, "!!("+expr+")") {
			return
		}
		if time.Now().After(deadline) {
			bt.screenshot(tb, "widget-timeout")
			root := eval[string](tb, bt, `(document.querySelector(".fw-root") || document.body).outerHTML`)
			tb.Fatalf("timed out waiting for %s; widget: %.3000s", what, root)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// screenshot saves the viewport as a test artifact and logs its path.
func (bt *browserTab) screenshot(tb testing.TB, name string) {
	tb.Helper()
	buf, err := chromedp.Run(bt.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.MkdirAll(artifactsDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(artifactsDir, name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		tb.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	tb.Logf("screenshot: %s", abs)
}

// setOnline takes the tab's network away or gives it back, as a train
// entering a tunnel would: requests fail and navigator.onLine follows.
func (bt *browserTab) setOnline(tb testing.TB, online bool) {
	tb.Helper()
	_, err := chromedp.Call(bt.ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{{Offline: !online, DownloadThroughput: -1, UploadThroughput: -1}},
	})
	if err == nil {
		_, err = chromedp.Call(bt.ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{
			Offline: !online, DownloadThroughput: -1, UploadThroughput: -1,
		})
	}
	if err != nil {
		tb.Fatalf("set online=%v: %v", online, err)
	}
}

// setReducedMotion emulates the reader's prefers-reduced-motion setting;
// with it on, screenshots never catch an animation half-way.
func (bt *browserTab) setReducedMotion(tb testing.TB, reduce bool) {
	tb.Helper()
	value := "no-preference"
	if reduce {
		value = "reduce"
	}
	_, err := chromedp.Call(bt.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: value}},
	})
	if err != nil {
		tb.Fatalf("emulate prefers-reduced-motion: %s: %v", value, err)
	}
}

// press sends real key presses to whatever has focus in the tab.
func (bt *browserTab) press(tb testing.TB, keys string, opts ...chromedp.KeyOption) {
	tb.Helper()
	bt.do(tb, chromedp.KeyEvent(keys, opts...))
}

// shiftTab is Shift+Tab.
var shiftTab = chromedp.KeyModifiers(chromedp.ModifierShift)

// focusOn fails tb unless the element with keyboard focus matches the CSS
// selector sel and, for a control, shows a visible focus ring.
func focusOn(tb testing.TB, bt *browserTab, sel string) {
	tb.Helper()
	got := eval[map[string]any](tb, bt, fmt.Sprintf(`(function () {
		var a = document.activeElement, s = getComputedStyle(a);
		return {match: a.matches(%q), heading: /^H[1-6]$/.test(a.tagName), what: a.outerHTML.slice(0, 160),
			ring: s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0};
	})()`, sel))
	if got["match"] != true {
		tb.Fatalf("focus on %v, want %s", got["what"], sel)
	}
	if got["heading"] != true && got["ring"] != true {
		tb.Errorf("no visible focus ring on %v", got["what"])
	}
}

// tabUntil presses Tab (with opts) until focus is on sel, failing tb when
// focus leaves the elements matching within on the way or takes more
// than max presses.
func tabUntil(tb testing.TB, bt *browserTab, sel, within string, max int, opts ...chromedp.KeyOption) {
	tb.Helper()
	for range max {
		bt.press(tb, kb.Tab, opts...)
		if eval[bool](tb, bt, fmt.Sprintf(`document.activeElement.matches(%q)`, sel)) {
			focusOn(tb, bt, sel)
			return
		}
		focusOn(tb, bt, within)
	}
	tb.Fatalf("%d presses of Tab did not reach %s", max, sel)
}
