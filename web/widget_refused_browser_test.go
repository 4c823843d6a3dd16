package web

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWidgetReportsRefusal embeds the widget with a topic the service does
// not know, as a typo in a site's attributes would: the service refuses
// the connection with 400, and the widget says why on the browser console,
// naming the field and the value, where the site's developers look.
func TestWidgetReportsRefusal(t *testing.T) {
	env := newWidgetEnv(t, envOptions{})
	env.pages.Store("/test/typo.html", `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A news site</title></head>
<body><h1>Today</h1><script src="/static/flashwire.js" data-topics="world,wrold" async></script></body></html>`)
	bt := newBrowserTab(t)
	bt.do(t, chromedp.Navigate(env.URL+"/test/typo.html"))
	// Three WebSocket attempts fail (a random wait of up to 1, 2 and 4 s
	// before each retry); then the widget asks why.
	deadline := time.Now().Add(30 * time.Second)
	for {
		bt.mu.Lock()
		problems := strings.Join(bt.problems, "\n")
		bt.mu.Unlock()
		if strings.Contains(problems, "flashwire: the service refused") {
			if !strings.Contains(problems, `topics "wrold" is not a known topic`) {
				t.Fatalf("the console report does not name the field and value:\n%s", problems)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no report on the console within 30 s; it logged:\n%s", problems)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
