package web

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/chromedp"

	"flashwire/notifier/webpush"
)

// shownNotification is what getNotifications() tells of one.
type shownNotification struct {
	Title              string `json:"title"`
	Tag                string `json:"tag"`
	Body               string `json:"body"`
	RequireInteraction bool   `json:"requireInteraction"`
	URL                string `json:"url"`
}

// TestServiceWorkerBrowser registers Flashwire's service worker on the
// demo page (served at the root for it) in Chromium, then delivers pushes
// to it through the DevTools protocol, as a push service would: an alert
// shows a notification titled by its headline and tagged with its id, a
// correction replaces it, a retraction closes it.
func TestServiceWorkerBrowser(t *testing.T) {
	env := newWidgetEnv(t, envOptions{})
	bt := newBrowserTab(t)
	ctx := bt.ctx
	origin := env.URL
	var mu sync.Mutex
	var registration serviceworker.RegistrationID
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*serviceworker.EventWorkerRegistrationUpdated); ok {
			for _, r := range e.Registrations {
				if r.ScopeURL == origin+"/" && !r.IsDeleted {
					mu.Lock()
					registration = r.RegistrationID
					mu.Unlock()
				}
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, serviceworker.Enable, struct{}{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "notifications"}, Setting: browser.PermissionSettingGranted, Origin: origin,
	}); err != nil {
		t.Fatalf("grant notifications: %v", err)
	}
	bt.do(t, chromedp.Navigate(origin+"/"))
	state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.serviceWorker.register("/flashwire-sw.js").then(() => navigator.serviceWorker.ready).then(r => r.active ? "active" : "none")`,
		chromedp.EvalAwaitPromise))
	if err != nil || state != "active" {
		t.Fatalf("register the service worker: %q, %v", state, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for mu.Lock(); registration == ""; mu.Lock() {
		mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("no service worker registration reported")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Unlock()

	push := func(msg map[string]any) {
		t.Helper()
		data, _ := json.Marshal(msg)
		mu.Lock()
		id := registration
		mu.Unlock()
		if _, err := chromedp.Call(ctx, serviceworker.DeliverPushMessage, serviceworker.DeliverPushMessageParams{
			Origin: origin, RegistrationID: id, Data: string(data),
		}); err != nil {
			t.Fatalf("deliver push: %v", err)
		}
	}
	// shown waits for want notifications that pass check. The browser may
	// lose a push delivered while its worker is being stopped or started
	// (seen under load); every message here is idempotent (same tag), so
	// again, every 2 s, is a push that a real push service would retry.
	shown := func(want int, check func([]shownNotification) bool, again map[string]any) []shownNotification {
		t.Helper()
		var list []shownNotification
		deadline := time.Now().Add(15 * time.Second)
		next := time.Now().Add(2 * time.Second)
		for {
			if again != nil && time.Now().After(next) {
				push(again)
				next = time.Now().Add(2 * time.Second)
			}
			raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.serviceWorker.ready.then(r => r.getNotifications()).then(ns =>
				JSON.stringify(ns.map(n => ({title: n.title, tag: n.tag, body: n.body, requireInteraction: n.requireInteraction, url: (n.data || {}).url}))))`,
				chromedp.EvalAwaitPromise))
			list = nil
			if err == nil && json.Unmarshal([]byte(raw), &list) == nil && len(list) == want && check(list) {
				return list
			}
			if time.Now().After(deadline) {
				t.Fatalf("notifications %s (%v), want %d", raw, err, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	const id = "1795000000000-0"
	first := map[string]any{"type": "alert", "id": id, "headline": "Earthquake shakes the capital", "summary": "Buildings evacuated.",
		"url": "https://news.example.com/quake", "priority": "flash", "published_at": "2026-11-29T20:00:00Z"}
	// The worker may still be starting when the first push comes; the
	// same push again only replaces its notification (same tag).
	for range 20 {
		push(first)
		ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise(done => setTimeout(done, 500)).then(() => navigator.serviceWorker.ready).then(r => r.getNotifications()).then(ns => ns.length > 0)`, chromedp.EvalAwaitPromise))
		if ok {
			break
		}
	}
	shown(1, func(ns []shownNotification) bool {
		n := ns[0]
		return n.Title == "Earthquake shakes the capital" && n.Tag == id && n.Body == "Buildings evacuated." &&
			n.RequireInteraction && n.URL == "https://news.example.com/quake"
	}, nil)
	update := map[string]any{"type": "update", "id": id, "headline": "Earthquake of magnitude 6 shakes the capital",
		"url": "https://news.example.com/quake", "priority": "flash"}
	push(update)
	shown(1, func(ns []shownNotification) bool {
		return ns[0].Title == "Earthquake of magnitude 6 shakes the capital" && ns[0].Tag == id
	}, update)
	// Another alert shows beside it; its retraction leaves the first.
	vote := map[string]any{"type": "alert", "id": "1795000000001-0", "headline": "Vote delayed", "url": "https://news.example.com/vote", "priority": "normal"}
	push(vote)
	shown(2, func(ns []shownNotification) bool { return true }, vote)
	retract := map[string]any{"type": "retract", "id": id}
	push(retract)
	left := shown(1, func(ns []shownNotification) bool { return ns[0].Tag == "1795000000001-0" }, retract)
	if left[0].RequireInteraction {
		t.Fatal("a normal alert requires interaction")
	}
}

// TestWidgetNotifications drives the widget's "Get notifications" on the
// demo page: nothing asks for permission on load; the settings panel
// shows the state; a click (a user gesture) creates the reader with the
// page's defaults, registers the service worker and subscribes; a browser
// that blocks notifications is told so, without a button.
func TestWidgetNotifications(t *testing.T) {
	env := newWidgetEnv(t, envOptions{configure: func(e *testEnv, _ *HubConfig, c *Config) {
		keys, err := webpush.LoadKeys(context.Background(), e.rdb)
		if err != nil {
			t.Fatal(err)
		}
		c.Push = webpush.NewSender(e.rdb, e.store, webpush.Options{Keys: keys})
	}})
	bt := newBrowserTab(t)
	origin := env.URL
	bt.do(t, chromedp.Navigate(origin+"/"))
	bt.waitFor(t, "the widget", `document.querySelector(".fw-toggle")`)
	if p := eval[string](t, bt, `Notification.permission`); p != "default" {
		t.Fatalf("permission %q after load, want default: nothing may ask before a click", p)
	}
	if n := registrations(t, bt); n != 0 {
		t.Fatalf("%v service workers registered on load", n)
	}
	bt.do(t, chromedp.Click(".fw-toggle"))
	bt.waitFor(t, "the notifications state", `document.querySelector(".fw-push[data-push=off]")`)
	if got := eval[string](t, bt, `document.querySelector(".fw-push-toggle").textContent`); got != "Get notifications" {
		t.Fatalf("button says %q", got)
	}

	// The reader accepts the browser's question.
	if _, err := chromedp.CallBrowser(bt.ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "notifications"}, Setting: browser.PermissionSettingGranted, Origin: origin,
	}); err != nil {
		t.Fatal(err)
	}
	bt.waitFor(t, "the permission", `Notification.permission === "granted"`)
	bt.do(t, chromedp.Click(".fw-push-toggle"))
	// Headless Chromium has no push service to reach, so its subscribe
	// never ends here; everything before it must have happened: the
	// reader stored with the page's defaults and the demo's worker
	// registered.
	id := eval[string](t, bt, `localStorage.getItem("flashwire:" + location.host + ":reader")`)
	deadline := time.Now().Add(15 * time.Second)
	for {
		r, err := env.store.Reader(context.Background(), id)
		if err == nil && registrations(t, bt) == 1 {
			if strings.Join(r.Topics, ",") != "world,politics" || strings.Join(r.Regions, ",") != "international" {
				t.Fatalf("reader %+v; want the page's defaults", r)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the click: reader %q %v, %v service workers", id, err, registrations(t, bt))
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Blocked in the browser: said so, and no button to press.
	if _, err := chromedp.CallBrowser(bt.ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "notifications"}, Setting: browser.PermissionSettingDenied, Origin: origin,
	}); err != nil {
		t.Fatal(err)
	}
	bt.do(t, chromedp.Click(".fw-toggle"), chromedp.Click(".fw-toggle"))
	bt.waitFor(t, "the blocked state", `document.querySelector(".fw-push[data-push=blocked]") && document.querySelector(".fw-push-toggle").hidden`)
}

// registrations returns how many service workers the page's origin has.
func registrations(tb testing.TB, bt *browserTab) float64 {
	tb.Helper()
	n, err := chromedp.Run(bt.ctx, chromedp.Evaluate[float64](`navigator.serviceWorker.getRegistrations().then(rs => rs.length)`, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
