package web

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"flashwire/subscribers"
)

// until polls check every 20 ms until it holds, failing tb after 15 s.
func until(tb testing.TB, what string, check func() bool) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// focusJS focuses the element matching sel in one step in the page, so
// that a list rebuilt under the test cannot swap the node between finding
// and focusing it.
func focusJS(tb testing.TB, bt *browserTab, sel string) {
	tb.Helper()
	if !eval[bool](tb, bt, fmt.Sprintf(`(function (e) { if (e) e.focus(); return !!e && document.activeElement === e; })(document.querySelector(%q))`, sel)) {
		tb.Fatalf("cannot focus %s", sel)
	}
}

// consoleViews are the console's pages and what shows each one loaded.
var consoleViews = []struct{ view, ready string }{
	{"compose", `document.querySelector('#topics input')`},
	{"sent", `document.querySelector('#sent tr[data-id]')`},
	{"scheduled", `document.querySelector('#scheduled tr[data-id]')`},
	{"held", `document.querySelector('#held tr[data-id] td.source')`},
	{"audit", `document.querySelector('#audit tr td.action')`},
	{"partners", `document.querySelector('#partners tr[data-id]')`},
	{"sources", `document.querySelector('#sources tr[data-id] .health')`},
	{"topics", `document.querySelector('#topic-list li')`},
	{"tokens", `document.querySelector('#tokens tr[data-id]')`},
}

// fitsJS is empty when the page is no wider than the window and every
// visible control of the shown view lies within it; else it names what
// does not fit.
const fitsJS = `(function () {
	var out = [], w = innerWidth;
	if (document.documentElement.scrollWidth > w) out.push("page " + document.documentElement.scrollWidth + "px wide");
	document.querySelectorAll(".bar button, .view:not([hidden]) button, .view:not([hidden]) a, .view:not([hidden]) input, .view:not([hidden]) select").forEach(function (e) {
		var r = e.getBoundingClientRect();
		if (e.checkVisibility() && r.width && (r.left < -1 || r.right > w + 1)) out.push(e.outerHTML.slice(0, 80) + " at " + Math.round(r.left) + "-" + Math.round(r.right));
	});
	return out.join("; ");
})()`

// TestConsolePages shows every console page at desktop and phone widths
// with data in it, checks that nothing is wider than the window and that
// the header stays one line, and audits each page with axe; then, on a
// phone, by keyboard: compose errors in the console's words, held
// stories in full, a partner's delivery log, ping, replays, secret
// rotation, settings and re-enabling, editing a source, the readable
// audit log and the buttons' emphasis; and, signed in as an editor, held
// stories naming their source by id.
func TestConsolePages(t *testing.T) {
	env := newWidgetEnv(t, envOptions{stats: true, configure: func(e *testEnv, h *HubConfig, c *Config) {
		withWatcher(t)(e, h, c)
		withWebhooks(t)(e, h, c)
	}})
	feed := newsroomFeed(t)
	recv := newPartnerHits(t)
	alert := env.publishAs(t, "Ceasefire holds in the north", "urgent")
	env.call(t, "POST", "/api/v1/alerts", env.editor, map[string]any{
		"headline": "Polls open at seven", "url": "https://news.example.com/polls", "topics": []string{"politics"},
		"send_at": time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)}, nil)
	var src struct{ ID, Name string }
	env.call(t, "POST", "/api/v1/sources", testAdminToken, map[string]any{
		"url": feed.URL + "/world.rss", "mode": "hold", "schedule": "@every 1s", "topics": []string{"world"}, "regions": []string{"international"}}, &src)
	var metro, gazette struct{ ID string }
	env.call(t, "POST", "/api/v1/partners", testAdminToken, map[string]any{"name": "Metro Daily", "url": recv.URL + "/hook", "topics": []string{"world"}}, &metro)
	env.call(t, "POST", "/api/v1/partners", testAdminToken, map[string]any{"name": "Gazette", "url": recv.URL + "/gazette"}, &gazette)
	env.call(t, "PATCH", "/api/v1/partners/"+gazette.ID, testAdminToken, map[string]any{"state": "disabled", "disabled_reason": "endpoint gone (410)"}, nil)
	// More attempts than a page of the delivery log holds.
	for range 24 {
		env.call(t, "POST", "/api/v1/partners/"+metro.ID+"/test", testAdminToken, nil, nil)
	}
	deliveries := "/api/v1/partners/" + metro.ID + "/deliveries"
	until(t, "24 pings delivered", func() bool {
		var p struct{ Total int }
		env.call(t, "GET", deliveries, testAdminToken, nil, &p)
		return p.Total >= 24
	})
	until(t, "two held stories", func() bool {
		var held struct{ Held []any }
		env.call(t, "GET", "/api/v1/held", env.editor, nil, &held)
		return len(held.Held) == 2
	})

	bt := newBrowserTab(t)
	bt.setReducedMotion(t, true)
	if _, err := chromedp.Call(bt.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspProbe}); err != nil {
		t.Fatal(err)
	}
	signIn := func(t *testing.T, token string) {
		t.Helper()
		bt.do(t, chromedp.Navigate(env.URL+"/editor"))
		bt.waitFor(t, "the sign-in form", `document.activeElement.id === 'token'`)
		bt.press(t, token+kb.Enter)
		bt.waitFor(t, "the console", `document.activeElement.id === 'compose-title' && document.querySelector('#topics input')`)
	}
	// open goes to a view and waits until ready holds on rows it loaded
	// afresh: rows from an earlier visit are marked and must be gone.
	open := func(t *testing.T, view, ready string) {
		t.Helper()
		rows := `document.querySelectorAll('#view-` + view + ` > table tbody tr, #view-` + view + ` .chips li')`
		eval[bool](t, bt, `Array.prototype.forEach.call(`+rows+`, function (r) { r.__old = true; }), true`)
		bt.do(t, chromedp.Focus(chromedp.CSS(`.tabs [data-view=`+view+`]`)))
		bt.press(t, kb.Enter)
		bt.waitFor(t, "the "+view+" page", `!Array.prototype.some.call(`+rows+`, function (r) { return r.__old; }) && `+ready)
		focusOn(t, bt, `#`+view+`-title`)
	}
	signIn(t, testAdminToken)

	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			bt.setViewport(t, vp)
			for _, v := range consoleViews {
				open(t, v.view, v.ready)
				eval[bool](t, bt, `window.scrollTo(0, 0), true`)
				if got := eval[string](t, bt, fitsJS); got != "" {
					t.Errorf("%s page at %dpx: %s", v.view, vp.width, got)
				}
				if h := eval[float64](t, bt, `document.querySelector('.bar').getBoundingClientRect().height`); h > 70 {
					t.Errorf("%s page at %dpx: header %.0fpx high, want one line", v.view, vp.width, h)
				}
				axeAudit(t, bt, "console "+v.view+" "+vp.name)
				bt.screenshot(t, "console-"+v.view+"-"+vp.name)
			}
			// A partner's page and a source being edited, too.
			open(t, "partners", `document.querySelector('#partners tr[data-id]')`)
			focusJS(t, bt, `#partners .manage[aria-label="Manage: Metro Daily"]`)
			bt.press(t, kb.Enter)
			bt.waitFor(t, "the partner's delivery log", `document.activeElement.id === 'partner-detail-title' && document.querySelectorAll('#deliveries tr[data-id]').length === 20`)
			if got := eval[string](t, bt, fitsJS); got != "" {
				t.Errorf("partner page at %dpx: %s", vp.width, got)
			}
			axeAudit(t, bt, "console partner "+vp.name)
			bt.screenshot(t, "console-partner-"+vp.name)
			focusJS(t, bt, `#partner-close`)
			bt.press(t, kb.Enter)
			open(t, "sources", `document.querySelector('#sources tr[data-id]')`)
			focusJS(t, bt, `#sources .edit`)
			bt.press(t, kb.Enter)
			focusOn(t, bt, `#source-form-title`)
			axeAudit(t, bt, "console source form "+vp.name)
			focusJS(t, bt, `#source-cancel`)
			bt.press(t, kb.Enter)
			focusOn(t, bt, `#sources .edit`)
		})
	}

	// The flows, by keyboard, on a phone.
	bt.setViewport(t, viewports[1])

	t.Run("compose errors", func(t *testing.T) {
		open(t, "compose", `document.querySelector('#topics input')`)
		tabUntil(t, bt, `#send`, `#compose-form input, #compose-form textarea`, 40)
		bt.press(t, kb.Enter)
		// Focus goes to the first field at fault; every field at fault,
		// each topic box among them, is marked and described.
		bt.waitFor(t, "the errors", `document.querySelectorAll('#compose-errors li').length === 3`)
		focusOn(t, bt, `#headline[aria-invalid=true]`)
		got := eval[string](t, bt, `Array.prototype.map.call(document.querySelectorAll('#compose-errors li'), function (li) { return li.textContent; }).join(' | ')`)
		if got != "Write a headline. | Add the link. | Tick at least one topic." {
			t.Errorf("errors read %q", got)
		}
		described := `function (sel) { var i = document.querySelector(sel), d = i.getAttribute('aria-describedby'); return d ? d.split(' ').map(function (id) { return document.getElementById(id).textContent; }).join(' ') : ''; }`
		for sel, want := range map[string]string{`#headline`: "Write a headline.", `#url`: "Add the link.", `#topics input[value=sport]`: "Tick at least one topic."} {
			if got := eval[string](t, bt, `(`+described+`)(`+fmt.Sprintf("%q", sel)+`)`); got != want {
				t.Errorf("%s described by %q, want %q", sel, got, want)
			}
		}
		if n := eval[int](t, bt, `document.querySelectorAll('#topics input:not([aria-invalid=true])').length`); n != 0 {
			t.Errorf("%d topic boxes not marked invalid", n)
		}
		axeAudit(t, bt, "console compose with errors phone")
		bt.screenshot(t, "console-compose-errors-phone")
		// Fixing the headline and ticking a topic leaves the link.
		bt.press(t, "Bridge reopens")
		tabUntil(t, bt, `#topics input[value=world]`, `#compose-form input, #compose-form textarea`, 20)
		bt.press(t, " ")
		tabUntil(t, bt, `#send`, `#compose-form input, #compose-form textarea`, 40)
		bt.press(t, kb.Enter)
		bt.waitFor(t, "one error left", `document.querySelectorAll('#compose-errors li').length === 1`)
		focusOn(t, bt, `#url[aria-invalid=true]`)
		if eval[bool](t, bt, `!!document.querySelector('#headline[aria-invalid], #topics input[aria-invalid]')`) {
			t.Error("fixed fields still marked invalid")
		}
		eval[bool](t, bt, `document.getElementById('compose-form').reset(), true`)
	})

	t.Run("held stories in full", func(t *testing.T) {
		open(t, "held", `document.querySelector('#held tr[data-id] td.source')`)
		row := fmt.Sprintf(`Array.prototype.find.call(document.querySelectorAll('#held tr[data-id]'), function (tr) { return tr.querySelector('.headline').textContent === %q; })`, heldToSend)
		got := eval[string](t, bt, `(function (tr) { return [tr.querySelector('.source').textContent, tr.querySelector('a.headline').href, tr.querySelector('.meta').textContent, /\d{4}/.test(tr.cells[0].textContent)].join(' | '); })(`+row+`)`)
		want := strings.TrimPrefix(feed.URL, "http://") + "/world.rss | https://news.example.com/a/bridge-closed-after-ship-strike | Topics: world · Regions: international · Language: en | true"
		if got != want {
			t.Errorf("held story shows %q, want %q", got, want)
		}
	})

	t.Run("partner", func(t *testing.T) {
		open(t, "partners", `document.querySelector('#partners tr[data-id]')`)
		focusJS(t, bt, `#partners .manage[aria-label="Manage: Metro Daily"]`)
		bt.press(t, kb.Enter)
		bt.waitFor(t, "the delivery log", `document.activeElement.id === 'partner-detail-title' && document.querySelectorAll('#deliveries tr[data-id]').length === 20`)
		focusOn(t, bt, `#partner-detail-title`)
		if got := eval[string](t, bt, `document.getElementById('deliveries-summary').textContent`); !strings.HasPrefix(got, "Attempts, newest first: 1–20 of 24") {
			t.Errorf("log summary %q", got)
		}
		// Paging: older, then newer again; focus stays on a paging button.
		focusJS(t, bt, `#deliveries-older`)
		bt.press(t, kb.Enter)
		bt.waitFor(t, "the older attempts", `document.querySelectorAll('#deliveries tr[data-id]').length === 4 && document.activeElement.id === 'deliveries-newer'`)
		bt.press(t, kb.Enter)
		bt.waitFor(t, "the newest attempts", `document.querySelectorAll('#deliveries tr[data-id]').length === 20 && document.activeElement.id === 'deliveries-older'`)

		// A test ping, then sending one delivery again.
		hits := func() int { recv.mu.Lock(); defer recv.mu.Unlock(); return len(recv.hits) }
		before := hits()
		focusJS(t, bt, `#partner-ping`)
		bt.press(t, kb.Enter)
		bt.waitFor(t, "the ping's status", `document.getElementById('partner-status').textContent.indexOf('Test ping queued') === 0`)
		recv.wait(t, before+1)
		focusJS(t, bt, `#deliveries .replay`)
		bt.press(t, kb.Enter)
		bt.waitFor(t, "the replay's status", `document.getElementById('partner-status').textContent.indexOf('Sent again: ping of ') === 0`)
		recv.wait(t, before+2)

		// Everything since an hour ago, again.
		bt.do(t, chromedp.SetValue(chromedp.CSS(`#replay-since`), time.Now().Add(-time.Hour).Format("2006-01-02T15:04")))
		focusJS(t, bt, `#replay-form button[type=submit]`)
		bt.press(t, kb.Enter)
		bt.waitFor(t, "the replay since", `/^2[5-9] deliveries queued to be sent again, 20 a second\.$/.test(document.getElementById('partner-status').textContent)`)

		// Rotating the secret asks first, then shows the new one once.
		focusJS(t, bt, `#rotate-form button[type=submit]`)
		bt.press(t, kb.Enter)
		bt.waitFor(t, "the rotate confirmation", `document.getElementById('confirm').open`)
		focusOn(t, bt, `#confirm-no`)
		bt.press(t, kb.Tab, shiftTab)
		focusOn(t, bt, `#confirm-yes`)
		bt.press(t, kb.Enter)
		bt.waitFor(t, "the new secret", `document.activeElement.id === 'rotated-secret'`)
		if got := eval[string](t, bt, `(function (i) { return i.selectionStart === 0 && i.selectionEnd === i.value.length ? i.value : ""; })(document.activeElement)`); !strings.HasPrefix(got, "whsec_") {
			t.Errorf("selected secret %q, want the whole whsec_ secret", got)
		}
		focusJS(t, bt, `#revoke-previous`)
		bt.press(t, kb.Enter)
		bt.waitFor(t, "the revoke confirmation", `document.getElementById('confirm').open`)
		bt.press(t, kb.Tab, shiftTab)
		bt.press(t, kb.Enter)
		bt.waitFor(t, "the revoke's status", `document.getElementById('partner-status').textContent === 'The previous secret no longer signs.'`)

		// Settings: a region, only published alerts, a language.
		focusJS(t, bt, `#partner-edit input[name=regions][value=europe]`)
		bt.press(t, " ")
		focusJS(t, bt, `#partner-edit input[name=events][value="alert.updated"]`)
		bt.press(t, " ")
		bt.press(t, kb.Tab)
		bt.press(t, " ")
		bt.press(t, kb.Tab)
		focusOn(t, bt, `#edit-languages`)
		bt.press(t, "en, fr")
		tabUntil(t, bt, `#partner-edit button[type=submit]`, `#partner-edit input, #partner-edit select`, 5)
		bt.press(t, kb.Enter)
		bt.waitFor(t, "the settings saved", `document.getElementById('partner-status').textContent === 'Saved: Metro Daily.'`)
		p, err := env.store.Partner(context.Background(), metro.ID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(p.Regions, ",") != "europe" || fmt.Sprint(p.Events) != "[alert.published]" || strings.Join(p.Languages, ",") != "en,fr" || strings.Join(p.Topics, ",") != "world" {
			t.Errorf("partner saved as %+v", p)
		}

		// The disabled partner: re-enabled from its page, once the list
		// shows the saved settings.
		bt.waitFor(t, "the list to show the settings", `document.querySelector('#partners tr[data-id="`+metro.ID+`"]').cells[2].textContent === 'world · europe · en, fr · alert.published'`)
		focusJS(t, bt, `#partners .manage[aria-label="Manage: Gazette"]`)
		bt.press(t, kb.Enter)
		bt.waitFor(t, "the disabled partner", `!document.getElementById('partner-enable').hidden && document.getElementById('partner-state').textContent.indexOf('disabled (endpoint gone (410))') > 0`)
		focusJS(t, bt, `#partner-enable`)
		bt.press(t, kb.Enter)
		bt.waitFor(t, "the partner re-enabled", `document.getElementById('partner-enable').hidden && document.activeElement.id === 'partner-ping'`)
		if p, err := env.store.Partner(context.Background(), gazette.ID); err != nil || p.State != subscribers.PartnerActive {
			t.Errorf("partner %+v %v, want active", p, err)
		}
	})

	t.Run("a source's recent stories", func(t *testing.T) {
		open(t, "sources", `document.querySelector('#sources tr[data-id]')`)
		focusJS(t, bt, `#sources .stories`)
		bt.press(t, kb.Enter)
		bt.waitFor(t, "the source's stories", `document.activeElement.id === 'source-stories-title' && document.querySelectorAll('#source-stories-list tr.outcome-held').length === 2`)
		if got := eval[string](t, bt, `document.querySelector('#source-stories-list tr.outcome-held .reason').textContent`); got != "held: the source is in hold mode" {
			t.Errorf("a held story's reason reads %q", got)
		}
		if problems := eval[string](t, bt, fitsJS); problems != "" {
			t.Errorf("does not fit: %s", problems)
		}
		focusJS(t, bt, `#source-stories-close`)
		bt.press(t, kb.Enter)
		bt.waitFor(t, "the stories closed", `document.getElementById('source-stories').hidden && document.activeElement.matches('#sources .stories')`)
	})

	t.Run("edit a source", func(t *testing.T) {
		open(t, "sources", `document.querySelector('#sources tr[data-id]')`)
		focusJS(t, bt, `#sources .edit`)
		bt.press(t, kb.Enter)
		focusOn(t, bt, `#source-form-title`)
		if got := eval[string](t, bt, `document.getElementById('source-labels').value + '|' + document.getElementById('source-urgency').value + '|' + document.getElementById('source-max-age').value`); got != "Breaking News, breaking|2|2h0m0s" {
			t.Errorf("the form shows %q", got)
		}
		focusJS(t, bt, `#source-max-age`)
		bt.press(t, "soon")
		focusJS(t, bt, `#source-save`)
		bt.press(t, kb.Enter)
		bt.waitFor(t, "the max age's error", `document.querySelector('#source-form .errors').textContent === 'Oldest story to push must be a length of time such as 2h or 30m.'`)
		focusOn(t, bt, `#source-max-age[aria-invalid=true]`)
		bt.press(t, "30m")
		tabUntil(t, bt, `#source-labels`, `#source-form input, #source-form select`, 3)
		bt.press(t, "Eilmeldung")
		focusJS(t, bt, `#source-save`)
		bt.press(t, kb.Enter)
		bt.waitFor(t, "the source saved", `document.getElementById('flash-status').textContent.indexOf('Source saved: ') === 0 && document.activeElement.matches('#sources .edit')`)
		var s struct {
			MaxAge   string `json:"max_age"`
			Breaking struct{ Labels []string }
		}
		env.call(t, "GET", "/api/v1/sources/"+src.ID, testAdminToken, nil, &s)
		if s.MaxAge != "30m" || strings.Join(s.Breaking.Labels, ",") != "Eilmeldung" {
			t.Errorf("source saved as %+v", s)
		}
	})

	t.Run("audit log readable", func(t *testing.T) {
		open(t, "audit", `document.querySelector('#audit tr td.action')`)
		rows := eval[[]string](t, bt, `Array.prototype.map.call(document.querySelectorAll('#audit tr'), function (tr) {
			return [tr.cells[1].textContent, tr.querySelector('.action').textContent, tr.querySelector('.target').textContent, tr.cells[4].textContent].join(' | ');
		})`)
		joined := strings.Join(rows, "\n")
		for _, want := range []string{
			"bootstrap | Changed a feed source | " + strings.TrimPrefix(feed.URL, "http://") + "/world.rss " + src.ID + " | done",
			"bootstrap | Changed a feed source | " + strings.TrimPrefix(feed.URL, "http://") + "/world.rss " + src.ID + " | refused (400)",
			"bootstrap | Changed a partner | Gazette " + gazette.ID + " | done",
			"bootstrap | Rotated a signing secret | Metro Daily " + metro.ID + " | done",
			"bootstrap | Sent a test ping | Metro Daily " + metro.ID + " | done",
			"browser test editor | Scheduled an alert | ",
			"browser test editor | Sent an alert | Ceasefire holds in the north " + alert + " | done",
			"bootstrap | Signed in to the console |  | done",
		} {
			if !strings.Contains(joined, want) {
				t.Errorf("audit log lacks %q:\n%s", want, joined)
			}
		}
	})

	t.Run("emphasis", func(t *testing.T) {
		open(t, "sent", `document.querySelector('#sent .retract')`)
		solid := `(function (sel) { return getComputedStyle(document.querySelector(sel)).backgroundColor; })`
		for sel, want := range map[string]string{`#sent .correct`: "rgb(255, 255, 255)", `#sent .retract`: "rgb(176, 0, 32)"} {
			if got := eval[string](t, bt, solid+`(`+fmt.Sprintf("%q", sel)+`)`); got != want {
				t.Errorf("%s background %s, want %s", sel, got, want)
			}
		}
		if !eval[bool](t, bt, `/\d{4}/.test(document.querySelector('#sent tr[data-id] time').textContent)`) {
			t.Error("sent time without its date")
		}
		open(t, "sources", `document.querySelector('#sources .mode')`)
		for sel, want := range map[string]string{`#sources .mode`: "rgb(255, 255, 255)", `#sources .delete`: "rgb(176, 0, 32)"} {
			if got := eval[string](t, bt, solid+`(`+fmt.Sprintf("%q", sel)+`)`); got != want {
				t.Errorf("%s background %s, want %s", sel, got, want)
			}
		}
	})

	t.Run("editor sees source names", func(t *testing.T) {
		focusJS(t, bt, `#signout`)
		bt.press(t, kb.Enter)
		bt.waitFor(t, "the sign-in form", `document.activeElement.id === 'token'`)
		bt.press(t, env.editor+kb.Enter)
		bt.waitFor(t, "the console", `document.activeElement.id === 'compose-title'`)
		// The list the admin saw is replaced by the editor's, which names
		// the source as the held story does.
		open(t, "held", `document.querySelector('#held td.source').textContent === "`+src.Name+`"`)
	})

	if v := eval[[]string](t, bt, `window.__csp`); len(v) > 0 {
		t.Errorf("console broke its Content-Security-Policy: %v", v)
	}
	bt.mu.Lock()
	defer bt.mu.Unlock()
	for _, p := range bt.problems {
		t.Errorf("page logged: %s", p)
	}
}
