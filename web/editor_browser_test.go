package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"flashwire"
	"flashwire/notifier/watch"
	"flashwire/notifier/webhook"
)

// Held stories the newsroom feed in TestEditorBrowser flags as breaking.
const (
	heldToSend    = "Bridge closed after ship strike"
	heldToDismiss = "Harbour cranes halted by storm"
	// editedLink is the link an editor gives heldToSend before sending it.
	editedLink = "https://news.example.com/a/bridge-closed-edited"
)

// newsroomFeed serves RSS on loopback: /world.rss has two breaking stories
// dated now, /quiet.rss one ordinary story, and anything else is a 404.
func newsroomFeed(tb testing.TB) *httptest.Server {
	tb.Helper()
	item := func(title, category string) string {
		slug := strings.ToLower(strings.ReplaceAll(title, " ", "-"))
		return fmt.Sprintf(`<item><title>%s</title><link>https://news.example.com/a/%s</link><guid>%s</guid>
<category>%s</category><pubDate>%s</pubDate><description>Officials confirmed it minutes ago.</description></item>`,
			title, slug, slug, category, time.Now().UTC().Format(time.RFC1123Z))
	}
	items := map[string]string{
		"/world.rss": item(heldToSend, "Breaking News") + item(heldToDismiss, "Breaking News"),
		"/quiet.rss": item("Tide tables for the weekend", "Coast"),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := items[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Newsroom</title>
<link>https://news.example.com/</link><description>Latest</description>%s</channel></rss>`, body)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// withWatcher runs a feed watcher in the instance newEnv builds, as
// flashwire serve does.
func withWatcher(tb testing.TB) func(*testEnv, *HubConfig, *Config) {
	return func(e *testEnv, _ *HubConfig, c *Config) {
		wt := watch.New(watch.Config{Redis: e.rdb, Alerts: e.alerts, Taxonomy: e.store, Logger: c.Logger, FetchTimeout: 5 * time.Second,
			Outbound: loopbackOutbound(tb)})
		if err := wt.Start(context.Background()); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			wt.Stop(ctx)
		})
		c.Watcher = wt
	}
}

// TestEditorBrowser drives the editor console in Chromium with the keyboard
// alone, next to a reader page in another tab of the same browser: sign
// in, compose a flash alert with its preview and audience, confirm and
// send it, see the banner reach the reader and the delivery figures, correct
// it, retract it and see the banner go; send a story a feed source held and
// see it reach the reader, dismiss another; then, as an admin, create a
// token (its secret shown once, selected, with a Copy button) and revoke it,
// add a topic and a region and remove the topic, add a partner (first with
// a bad URL, then seeing its signing secret once), pause and resume it, read
// the audit log and add a feed source, first with a bad schedule. Only real
// key presses drive the console, and each step checks where focus is and
// that it shows. Screenshots go to testdata/artifacts.
func TestEditorBrowser(t *testing.T) {
	env := newWidgetEnv(t, envOptions{stats: true, configure: func(e *testEnv, h *HubConfig, c *Config) {
		withWatcher(t)(e, h, c)
		c.PartnerSecrets = webhook.NewSecrets(e.rdb)
	}})
	feed := newsroomFeed(t)
	// A source in hold mode queues its breaking stories for an editor; a
	// source whose feed is gone shows its error on the Sources page.
	for _, src := range []map[string]any{
		{"url": feed.URL + "/world.rss", "mode": "hold", "schedule": "@every 1s", "topics": []string{"world"}, "regions": []string{"international"}},
		{"url": feed.URL + "/gone.rss", "mode": "hold", "schedule": "@every 1s", "topics": []string{"world"}},
	} {
		env.call(t, "POST", "/api/v1/sources", testAdminToken, src, nil)
	}
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

	// From here on, only real key presses drive the console.
	console.waitFor(t, "the sign-in form", `!document.getElementById('signin-view').hidden && document.activeElement.id === 'token'`)
	console.press(t, env.editor)
	console.press(t, kb.Tab)
	focusOn(t, console, `#signin`)
	console.press(t, " ")
	console.waitFor(t, "the console after signing in", `!document.getElementById('app').hidden && document.querySelector('#topics input[value=world]')`)
	focusOn(t, console, `#compose-title`)
	if got := eval[string](t, console, `document.getElementById('who').textContent`); got != "browser test editor (editor)" {
		t.Errorf("signed in as %q", got)
	}
	if eval[bool](t, console, `!document.querySelector('[data-view=tokens]').hidden`) {
		t.Error("an editor sees the admin pages")
	}

	headline := `Ceasefire agreed <b>tonight</b>`
	for _, field := range []struct{ sel, text string }{
		{`#headline`, headline},
		{`#summary`, "Both sides signed in Geneva."},
		{`#url`, "https://news.example.com/ceasefire"},
	} {
		console.press(t, kb.Tab)
		focusOn(t, console, field.sel)
		console.press(t, field.text)
	}
	console.press(t, kb.Tab)
	focusOn(t, console, `#image_url`)
	tabUntil(t, console, `#topics input[value=world]`, `#topics input`, 20)
	console.press(t, " ")
	tabUntil(t, console, `#regions input[value=international]`, `#topics input, #regions input`, 30)
	console.press(t, " ")
	tabUntil(t, console, `#language`, `#regions input`, 30)
	// A radio group is one Tab stop; the arrows choose within it.
	console.press(t, kb.Tab)
	focusOn(t, console, `#priority-normal`)
	console.press(t, kb.ArrowUp+kb.ArrowUp)
	focusOn(t, console, `#priority-flash:checked`)
	// The date and time input takes a Tab stop for each of its parts.
	tabUntil(t, console, `#send`, `#send_at`, 10)
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

	console.press(t, kb.Enter)
	console.waitFor(t, "the flash confirmation", `document.getElementById('confirm').open`)
	focusOn(t, console, `#confirm-no`)
	console.screenshot(t, "editor-confirm-flash")
	console.press(t, kb.Tab, shiftTab)
	focusOn(t, console, `#confirm-yes`)
	console.press(t, kb.Enter)
	console.waitFor(t, "the sent list", `document.querySelector('#sent tr[data-id] .headline')`)
	focusOn(t, console, `#sent-title`)
	id := eval[string](t, console, `document.querySelector('#sent tr[data-id]').getAttribute('data-id')`)

	reader.waitFor(t, "the alert on the reader page", banner(id))
	if got := eval[string](t, reader, banner(id)+`.querySelector('.fw-headline').textContent`); got != headline {
		t.Errorf("reader banner headline %q, want %q", got, headline)
	}
	reader.setReducedMotion(t, true)
	reader.screenshot(t, "editor-reader-banner")
	console.waitFor(t, "delivery figures", `document.querySelector('#sent tr[data-id="`+id+`"] .delivery').textContent.indexOf('1 reached') > 0`)
	console.screenshot(t, "editor-sent")

	// The sent list's first control follows its heading.
	row := `#sent tr[data-id="` + id + `"]`
	console.press(t, kb.Tab)
	focusOn(t, console, row+` .correct`)
	t.Run("correct", func(t *testing.T) {
		console.press(t, kb.Enter)
		console.waitFor(t, "the correction dialog", `document.getElementById('correct').open && document.getElementById('correct-headline').value === `+fmt.Sprintf("%q", headline))
		focusOn(t, console, `#correct-headline`)
		eval[bool](t, console, `document.getElementById('correct-headline').value = '', true`)
		console.press(t, "Ceasefire agreed in Geneva")
		tabUntil(t, console, `#correct-save`, `#correct-summary, #correct-url`, 3)
		console.press(t, kb.Enter)
		reader.waitFor(t, "the corrected banner", banner(id)+`.querySelector('.fw-headline').textContent === "Ceasefire agreed in Geneva"`)
		console.waitFor(t, "the corrected row", `document.querySelector('`+row+` .headline').textContent === "Ceasefire agreed in Geneva"`)
		// Focus is back on the button the dialog was opened from.
		focusOn(t, console, row+` .correct`)
	})

	console.press(t, kb.Tab)
	focusOn(t, console, row+` .retract`)
	console.press(t, kb.Enter)
	console.waitFor(t, "the retract confirmation", `document.getElementById('confirm').open`)
	focusOn(t, console, `#confirm-no`)
	console.press(t, kb.Tab, shiftTab)
	focusOn(t, console, `#confirm-yes`)
	console.press(t, " ")
	reader.waitFor(t, "the banner to go", `!`+banner(id))
	console.waitFor(t, "the alert marked retracted", `document.querySelector('#sent tr.retracted[data-id="`+id+`"]')`)
	// Its buttons are gone: focus falls back to the list's heading.
	focusOn(t, console, `#sent-title`)
	reader.screenshot(t, "editor-reader-retracted")

	t.Run("held stories", func(t *testing.T) {
		deadline := time.Now().Add(15 * time.Second)
		for {
			var held struct{ Held []watch.HeldStory }
			env.call(t, "GET", "/api/v1/held", env.editor, nil, &held)
			if len(held.Held) == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("held stories: %+v", held.Held)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// A fresh page starts at the top again, focus on the first heading;
		// the section buttons come just before it.
		console.do(t, chromedp.Reload())
		console.waitFor(t, "the console after a reload", `document.activeElement.id === 'compose-title'`)
		console.press(t, kb.Tab, shiftTab)
		focusOn(t, console, `[data-view=audit]`)
		console.press(t, kb.Tab, shiftTab)
		focusOn(t, console, `[data-view=held]`)
		console.press(t, kb.Enter)
		console.waitFor(t, "the held stories", `document.querySelectorAll('#held tr[data-id]').length === 2`)
		focusOn(t, console, `#held-title`)
		console.screenshot(t, "editor-held")
		// Each button names its story for a screen reader.
		button := func(action, headline string) string {
			return fmt.Sprintf(`#held button.%s[aria-label=%q]`, strings.ToLower(action), action+": "+headline)
		}
		// An editor fixes a story's link before sending it: a link that
		// is not one is named beside its field, focus on it.
		tabUntil(t, console, button("Edit", heldToSend), `#held button, #held a`, 6)
		console.press(t, kb.Enter)
		console.waitFor(t, "the edit form", `document.activeElement.id === 'held-edit-headline'`)
		focusJS(t, console, `#held-edit-url`)
		eval[bool](t, console, `document.getElementById('held-edit-url').select(), true`)
		console.press(t, "not a link"+kb.Enter)
		console.waitFor(t, "the link marked wrong", `document.activeElement.id === 'held-edit-url' && document.activeElement.getAttribute('aria-invalid') === 'true' && /Story URL/.test(document.querySelector('#held-edit .errors').textContent)`)
		console.press(t, editedLink+kb.Enter)
		console.waitFor(t, "the edit saved", fmt.Sprintf(`!document.getElementById('held-edit') && document.activeElement.matches(%q) && document.getElementById('flash-status').textContent === %q`, button("Edit", heldToSend), "Saved: "+heldToSend))
		if got := eval[string](t, console, fmt.Sprintf(`document.querySelector(%q).closest('tr').querySelector('a.headline').href`, button("Edit", heldToSend))); got != editedLink {
			t.Errorf("the held story links to %q after the edit", got)
		}
		tabUntil(t, console, button("Send", heldToSend), `#held button, #held a`, 6)
		console.press(t, kb.Enter)
		reader.waitFor(t, "the held story on the reader page", fmt.Sprintf(`Array.prototype.some.call(document.querySelectorAll('.fw-banner .fw-headline'), function (h) { return h.textContent === %q; })`, heldToSend))
		// Focus moves to the story that took its place (a refresh of the
		// list may come first).
		console.waitFor(t, "the sent story to leave the list", fmt.Sprintf(`document.querySelectorAll('#held tr[data-id]').length === 1 && document.activeElement.matches(%q)`, button("Send", heldToDismiss)))
		focusOn(t, console, button("Send", heldToDismiss))
		console.press(t, kb.Tab)
		focusOn(t, console, button("Dismiss", heldToDismiss))
		console.press(t, " ")
		console.waitFor(t, "the dismissed story to leave the list", `!document.querySelector('#held tr[data-id]') && document.getElementById('held').textContent === 'No held stories.' && document.activeElement.id === 'held-title'`)
		focusOn(t, console, `#held-title`)
		if got := eval[string](t, console, `document.getElementById('flash-status').textContent`); got != "Dismissed: "+heldToDismiss {
			t.Errorf("status reads %q", got)
		}
		// The story went out as edited.
		var sent struct{ Alerts []flashwire.Alert }
		env.call(t, "GET", "/api/v1/alerts?limit=100", env.editor, nil, &sent)
		for _, a := range sent.Alerts {
			if a.Headline == heldToSend && a.URL != editedLink {
				t.Errorf("sent with the link %q, want %q", a.URL, editedLink)
			}
		}
	})

	// The admin pages, like the rest, are driven by key presses alone.
	t.Run("sign in as admin", func(t *testing.T) {
		// From the held list's heading back past the section buttons.
		tabUntil(t, console, `#signout`, `.tabs button`, 8, shiftTab)
		console.press(t, kb.Enter)
		console.waitFor(t, "the sign-in form again", `!document.getElementById('signin-view').hidden && document.activeElement.id === 'token'`)
		console.press(t, testAdminToken+kb.Enter)
		console.waitFor(t, "the admin pages", `!document.querySelector('[data-view=tokens]').hidden && document.activeElement.id === 'compose-title'`)
		console.press(t, kb.Tab, shiftTab)
		focusOn(t, console, `[data-view=tokens]`)
	})

	t.Run("tokens", func(t *testing.T) {
		console.press(t, kb.Enter)
		console.waitFor(t, "the token list", `document.querySelector('#tokens tr[data-id]')`)
		focusOn(t, console, `#tokens-title`)
		tabUntil(t, console, `#token-name`, `#tokens button`, 6)
		console.press(t, "weekend desk")
		console.press(t, kb.Tab)
		focusOn(t, console, `#token-role`)
		console.press(t, kb.Tab)
		focusOn(t, console, `#token-form button[type=submit]`)
		console.press(t, kb.Enter)
		// The secret, shown once, gets focus already selected: Ctrl+C copies it.
		console.waitFor(t, "the new token's secret", `document.activeElement.id === 'token-secret'`)
		focusOn(t, console, `#token-secret[readonly]`)
		secret := eval[string](t, console, `(function (i) { return i.selectionStart === 0 && i.selectionEnd === i.value.length ? i.value : ""; })(document.activeElement)`)
		if !strings.HasPrefix(secret, "fw_") {
			t.Fatalf("selected secret %q, want the whole fw_ token", secret)
		}
		if code, _ := env.do(t, "GET", "/api/v1/alerts", secret, nil); code != 200 {
			t.Errorf("the shown token gets %d", code)
		}
		console.press(t, kb.Tab)
		focusOn(t, console, `#token-form .copy`)
		console.press(t, kb.Enter)
		console.waitFor(t, "the copy's outcome", `document.querySelector('#token-form .secret-box .status').textContent === 'Copied to the clipboard.'`)
		eval[bool](t, console, `window.scrollTo(0, 0), true`)
		console.screenshot(t, "editor-tokens")

		revoke := `#tokens .revoke[aria-label="Revoke: weekend desk"]`
		tabUntil(t, console, revoke, `#view-tokens button, #view-tokens input, #view-tokens select`, 8, shiftTab)
		console.press(t, kb.Enter)
		console.waitFor(t, "the revoke confirmation", `document.getElementById('confirm').open`)
		focusOn(t, console, `#confirm-no`)
		console.press(t, kb.Tab, shiftTab)
		focusOn(t, console, `#confirm-yes`)
		console.press(t, kb.Enter)
		// Focus moves to the token now in its place, not the top of the page.
		console.waitFor(t, "the revoked token to leave the list", `!document.querySelector('`+revoke+`') && document.activeElement.matches('#tokens .revoke')`)
		focusOn(t, console, `#tokens .revoke`)
		if code, _ := env.do(t, "GET", "/api/v1/alerts", secret, nil); code != 401 {
			t.Errorf("the revoked token gets %d, want 401", code)
		}
	})

	t.Run("topics", func(t *testing.T) {
		tabUntil(t, console, `[data-view=topics]`, `#tokens button, .tabs button`, 8, shiftTab)
		console.press(t, kb.Enter)
		console.waitFor(t, "the topics", `document.querySelectorAll('#topic-list li').length >= 9`)
		focusOn(t, console, `#topics-title`)
		tabUntil(t, console, `#new-topics`, `#topic-list button, #region-list button`, 40)
		console.press(t, "weather")
		console.press(t, kb.Tab)
		focusOn(t, console, `#new-regions`)
		console.press(t, "north-sea"+kb.Enter)
		remove := `#topic-list button[aria-label="Remove weather"]`
		console.waitFor(t, "the new topic and region", `document.querySelector('`+remove+`') && document.querySelector('#region-list button[aria-label="Remove north-sea"]')`)
		focusOn(t, console, `#new-regions`)
		tabUntil(t, console, remove, `#topic-list button, #region-list button, #new-topics`, 40, shiftTab)
		console.press(t, kb.Enter)
		console.waitFor(t, "the remove confirmation", `document.getElementById('confirm').open`)
		focusOn(t, console, `#confirm-no`)
		console.press(t, kb.Tab, shiftTab)
		focusOn(t, console, `#confirm-yes`)
		console.press(t, " ")
		console.waitFor(t, "the topic to go", `!document.querySelector('`+remove+`') && document.activeElement.matches('#topic-list button')`)
		focusOn(t, console, `#topic-list button`)
		var tax struct{ Topics, Regions []string }
		env.call(t, "GET", "/api/v1/topics", "", nil, &tax)
		if slices.Contains(tax.Topics, "weather") || !slices.Contains(tax.Regions, "north-sea") {
			t.Errorf("taxonomy %+v, want north-sea and no weather", tax)
		}
		eval[bool](t, console, `window.scrollTo(0, 0), true`)
		console.screenshot(t, "editor-topics")
	})

	t.Run("partners", func(t *testing.T) {
		tabUntil(t, console, `[data-view=partners]`, `#topic-list button, .tabs button`, 30, shiftTab)
		console.press(t, kb.Enter)
		focusOn(t, console, `#partners-title`)
		console.press(t, kb.Tab)
		focusOn(t, console, `#partner-name`)
		console.press(t, "Metro Daily")
		console.press(t, kb.Tab)
		focusOn(t, console, `#partner-url`)
		// The browser takes any scheme; the server wants http or https.
		console.press(t, "ftp://metro.example.com/hooks/flashwire"+kb.Enter)
		console.waitFor(t, "the URL's error", `document.querySelector('#partner-form .errors').textContent === 'Webhook URL must be a full web address starting with https://.'`)
		focusOn(t, console, `#partner-url[aria-invalid=true]`)
		if got := eval[string](t, console, `document.getElementById(document.activeElement.getAttribute('aria-describedby')).textContent`); got != "Webhook URL must be a full web address starting with https://." {
			t.Errorf("the URL field is described by %q", got)
		}
		console.press(t, "https://metro.example.com/hooks/flashwire"+kb.Enter)
		console.waitFor(t, "the partner's signing secret", `document.activeElement.id === 'partner-secret' && document.querySelector('#partners tr[data-id]')`)
		focusOn(t, console, `#partner-secret[readonly]`)
		if got := eval[string](t, console, `(function (i) { return i.selectionStart === 0 && i.selectionEnd === i.value.length ? i.value : ""; })(document.activeElement)`); !strings.HasPrefix(got, "whsec_") {
			t.Errorf("selected secret %q, want the whole whsec_ secret", got)
		}
		if got := eval[string](t, console, `document.querySelector('#partner-form .errors').textContent`); got != "" {
			t.Errorf("errors left after the fix: %q", got)
		}
		eval[bool](t, console, `window.scrollTo(0, 0), true`)
		console.screenshot(t, "editor-partners")

		id := eval[string](t, console, `document.querySelector('#partners tr[data-id]').getAttribute('data-id')`)
		row := `#partners tr[data-id="` + id + `"]`
		within := `#view-partners button, #view-partners input, #view-partners select`
		tabUntil(t, console, row+` .state[aria-label="Pause: Metro Daily"]`, within, 40, shiftTab)
		// Pausing and resuming rebuild the list; focus stays on the button.
		for _, step := range []struct{ key, state, next string }{
			{kb.Enter, "paused", "Resume"},
			{" ", "active", "Pause"},
		} {
			console.press(t, step.key)
			button := fmt.Sprintf(`%s .state[aria-label="%s: Metro Daily"]`, row, step.next)
			console.waitFor(t, "the partner "+step.state, fmt.Sprintf(`document.querySelector('%s td.partner-state').textContent === %q && document.activeElement.matches(%q)`, row, step.state, button))
			focusOn(t, console, button)
			var p struct{ State string }
			env.call(t, "GET", "/api/v1/partners/"+id, testAdminToken, nil, &p)
			if p.State != step.state {
				t.Errorf("partner state %q, want %q", p.State, step.state)
			}
		}
	})

	t.Run("audit", func(t *testing.T) {
		tabUntil(t, console, `[data-view=audit]`, `#partners button, .tabs button`, 10, shiftTab)
		console.press(t, kb.Enter)
		console.waitFor(t, "the audit log", `document.querySelectorAll('#audit tr').length >= 5`)
		focusOn(t, console, `#audit-title`)
		console.screenshot(t, "editor-audit")
	})

	t.Run("sources", func(t *testing.T) {
		// From the audit log's heading back to the Sources section button.
		focusOn(t, console, `#audit-title`)
		tabUntil(t, console, `[data-view=sources]`, `.tabs button`, 3, shiftTab)
		console.press(t, kb.Enter)
		focusOn(t, console, `#sources-title`)
		tabUntil(t, console, `#source-url`, `#sources button`, 10)
		console.press(t, feed.URL+"/quiet.rss")
		console.press(t, kb.Tab)
		focusOn(t, console, `#source-format`)
		console.press(t, kb.Tab)
		focusOn(t, console, `#source-mode`)
		// Tabbing into a field selects its text: typing replaces it.
		console.press(t, kb.Tab)
		focusOn(t, console, `#source-schedule`)
		console.press(t, "sometimes")
		tabUntil(t, console, `#source-topics input[value=world]`, `#source-topics input`, 12)
		console.press(t, " ")
		tabUntil(t, console, `#source-save`, `#source-form input, #source-form textarea`, 30)
		console.press(t, kb.Enter)
		console.waitFor(t, "the schedule's error", `document.querySelector('#source-form .errors').textContent === 'Schedule is not understood: use a cron line such as */5 * * * * or @every 30s.'`)
		focusOn(t, console, `#source-schedule[aria-invalid=true]`)
		console.press(t, "@every 1s"+kb.Enter)
		console.waitFor(t, "the new source's first poll", fmt.Sprintf(`Array.prototype.some.call(document.querySelectorAll('#sources tr[data-id]'), function (tr) {
			return tr.querySelector('.url').textContent === %q && tr.querySelector('.health .ok') && !tr.querySelector('.health .failing'); })`, feed.URL+"/quiet.rss"))
		console.waitFor(t, "the failing source's error", fmt.Sprintf(`Array.prototype.some.call(document.querySelectorAll('#sources tr[data-id]'), function (tr) {
			return tr.querySelector('.url').textContent === %q && /404/.test(tr.querySelector('.health .failing').textContent); })`, feed.URL+"/gone.rss"))
		if got := eval[string](t, console, `document.querySelector('#source-form .errors').textContent`); got != "" {
			t.Errorf("errors left after the fix: %q", got)
		}
		eval[bool](t, console, `window.scrollTo(0, 0), true`)
		console.screenshot(t, "editor-sources")
	})

	if v := eval[[]string](t, console, `window.__csp`); len(v) > 0 {
		t.Errorf("console broke its Content-Security-Policy: %v", v)
	}
	var audit struct {
		Entries []AuditEntry
	}
	env.call(t, "GET", "/api/v1/audit?limit=50", env.editor, nil, &audit)
	var entries []string
	for _, e := range audit.Entries {
		target := e.Target
		if !strings.Contains(e.Action, "/alerts") { // ids made by the test
			target = ""
		}
		entries = append(entries, fmt.Sprintf("%s %s %d", e.Action, target, e.Status))
	}
	want := []string{"POST /api/v1/sources  201", "POST /api/v1/sources  400",
		"PATCH /api/v1/partners/{id}  200", "PATCH /api/v1/partners/{id}  200", "POST /api/v1/partners  201", "POST /api/v1/partners  400",
		"DELETE /api/v1/topics/{slug}  204", "POST /api/v1/topics  200",
		"GET /api/v1/alerts  401", // the revoked token, tried: a failed sign-in
		"DELETE /api/v1/tokens/{id}  204", "POST /api/v1/tokens  201",
		"POST /editor/session  201", "DELETE /editor/session  204",
		"POST /api/v1/held/{id}/dismiss  204", "POST /api/v1/held/{id}/send  201",
		"PATCH /api/v1/held/{id}  200", "PATCH /api/v1/held/{id}  400",
		"POST /api/v1/alerts/{id}/retract " + id + " 200", "POST /api/v1/alerts/{id}/update " + id + " 200",
		"POST /api/v1/alerts " + id + " 201", "POST /editor/session  201"}
	if len(entries) < len(want) || fmt.Sprint(entries[:len(want)]) != fmt.Sprint(want) {
		t.Errorf("audit log %v, want first %v", entries, want)
	}
}
