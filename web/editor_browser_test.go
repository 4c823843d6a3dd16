package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/prometheus/client_golang/prometheus"

	"flashwire/internal/redistest"
	"flashwire/notifier"
	"flashwire/subscribers"
)

// TestEditorBrowser drives the editor console in Chromium with the keyboard
// alone, next to a reader page in another tab of the same browser: sign
// in, compose a flash alert with its preview and audience, confirm and
// send it, see the banner reach the reader and the delivery figures, correct
// it, retract it and see the banner go; then, as an admin, use the token,
// topic, partner and audit pages. Screenshots go to testdata/artifacts.
func TestEditorBrowser(t *testing.T) {
	env := newEditorEnv(t)
	reader := newBrowserTab(t)
	reader.do(t, chromedp.Navigate(env.URL+"/"))
	reader.waitFor(t, "the reader widget to connect", `document.querySelector('.fw-root[data-state=open]')`)

	// The console opens in a second tab of the same browser.
	cctx, cancel := chromedp.NewContext(reader.ctx)
	t.Cleanup(cancel)
	console := &browserTab{ctx: cctx}
	if err := chromedp.Do(cctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(cctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspProbe}); err != nil {
		t.Fatal(err)
	}
	console.setReducedMotion(t, true)
	console.do(t, chromedp.Navigate(env.URL+"/editor"))

	console.waitFor(t, "the sign-in form", `!document.getElementById('signin-view').hidden`)
	console.do(t, chromedp.Focus(chromedp.CSS(`#token`)), chromedp.SendKeys(chromedp.CSS(`#token`), env.editor), chromedp.KeyEvent(kb.Enter))
	console.waitFor(t, "the console after signing in", `!document.getElementById('app').hidden && document.querySelector('#topics input[value=world]')`)
	if got := eval[string](t, console, `document.getElementById('who').textContent`); got != "browser test editor (editor)" {
		t.Errorf("signed in as %q", got)
	}
	if eval[bool](t, console, `!document.querySelector('[data-view=tokens]').hidden`) {
		t.Error("an editor sees the admin pages")
	}

	headline := `Ceasefire agreed <b>tonight</b>`
	console.do(t,
		chromedp.Focus(chromedp.CSS(`#headline`)), chromedp.SendKeys(chromedp.CSS(`#headline`), headline),
		chromedp.Focus(chromedp.CSS(`#summary`)), chromedp.SendKeys(chromedp.CSS(`#summary`), "Both sides signed in Geneva."),
		chromedp.Focus(chromedp.CSS(`#url`)), chromedp.SendKeys(chromedp.CSS(`#url`), "https://news.example.com/ceasefire"),
		chromedp.Focus(chromedp.CSS(`#topics input[value=world]`)), chromedp.KeyEvent(" "),
		chromedp.Focus(chromedp.CSS(`#regions input[value=international]`)), chromedp.KeyEvent(" "),
		chromedp.Focus(chromedp.CSS(`#priority-flash`)), chromedp.KeyEvent(" "),
	)
	t.Run("preview", func(t *testing.T) {
		console.waitFor(t, "the preview banner", `document.querySelector('#preview-stack .fw-banner.fw-flash .fw-headline').textContent === `+fmt.Sprintf("%q", headline))
		if eval[int](t, console, `document.querySelectorAll('#preview b').length`) != 0 {
			t.Error("the preview rendered the headline as HTML")
		}
	})
	t.Run("audience", func(t *testing.T) {
		// The reader's tab is one connection that wants world alerts.
		console.waitFor(t, "the audience count", `document.getElementById('audience').getAttribute('data-online') === '1'`)
		if got := eval[string](t, console, `document.getElementById('audience').textContent`); !strings.HasPrefix(got, "Reaches 1 reader online now") {
			t.Errorf("audience reads %q", got)
		}
		eval[bool](t, console, `window.scrollTo(0, 0), true`)
		console.screenshot(t, "editor-compose")
	})

	console.do(t, chromedp.Focus(chromedp.CSS(`#send`)), chromedp.KeyEvent(kb.Enter))
	console.waitFor(t, "the flash confirmation", `document.getElementById('confirm').open`)
	if got := eval[string](t, console, `document.activeElement.id`); got != "confirm-no" {
		t.Errorf("focus on %q in the confirmation, want Cancel", got)
	}
	console.screenshot(t, "editor-confirm-flash")
	console.do(t, chromedp.Focus(chromedp.CSS(`#confirm-yes`)), chromedp.KeyEvent(kb.Enter))
	console.waitFor(t, "the sent list", `document.querySelector('#sent tr[data-id] .headline')`)
	id := eval[string](t, console, `document.querySelector('#sent tr[data-id]').getAttribute('data-id')`)

	reader.waitFor(t, "the alert on the reader page", banner(id))
	if got := eval[string](t, reader, banner(id)+`.querySelector('.fw-headline').textContent`); got != headline {
		t.Errorf("reader banner headline %q, want %q", got, headline)
	}
	reader.setReducedMotion(t, true)
	reader.screenshot(t, "editor-reader-banner")
	console.waitFor(t, "delivery figures", `document.querySelector('#sent tr[data-id="`+id+`"] .delivery').textContent.indexOf('1 reached') > 0`)
	console.screenshot(t, "editor-sent")

	t.Run("correct", func(t *testing.T) {
		console.do(t, chromedp.Focus(chromedp.CSS(`#sent tr[data-id="`+id+`"] .correct`)), chromedp.KeyEvent(kb.Enter))
		console.waitFor(t, "the correction dialog", `document.getElementById('correct').open && document.getElementById('correct-headline').value === `+fmt.Sprintf("%q", headline))
		eval[bool](t, console, `document.getElementById('correct-headline').value = '', true`)
		console.do(t, chromedp.Focus(chromedp.CSS(`#correct-headline`)), chromedp.SendKeys(chromedp.CSS(`#correct-headline`), "Ceasefire agreed in Geneva"),
			chromedp.Focus(chromedp.CSS(`#correct-save`)), chromedp.KeyEvent(kb.Enter))
		reader.waitFor(t, "the corrected banner", banner(id)+`.querySelector('.fw-headline').textContent === "Ceasefire agreed in Geneva"`)
		console.waitFor(t, "the corrected row", `document.querySelector('#sent tr[data-id="`+id+`"] .headline').textContent === "Ceasefire agreed in Geneva"`)
	})

	console.do(t, chromedp.Focus(chromedp.CSS(`#sent tr[data-id="`+id+`"] .retract`)), chromedp.KeyEvent(kb.Enter))
	console.waitFor(t, "the retract confirmation", `document.getElementById('confirm').open`)
	console.do(t, chromedp.Focus(chromedp.CSS(`#confirm-yes`)), chromedp.KeyEvent(kb.Enter))
	reader.waitFor(t, "the banner to go", `!`+banner(id))
	console.waitFor(t, "the alert marked retracted", `document.querySelector('#sent tr.retracted[data-id="`+id+`"]')`)
	reader.screenshot(t, "editor-reader-retracted")

	t.Run("admin pages", func(t *testing.T) {
		console.do(t, chromedp.Focus(chromedp.CSS(`#signout`)), chromedp.KeyEvent(kb.Enter))
		console.waitFor(t, "the sign-in form again", `!document.getElementById('signin-view').hidden`)
		console.do(t, chromedp.SendKeys(chromedp.CSS(`#token`), testAdminToken), chromedp.KeyEvent(kb.Enter))
		console.waitFor(t, "the admin pages", `!document.querySelector('[data-view=tokens]').hidden`)
		console.do(t, chromedp.Focus(chromedp.CSS(`[data-view=tokens]`)), chromedp.KeyEvent(kb.Enter))
		console.waitFor(t, "the token list", `document.querySelector('#tokens tr[data-id]')`)
		console.do(t,
			chromedp.Focus(chromedp.CSS(`#token-name`)), chromedp.SendKeys(chromedp.CSS(`#token-name`), "weekend desk"),
			chromedp.Focus(chromedp.CSS(`#token-form button[type=submit]`)), chromedp.KeyEvent(kb.Enter))
		console.waitFor(t, "the new token's secret", `document.querySelector('#token-form .secret').textContent.indexOf('fw_') > 0`)
		console.do(t, chromedp.Focus(chromedp.CSS(`[data-view=topics]`)), chromedp.KeyEvent(kb.Enter))
		console.waitFor(t, "the topics", `document.querySelectorAll('#topic-list li').length >= 9`)
		console.do(t, chromedp.Focus(chromedp.CSS(`[data-view=partners]`)), chromedp.KeyEvent(kb.Enter))
		console.do(t,
			chromedp.Focus(chromedp.CSS(`#partner-name`)), chromedp.SendKeys(chromedp.CSS(`#partner-name`), "Metro Daily"),
			chromedp.Focus(chromedp.CSS(`#partner-url`)), chromedp.SendKeys(chromedp.CSS(`#partner-url`), "https://metro.example.com/hooks/flashwire"),
			chromedp.Focus(chromedp.CSS(`#partner-form button[type=submit]`)), chromedp.KeyEvent(kb.Enter))
		console.waitFor(t, "the new partner", `document.querySelector('#partners tr[data-id]')`)
		console.do(t, chromedp.Focus(chromedp.CSS(`[data-view=audit]`)), chromedp.KeyEvent(kb.Enter))
		console.waitFor(t, "the audit log", `document.querySelectorAll('#audit tr').length >= 5`)
		console.screenshot(t, "editor-audit")
	})

	if v := eval[[]string](t, console, `window.__csp`); len(v) > 0 {
		t.Errorf("console broke its Content-Security-Policy: %v", v)
	}
	var audit struct {
		Entries []AuditEntry
	}
	env.call(t, "GET", "/api/v1/audit", env.editor, nil, &audit)
	var entries []string
	for _, e := range audit.Entries {
		entries = append(entries, e.Action+" "+e.Target)
	}
	want := []string{"POST /api/v1/partners", "POST /api/v1/tokens", "POST /editor/session ", "DELETE /editor/session ",
		"POST /api/v1/alerts/{id}/retract " + id, "POST /api/v1/alerts/{id}/update " + id, "POST /api/v1/alerts " + id, "POST /editor/session "}
	for i := range entries {
		if i < 2 { // the ids of the new partner and token
			entries[i] = strings.Fields(entries[i])[0] + " " + strings.Fields(entries[i])[1]
		}
	}
	if len(entries) < len(want) || fmt.Sprint(entries[:len(want)]) != fmt.Sprint(want) {
		t.Errorf("audit log %v, want first %v", entries, want)
	}
}

// newEditorEnv is newWidgetEnv's instance with delivery figures kept, which
// the console shows.
func newEditorEnv(tb testing.TB) *widgetEnv {
	tb.Helper()
	_, rdb := redistest.Start(tb)
	store := subscribers.NewStore(rdb)
	if err := store.Seed(context.Background()); err != nil {
		tb.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	alerts := notifier.NewService(notifier.NewLog(rdb), store)
	stats := notifier.NewStats(rdb)
	hub := NewHub(HubConfig{Log: alerts.Log(), Stats: stats, Registry: reg, Logger: logger})
	env := &widgetEnv{store: store}
	env.Server = httptest.NewServer(NewServer(Config{
		Logger:      logger,
		Redis:       rdb,
		Alerts:      alerts,
		Subscribers: store,
		Tokens:      NewTokens(rdb, testAdminToken),
		Registry:    reg,
		Hub:         hub,
		Stats:       stats,
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = hub.Run(ctx); close(done) }()
	tb.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		hub.Shutdown(sctx)
		scancel()
		env.Close()
		cancel()
		<-done
	})
	select {
	case <-hub.tailing:
	case <-time.After(10 * time.Second):
		tb.Fatal("hub did not start tailing the alert log")
	}
	env.editor = env.token(tb, "editor")
	return env
}
