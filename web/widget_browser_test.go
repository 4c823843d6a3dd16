package web

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"flashwire/subscribers"
)

// banner is a JavaScript expression for the banner of the alert with id.
func banner(id string) string {
	return fmt.Sprintf(`document.querySelector('.fw-banner[data-id=%q]')`, id)
}

// TestWidgetBrowser drives the demo reader page in Chromium: alerts arrive
// as accessible banners, updates and retractions apply in place, an alert
// published while the page is offline arrives once it is back, a reload
// resumes from the remembered last id, and SSE takes over when WebSockets
// are blocked.
func TestWidgetBrowser(t *testing.T) {
	env := newWidgetEnv(t, envOptions{})
	bt := newBrowserTab(t)
	bt.do(t, chromedp.Navigate(env.URL+"/"))
	bt.waitFor(t, "the widget to connect", `document.querySelector('.fw-root[data-state=open][data-transport=ws]')`)

	// The reader is using the page: focus sits on a text size button.
	bt.do(t, chromedp.Focus(chromedp.CSS(`button[data-size=md]`)))
	eval[bool](t, bt, `window.__arrived = 0;
		new MutationObserver(function () {
			if (!window.__arrived && document.querySelector('.fw-banner')) window.__arrived = Date.now();
		}).observe(document.body, {childList: true, subtree: true}); true`)

	headline := `Quake hits coast <img src=x onerror="window.__xss=1"> officials say`
	sent := time.Now()
	first := env.publish(t, headline, "world")
	bt.waitFor(t, "the first banner", banner(first))
	arrived := time.UnixMilli(eval[int64](t, bt, `window.__arrived`))
	t.Logf("banner shown %v after the publish request was sent (target: under 1s)", arrived.Sub(sent).Round(time.Millisecond))

	t.Run("accessible and safe", func(t *testing.T) {
		var got struct {
			Role, Live, Headline, Href, Focus string
			Images                            int
			XSS                               bool
		}
		raw := eval[[]byte](t, bt, `(function () {
			var b = `+banner(first)+`;
			return {
				role: b.getAttribute('role'), live: b.getAttribute('aria-live'),
				headline: b.querySelector('.fw-headline').textContent,
				href: b.querySelector('.fw-headline a').href,
				focus: document.activeElement.getAttribute('data-size') || document.activeElement.tagName,
				images: b.querySelectorAll('img').length,
				xss: window.__xss === 1
			};
		})()`)
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		if got.Role != "alert" || got.Live != "assertive" {
			t.Errorf("banner role=%q aria-live=%q, want alert and assertive", got.Role, got.Live)
		}
		if got.Headline != headline || got.Images != 0 || got.XSS {
			t.Errorf("headline shown as %q with %d images (script ran: %v); want the text itself", got.Headline, got.Images, got.XSS)
		}
		if !strings.HasPrefix(got.Href, "https://news.example.com/story/") {
			t.Errorf("headline links to %q", got.Href)
		}
		if got.Focus != "md" {
			t.Errorf("focus moved to %q when the alert arrived", got.Focus)
		}
	})

	t.Run("reduced motion", func(t *testing.T) {
		anim := `getComputedStyle(` + banner(first) + `).animationName`
		if got := eval[string](t, bt, anim); got == "none" {
			t.Errorf("banner animation %q without a motion preference, want the slide-in", got)
		}
		bt.setReducedMotion(t, true)
		if got := eval[string](t, bt, anim); got != "none" {
			t.Errorf("banner animation %q with prefers-reduced-motion, want none", got)
		}
		bt.screenshot(t, "widget-banner")
	})

	t.Run("scales with the page's text size", func(t *testing.T) {
		size := `parseFloat(getComputedStyle(` + banner(first) + `.querySelector('.fw-headline')).fontSize)`
		// A script click, so that focus stays where the reader left it.
		md := eval[float64](t, bt, size)
		lg := eval[float64](t, bt, `document.querySelector('button[data-size=lg]').click(), `+size)
		xs := eval[float64](t, bt, `document.querySelector('button[data-size=xs]').click(), `+size)
		if !(xs < md && md < lg) {
			t.Errorf("headline font size XS %.1fpx, MD %.1fpx, LG %.1fpx; want it to grow with the text size", xs, md, lg)
		}
		eval[bool](t, bt, `document.querySelector('button[data-size=lg]').click(), true`)
		bt.screenshot(t, "widget-banner-lg")
		eval[bool](t, bt, `document.querySelector('button[data-size=md]').click(), true`)
	})

	t.Run("update in place", func(t *testing.T) {
		eval[bool](t, bt, banner(first)+`.__kept = true`)
		env.call(t, "POST", "/api/v1/alerts/"+first+"/update", env.editor, map[string]any{"headline": "Quake of magnitude 7.3 hits coast"}, nil)
		bt.waitFor(t, "the updated headline", banner(first)+`.querySelector('.fw-headline').textContent === "Quake of magnitude 7.3 hits coast"`)
		if !eval[bool](t, bt, banner(first)+`.__kept === true`) {
			t.Error("the update replaced the banner element instead of its text")
		}
	})

	t.Run("Escape dismisses", func(t *testing.T) {
		bt.do(t, chromedp.KeyEvent(kb.Escape))
		bt.waitFor(t, "the banner to go", `!`+banner(first))
		if focus := eval[string](t, bt, `document.activeElement.getAttribute('data-size')`); focus != "md" {
			t.Errorf("focus is on %q after Escape, want the MD button", focus)
		}
	})

	t.Run("retract removes", func(t *testing.T) {
		id := env.publish(t, "Minister resigns", "politics")
		bt.waitFor(t, "the banner", banner(id))
		env.call(t, "POST", "/api/v1/alerts/"+id+"/retract", env.editor, nil, nil)
		bt.waitFor(t, "the retracted banner to go", `!`+banner(id))
	})

	t.Run("offline and back", func(t *testing.T) {
		bt.setOnline(t, false)
		bt.waitFor(t, "the widget to notice", `document.querySelector('.fw-root:not([data-state=open])')`)
		missed := env.publish(t, "Missed while offline: markets fall", "business", "world")
		time.Sleep(300 * time.Millisecond)
		if eval[bool](t, bt, `!!`+banner(missed)) {
			t.Fatal("an alert reached a page that is offline")
		}
		back := time.Now()
		bt.setOnline(t, true)
		bt.waitFor(t, "the alert missed while offline", banner(missed))
		t.Logf("missed alert shown %v after the network came back", time.Since(back).Round(time.Millisecond))
		bt.screenshot(t, "widget-after-offline")
	})

	t.Run("reload resumes", func(t *testing.T) {
		bt.do(t, chromedp.Navigate("about:blank"))
		id := env.publish(t, "Published while the page was closed", "world")
		bt.do(t, chromedp.Navigate(env.URL+"/"))
		bt.waitFor(t, "the alert published while the page was closed", banner(id))
	})

	t.Run("settings saved as preferences", func(t *testing.T) {
		bt.do(t, chromedp.Focus(chromedp.CSS(`.fw-toggle`)), chromedp.KeyEvent(kb.Enter))
		bt.waitFor(t, "focus in the settings", `document.activeElement.name === 'topic'`)
		if eval[bool](t, bt, `!document.querySelector('.fw-panel input[value=world]').checked || !document.querySelector('.fw-panel input[value=politics]').checked`) {
			t.Error("the settings do not start from the page's topics")
		}
		if got := eval[string](t, bt, `document.querySelector('.fw-toggle').getAttribute('aria-expanded')`); got != "true" {
			t.Errorf("toggle aria-expanded=%q with the panel open", got)
		}
		bt.setReducedMotion(t, true)
		bt.screenshot(t, "widget-settings")
		// The page asked for world and politics; the reader drops world,
		// keeps quiet hours with flash alerts allowed, and saves.
		bt.do(t, chromedp.Focus(chromedp.CSS(`.fw-panel input[value=world]`)), chromedp.KeyEvent(" "),
			chromedp.Focus(chromedp.CSS(`.fw-panel input[name=quiet]`)), chromedp.KeyEvent(" "),
			chromedp.Focus(chromedp.CSS(`.fw-save`)), chromedp.KeyEvent(kb.Enter))
		bt.waitFor(t, "the preferences to be saved", `document.querySelector('.fw-status').textContent.indexOf('Saved') === 0`)
		bt.waitFor(t, "the widget to reconnect", `document.querySelector('.fw-root[data-state=open]')`)

		id := eval[string](t, bt, `(function () {
			for (var i = 0; i < localStorage.length; i++) {
				var k = localStorage.key(i);
				if (/:reader$/.test(k)) return localStorage.getItem(k);
			}
			return "";
		})()`)
		if _, err := subscribers.ParseReaderID(id); err != nil {
			t.Fatalf("reader id %q: %v", id, err)
		}
		r, err := env.store.Reader(context.Background(), id)
		if err != nil {
			t.Fatalf("stored preferences of %s: %v", id, err)
		}
		q := r.QuietHours
		if strings.Join(r.Topics, ",") != "politics" || q == nil || q.Start != "22:00" || q.End != "07:00" || !q.AllowFlash || q.TZ == "" {
			t.Fatalf("stored preferences %+v (quiet hours %+v), want politics with quiet hours 22:00-07:00 letting flash through", r.Preferences, q)
		}

		// The connection now follows the stored preferences: of two alerts
		// in order, only the politics one shows.
		dropped := env.publish(t, "Not for this reader: world news", "world")
		kept := env.publish(t, "For this reader: politics news", "politics")
		bt.waitFor(t, "the politics alert", banner(kept))
		if eval[bool](t, bt, `!!`+banner(dropped)) {
			t.Error("an alert on a topic the reader dropped was shown")
		}

		// Escape closes the panel and gives focus back to its button; opened
		// again, it shows what was saved.
		bt.do(t, chromedp.KeyEvent(kb.Escape))
		bt.waitFor(t, "Escape to close the panel and return focus", `document.querySelector('.fw-panel').hidden && document.activeElement === document.querySelector('.fw-toggle')`)
		bt.do(t, chromedp.KeyEvent(kb.Enter))
		bt.waitFor(t, "the panel to open again", `document.activeElement.name === 'topic'`)
		if eval[bool](t, bt, `document.querySelector('.fw-panel input[value=world]').checked || !document.querySelector('.fw-panel input[value=politics]').checked || !document.querySelector('.fw-panel input[name=quiet]').checked`) {
			t.Error("the reopened settings do not show the saved preferences")
		}
		bt.do(t, chromedp.KeyEvent(kb.Escape))
	})

	t.Run("forgotten preferences", func(t *testing.T) {
		// The service lost the reader's preferences: the widget notices its
		// connections are refused and goes back to the page's filters.
		id := eval[string](t, bt, `localStorage.getItem(Object.keys(localStorage).filter(function (k) { return /:reader$/.test(k); })[0])`)
		env.call(t, "DELETE", "/api/v1/readers/"+id+"/preferences", "", nil, nil)
		bt.do(t, chromedp.Reload())
		bt.waitFor(t, "the widget to drop the saved preferences", `!localStorage.getItem(Object.keys(localStorage).filter(function (k) { return /:saved$/.test(k); })[0])`)
		bt.waitFor(t, "the widget to connect", `document.querySelector('.fw-root[data-state=open]')`)
		world := env.publish(t, "World news for the page's readers", "world")
		bt.waitFor(t, "an alert the page's filters allow", banner(world))
	})

	t.Run("SSE when WebSockets are blocked", func(t *testing.T) {
		env.blockWS.Store(true)
		defer env.blockWS.Store(false)
		bt.do(t, chromedp.Reload())
		bt.waitFor(t, "the widget to fall back to SSE", `document.querySelector('.fw-root[data-state=open][data-transport=sse]')`)
		id := env.publish(t, "Delivered over SSE", "politics")
		bt.waitFor(t, "the alert over SSE", banner(id))
		bt.screenshot(t, "widget-sse")
	})

	// Last, as it stops the hub: a restarting server's reconnect hint
	// (close code 1012 with {"retry_ms":N}) is honoured, not the usual
	// backoff, which would reconnect within 1 s. Both ends of the wait are
	// timed in the page, from the close event to the next WebSocket, so a
	// slow test process cannot shift the window: reconnects after the hint
	// that the closing hub refuses (and the backoff that follows) are
	// legitimately fast and are not counted.
	t.Run("restart hint", func(t *testing.T) {
		if _, err := chromedp.Call(bt.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: socketProbe}); err != nil {
			t.Fatal(err)
		}
		bt.do(t, chromedp.Reload())
		bt.waitFor(t, "the widget to connect", `document.querySelector('.fw-root[data-state=open][data-transport=ws]')`)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		env.hub.Shutdown(ctx)
		cancel()
		bt.waitFor(t, "the widget to see the restart", `window.__sockets.some(function (s) { return s.code === 1012; })`)
		// Watch until the widget reconnects or 1.5 s have passed: longer
		// than any backoff after a hello (under 1 s), shorter than most hints.
		bt.waitFor(t, "the widget to reconnect or 1.5 s to pass", `(function () {
			var s = window.__sockets, i = s.findIndex(function (x) { return x.code === 1012; });
			return i < s.length - 1 || Date.now() - s[i].closed >= 1500;
		})()`)
		var got struct {
			Reason   string
			Closed   int64
			Reopened int64 // 0: not yet
		}
		raw := eval[[]byte](t, bt, `(function () {
			var s = window.__sockets, i = s.findIndex(function (x) { return x.code === 1012; });
			return { reason: s[i].reason, closed: s[i].closed, reopened: i + 1 < s.length ? s[i + 1].opened : 0 };
		})()`)
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		var hint struct {
			RetryMS *int64 `json:"retry_ms"`
		}
		if err := json.Unmarshal([]byte(got.Reason), &hint); err != nil || hint.RetryMS == nil || *hint.RetryMS < 1000 || *hint.RetryMS > 10000 {
			t.Fatalf("close reason %q, want {\"retry_ms\":N} with N in 1000-10000", got.Reason)
		}
		if got.Reopened == 0 {
			t.Logf("no reconnect within 1.5 s of a hint of %d ms", *hint.RetryMS)
			return
		}
		if wait := got.Reopened - got.Closed; wait < *hint.RetryMS {
			t.Errorf("reconnected %d ms after a restart that asked for %d ms", wait, *hint.RetryMS)
		}
	})

	if v := eval[[]string](t, bt, `window.__csp`); len(v) > 0 {
		t.Errorf("Content-Security-Policy violations: %q", v)
	}
	bt.mu.Lock()
	defer bt.mu.Unlock()
	for _, p := range bt.problems {
		t.Errorf("page logged: %s", p)
	}
}
