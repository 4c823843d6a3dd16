package web

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// siteCSS styles the news site pages the placement tests embed the widget
// in: a fixed header with navigation, a long article, a fixed footer link
// and a box as tall as the window.
const siteCSS = `body { margin: 0; font: 16px/1.5 sans-serif; }
header.top { position: fixed; top: 0; left: 0; right: 0; height: 64px; background: #eee; z-index: 10; }
header.top nav { text-align: center; }
header.top a { display: inline-block; margin: 20px 10px; }
main { padding: 80px 16px 2000px; }
#tall { display: block; width: 90%; height: 150vh; }
footer { position: fixed; bottom: 0; left: 0; right: 0; height: 40px; background: #eee; }
footer a { display: inline-block; margin: 8px; }`

// sitePage is a news site's page embedding the widget with attrs.
func sitePage(attrs string) string {
	return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>A news site</title><link rel="stylesheet" href="/test/site.css"></head><body>
<header class="top"><nav aria-label="Sections"><a id="nav1" href="#one">World</a><a id="nav2" href="#two">Politics</a></nav></header>
<main><h1>Today</h1><div id="slot"></div><p>Stories of the day.</p><textarea id="tall" aria-label="Notes"></textarea></main>
<footer><a id="foot" href="#top">Back to the top</a></footer>
<script src="/static/flashwire.js" data-topics="world" ` + attrs + ` async></script></body></html>`
}

// publishAs publishes an alert with priority on the world topic and
// returns its id.
func (e *widgetEnv) publishAs(tb testing.TB, headline, priority string) string {
	tb.Helper()
	var out struct{ ID string }
	e.call(tb, "POST", "/api/v1/alerts", e.editor, map[string]any{
		"headline": headline, "summary": "Officials confirmed the news minutes ago.",
		"url":    "https://news.example.com/story/" + fmt.Sprint(time.Now().UnixNano()),
		"topics": []string{"world"}, "regions": []string{"international"}, "language": "en", "priority": priority,
	}, &out)
	return out.ID
}

// overlapJS is true when the element el (a JavaScript expression) and a
// visible banner share any pixel.
func overlapJS(el string) string {
	return `(function (e) {
		var r = e.getBoundingClientRect();
		return Array.prototype.some.call(document.querySelectorAll('.fw-banner'), function (b) {
			var s = b.getBoundingClientRect();
			return b.checkVisibility({visibilityProperty: true}) && s.height > 0 && r.top < s.bottom && s.top < r.bottom && r.left < s.right && s.left < r.right;
		});
	})(` + el + `)`
}

// TestWidgetPlacement embeds the widget in a news site's page with a fixed
// header, as sites do, and checks that it respects the site: an offset
// keeps the banners below the header, a host element holds them inline,
// the bottom edge works, and a focused element is never covered (the
// banners move, fold or step aside), at desktop and phone widths.
func TestWidgetPlacement(t *testing.T) {
	env := newWidgetEnv(t, envOptions{})
	env.pages.Store("/test/site.css", siteCSS)
	bt := newBrowserTab(t)
	bt.setReducedMotion(t, true)
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			bt.setViewport(t, vp)
			open := func(t *testing.T, name, attrs string) string {
				t.Helper()
				env.pages.Store("/test/"+vp.name+"-"+name+".html", sitePage(attrs))
				bt.do(t, chromedp.Navigate(env.URL+"/test/"+vp.name+"-"+name+".html"))
				bt.waitFor(t, "the widget to connect", `document.querySelector('.fw-root[data-state=open]')`)
				id := env.publishAs(t, "Storm reaches the coast", "urgent")
				bt.waitFor(t, "the banner", banner(id)+` && `+banner(id)+`.getBoundingClientRect().height > 0`)
				return id
			}

			t.Run("offset below a fixed header", func(t *testing.T) {
				id := open(t, "offset", `data-offset="header.top"`)
				if top := eval[float64](t, bt, banner(id)+`.getBoundingClientRect().top`); top < 64 {
					t.Errorf("banner top at %.0fpx, want below the 64px header", top)
				}
				for _, nav := range []string{"nav1", "nav2"} {
					if eval[bool](t, bt, overlapJS(`document.getElementById('`+nav+`')`)) {
						t.Errorf("a banner covers the header's link #%s", nav)
					}
				}
				bt.screenshot(t, "widget-offset-"+vp.name)
			})

			t.Run("bottom with a length offset", func(t *testing.T) {
				id := open(t, "bottom", `data-position="bottom" data-offset="3rem"`)
				gap := eval[float64](t, bt, `innerHeight - `+banner(id)+`.getBoundingClientRect().bottom`)
				if gap < 48 || gap > 48+120 {
					t.Errorf("banner ends %.0fpx above the window's bottom, want 3rem (48px) plus the stack's padding", gap)
				}
			})

			t.Run("inline in a host element", func(t *testing.T) {
				id := open(t, "host", `data-host="#slot"`)
				if !eval[bool](t, bt, `document.getElementById('slot').contains(`+banner(id)+`)`) {
					t.Fatal("the banner is not in the host element")
				}
				if got := eval[string](t, bt, `getComputedStyle(document.querySelector('#slot .fw-stack')).position`); got != "static" {
					t.Errorf("inline stack position %q, want static", got)
				}
			})

			t.Run("focus never covered", func(t *testing.T) {
				id := open(t, "focus", ``)
				// The banners sit at the top, over the header's links.
				if !eval[bool](t, bt, overlapJS(`document.getElementById('nav1')`)) {
					t.Fatal("the test needs a banner over the header's first link")
				}
				// The first Tab reaches the skip link to the newest alert; the next
				// the header's first link, which the banners leave uncovered.
				bt.press(t, kb.Tab)
				focusOn(t, bt, `.fw-skip`)
				bt.press(t, kb.Tab)
				focusOn(t, bt, `#nav1`)
				bt.waitFor(t, "the banners to move off the focused link", `document.querySelector('.fw-root[data-edge=bottom]') && !`+overlapJS(`document.activeElement`))
				bt.screenshot(t, "widget-focus-moved-"+vp.name)
				// A link in the fixed footer: the banners go back to the top.
				bt.do(t, chromedp.Focus(chromedp.CSS(`#foot`)))
				bt.waitFor(t, "the banners to leave the footer's link", `document.querySelector('.fw-root[data-edge=top]') && !`+overlapJS(`document.activeElement`))
				// Taller than the window and, scrolled, filling it: no edge is
				// free, the banners step aside.
				bt.do(t, chromedp.Focus(chromedp.CSS(`#tall`)))
				eval[bool](t, bt, `scrollTo(0, document.getElementById('tall').offsetTop + 100), true`)
				bt.waitFor(t, "the banners to step aside", `document.querySelector('.fw-stack[data-yield=aside]') && !`+overlapJS(`document.activeElement`))
				// Focus back on a link: the banner shows again, focusable from the
				// skip link.
				bt.do(t, chromedp.Focus(chromedp.CSS(`#nav2`)))
				bt.waitFor(t, "the banners back", `!document.querySelector('.fw-stack[data-yield]') && `+banner(id)+`.checkVisibility({visibilityProperty: true})`)
				bt.do(t, chromedp.Focus(chromedp.CSS(`.fw-skip`)))
				if eval[float64](t, bt, `document.querySelector('.fw-skip').getBoundingClientRect().top`) < 0 {
					t.Error("the focused skip link is off-screen")
				}
				bt.press(t, kb.Enter)
				focusOn(t, bt, `.fw-banner[data-id="`+id+`"]`)
			})

		})
	}
}

// TestWidgetStack checks, on the demo page at desktop and phone widths,
// that flash alerts are never pushed out by less urgent ones, that a phone
// shows one short banner with a count of the others that the keyboard
// expands, and the audit of the page with banners.
func TestWidgetStack(t *testing.T) {
	env := newWidgetEnv(t, envOptions{})
	bt := newBrowserTab(t)
	bt.setReducedMotion(t, true)
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			bt.setViewport(t, vp)
			bt.do(t, chromedp.Navigate(env.URL+"/"))
			bt.waitFor(t, "the widget to connect", `document.querySelector('.fw-root[data-state=open]')`)
			axeAudit(t, bt, "demo page "+vp.name)
			flash := env.publishAs(t, "Flash: dam bursts upstream", "flash")
			bt.waitFor(t, "the flash banner", banner(flash))
			var normal []string
			for i := range 3 {
				id := env.publishAs(t, fmt.Sprintf("Ordinary news %d", i+1), "normal")
				normal = append(normal, id)
				bt.waitFor(t, "the news banner", banner(id))
			}
			// Three banners at most: the oldest ordinary one made way.
			if got := eval[int](t, bt, `document.querySelectorAll('.fw-banner').length`); got != 3 {
				t.Errorf("%d banners, want 3", got)
			}
			if !eval[bool](t, bt, `!!`+banner(flash)) || eval[bool](t, bt, `!!`+banner(normal[0])) {
				t.Fatal("a less urgent alert pushed the flash alert out, or the oldest ordinary one stayed")
			}
			visible := `Array.prototype.filter.call(document.querySelectorAll('.fw-banner'), function (b) { return b.checkVisibility(); }).length`
			if vp.name == "desktop" {
				if got := eval[int](t, bt, visible); got != 3 {
					t.Errorf("%d banners visible on a desktop, want 3", got)
				}
				axeAudit(t, bt, "demo page with banners "+vp.name)
				return
			}
			// A phone: one short banner, the flash one, and "+2 more".
			if got := eval[int](t, bt, visible); got != 1 || !eval[bool](t, bt, banner(flash)+`.checkVisibility()`) {
				t.Errorf("%d banners visible on a phone, want the flash one alone", got)
			}
			share := eval[float64](t, bt, `document.querySelector('.fw-stack').getBoundingClientRect().height / innerHeight`)
			t.Logf("the folded banners take %.0f%% of the phone's screen", share*100)
			if share > 0.25 {
				t.Errorf("the folded banners take %.0f%% of the screen, want at most a quarter", share*100)
			}
			if got := eval[string](t, bt, `document.querySelector('.fw-more').textContent`); got != "+2 more" {
				t.Errorf("count reads %q, want +2 more", got)
			}
			bt.screenshot(t, "widget-phone-folded")
			axeAudit(t, bt, "demo page with banners "+vp.name)
			// By keyboard: the skip link, the flash banner, its link, its
			// close button, then the count.
			bt.press(t, kb.Tab)
			focusOn(t, bt, `.fw-skip`)
			bt.press(t, kb.Enter)
			focusOn(t, bt, `.fw-banner[data-id="`+flash+`"]`)
			bt.press(t, kb.Tab)
			focusOn(t, bt, `.fw-banner[data-id="`+flash+`"] .fw-link`)
			bt.press(t, kb.Tab)
			focusOn(t, bt, `.fw-banner[data-id="`+flash+`"] .fw-close`)
			bt.press(t, kb.Tab)
			focusOn(t, bt, `.fw-more[aria-expanded=false]`)
			bt.press(t, kb.Enter)
			bt.waitFor(t, "all banners", visible+` === 3 && document.querySelector('.fw-more[aria-expanded=true]')`)
			focusOn(t, bt, `.fw-more`)
			bt.screenshot(t, "widget-phone-expanded")
			// Escape dismisses the newest shown; the flash one stays.
			bt.press(t, kb.Escape)
			bt.waitFor(t, "the newest to go", `!`+banner(normal[2]))
			if !eval[bool](t, bt, `!!`+banner(flash)) {
				t.Error("Escape dismissed the flash alert before the newest")
			}
		})
	}
}

// TestWidgetSettingsAndLanguages opens the settings by keyboard at desktop
// and phone widths, chooses regions, a language, a minimum priority and a
// pause, checks that quiet hours turn off with their box and are not sent,
// audits the page with the panel open, and shows the widget in French and,
// mirrored, in Persian.
func TestWidgetSettingsAndLanguages(t *testing.T) {
	env := newWidgetEnv(t, envOptions{})
	bt := newBrowserTab(t)
	bt.setReducedMotion(t, true)

	t.Run("settings", func(t *testing.T) {
		for _, vp := range viewports {
			t.Run(vp.name, func(t *testing.T) {
				bt.setViewport(t, vp)
				bt.do(t, chromedp.Navigate(env.URL+"/"))
				bt.waitFor(t, "the widget to connect", `document.querySelector('.fw-root[data-state=open]')`)
				bt.do(t, chromedp.Focus(chromedp.CSS(`.fw-toggle`)))
				bt.press(t, kb.Enter)
				bt.waitFor(t, "focus in the settings", `document.activeElement.name === 'topic'`)
				if got := eval[string](t, bt, `Array.prototype.map.call(document.querySelectorAll('.fw-panel input[name=region]'), function (i) { return i.value + (i.checked ? '*' : ''); }).join(',')`); !strings.Contains(got, "international*") || !strings.Contains(got, "europe") {
					t.Errorf("regions %s, want every region with the page's international ticked", got)
				}
				if got := eval[int](t, bt, `document.querySelectorAll('.fw-panel input[name=lang]').length`); got != 7 {
					t.Errorf("%d languages offered, want 7", got)
				}
				// Quiet hours start unticked: their times are off.
				if !eval[bool](t, bt, `document.querySelector('.fw-panel input[name=start]').disabled && document.querySelector('.fw-panel input[name=end]').disabled`) {
					t.Error("quiet-hours times are on while the box is unticked")
				}
				bt.do(t, chromedp.Focus(chromedp.CSS(`.fw-panel input[name=quiet]`)))
				bt.press(t, " ")
				bt.waitFor(t, "the times to turn on", `!document.querySelector('.fw-panel input[name=start]').disabled`)
				bt.press(t, " ")
				bt.waitFor(t, "the times to turn off", `document.querySelector('.fw-panel input[name=start]').disabled`)
				axeAudit(t, bt, "settings "+vp.name)
				bt.screenshot(t, "widget-settings-"+vp.name)

				bt.do(t, chromedp.Focus(chromedp.CSS(`.fw-panel input[name=region][value=europe]`)))
				bt.press(t, " ")
				bt.do(t, chromedp.Focus(chromedp.CSS(`.fw-panel input[name=lang][value=fr]`)))
				bt.press(t, " ")
				bt.do(t, chromedp.Focus(chromedp.CSS(`.fw-panel select[name=min]`)))
				bt.press(t, kb.ArrowDown)
				bt.do(t, chromedp.Focus(chromedp.CSS(`.fw-panel select[name=pause]`)))
				bt.press(t, kb.ArrowDown+kb.ArrowDown)
				if got := eval[string](t, bt, `document.querySelector('.fw-panel select[name=min]').value + ' ' + document.querySelector('.fw-panel select[name=pause]').value`); got != "urgent 8" {
					t.Fatalf("chosen priority and pause %q, want urgent 8", got)
				}
				tabUntil(t, bt, `.fw-save`, `.fw-panel select, .fw-panel input`, 10)
				bt.press(t, kb.Enter)
				bt.waitFor(t, "the preferences to be saved", `document.querySelector('.fw-status').textContent.indexOf('Saved') === 0`)
				saved := time.Now()

				id := eval[string](t, bt, `localStorage.getItem(Object.keys(localStorage).filter(function (k) { return /:reader$/.test(k); })[0])`)
				r, err := env.store.Reader(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				p := r.Preferences
				if strings.Join(p.Regions, ",") != "europe,international" || strings.Join(p.Languages, ",") != "fr" || p.MinPriority != "urgent" || p.QuietHours != nil {
					t.Errorf("stored %+v, want europe and international, fr, urgent, no quiet hours", p)
				}
				if p.PausedUntil == nil || p.PausedUntil.Sub(saved) > 8*time.Hour || saved.Sub(*p.PausedUntil) > -7*time.Hour {
					t.Errorf("paused until %v, want about 8 hours after %v", p.PausedUntil, saved)
				}
				// Opened again, the pause shows until when.
				bt.press(t, kb.Escape)
				bt.waitFor(t, "the panel to close", `document.querySelector('.fw-panel').hidden`)
				bt.press(t, kb.Enter)
				bt.waitFor(t, "the panel again", `document.activeElement.name === 'topic'`)
				if got := eval[string](t, bt, `(function (s) { return s.value + ': ' + s.selectedOptions[0].textContent; })(document.querySelector('.fw-panel select[name=pause]'))`); !strings.HasPrefix(got, "keep: Paused until ") {
					t.Errorf("pause reads %q, want the time it ends", got)
				}
				bt.press(t, kb.Escape)
				env.call(t, "DELETE", "/api/v1/readers/"+id+"/preferences", "", nil, nil)
				eval[bool](t, bt, `localStorage.clear(), true`)
			})
		}
	})

	t.Run("French", func(t *testing.T) {
		bt.setViewport(t, viewports[0])
		bt.do(t, chromedp.Navigate(env.URL+"/?lang=fr"))
		bt.waitFor(t, "the widget to connect", `document.querySelector('.fw-root[data-state=open]')`)
		id := env.publishAs(t, "Séisme sur la côte", "flash")
		bt.waitFor(t, "the banner", banner(id))
		got := eval[string](t, bt, banner(id)+`.querySelector('.fw-label').textContent + '|' + document.querySelector('.fw-toggle').textContent + '|' + document.querySelector('.skip').textContent`)
		if got != "Dernière minute|Alertes info|Aller à l’article" {
			t.Errorf("French page reads %q", got)
		}
	})

	t.Run("Persian, right to left", func(t *testing.T) {
		for _, vp := range viewports {
			t.Run(vp.name, func(t *testing.T) {
				bt.setViewport(t, vp)
				bt.do(t, chromedp.Navigate(env.URL+"/?lang=fa"))
				bt.waitFor(t, "the widget to connect", `document.querySelector('.fw-root[data-state=open]')`)
				id := env.publishAs(t, "زلزله در ساحل", "flash")
				bt.waitFor(t, "the banner", banner(id))
				var got struct {
					Dir, Direction, Label, Toggle           string
					BorderRight, BorderLeft                 float64
					CloseRight, BodyLeft, ToggleLeft, Width float64
				}
				raw := eval[[]byte](t, bt, `(function () {
					var b = `+banner(id)+`, s = getComputedStyle(b), root = document.querySelector('.fw-root[data-state]');
					return {dir: root.dir, direction: getComputedStyle(b).direction, label: b.querySelector('.fw-label').textContent,
						toggle: document.querySelector('.fw-toggle').textContent,
						borderRight: parseFloat(s.borderRightWidth), borderLeft: parseFloat(s.borderLeftWidth),
						closeRight: b.querySelector('.fw-close').getBoundingClientRect().right, bodyLeft: b.querySelector('.fw-body').getBoundingClientRect().left,
						toggleLeft: document.querySelector('.fw-toggle').getBoundingClientRect().left, width: innerWidth};
				})()`)
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Fatal(err)
				}
				if got.Dir != "rtl" || got.Direction != "rtl" || got.Label != "فوری" || got.Toggle != "هشدارهای خبری" {
					t.Errorf("Persian widget: dir %q, direction %q, label %q, toggle %q", got.Dir, got.Direction, got.Label, got.Toggle)
				}
				if got.BorderRight <= got.BorderLeft || got.CloseRight > got.BodyLeft || got.ToggleLeft > got.Width/2 {
					t.Errorf("not mirrored: border right %.1f left %.1f, close ends at %.0f and text starts at %.0f, settings button at %.0f of %.0f",
						got.BorderRight, got.BorderLeft, got.CloseRight, got.BodyLeft, got.ToggleLeft, got.Width)
				}
				bt.screenshot(t, "widget-fa-"+vp.name)
				bt.do(t, chromedp.Focus(chromedp.CSS(`.fw-toggle`)))
				bt.press(t, kb.Enter)
				bt.waitFor(t, "the settings", `document.activeElement.name === 'topic'`)
				panel := eval[[]float64](t, bt, `(function (p) { var r = p.getBoundingClientRect(); return [r.left, r.right, innerWidth]; })(document.querySelector('.fw-panel'))`)
				if panel[0] > panel[2]-panel[1]+1 {
					t.Errorf("settings panel at %.0f-%.0f of %.0f, want it on the left", panel[0], panel[1], panel[2])
				}
				if got := eval[string](t, bt, `document.querySelector('.fw-topic legend').textContent + '|' + getComputedStyle(document.querySelector('.fw-panel')).direction`); got != "موضوع‌ها|rtl" {
					t.Errorf("Persian settings read %q", got)
				}
				axeAudit(t, bt, "Persian page with banner and settings "+vp.name)
				bt.screenshot(t, "widget-fa-settings-"+vp.name)
				bt.press(t, kb.Escape)
				bt.press(t, kb.Escape)
			})
		}
	})
}
