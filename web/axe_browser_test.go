package web

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"flashwire/internal/redistest"
)

// axePath is axe-core's browser build, which make test installs with npm
// into the repository's ignored .tools folder.
var axePath = filepath.Join("..", ".tools", "npm", "node_modules", "axe-core", "axe.min.js")

var axeSource = sync.OnceValues(func() ([]byte, error) { return os.ReadFile(axePath) })

// viewport is a window size the pages are tried at.
type viewport struct {
	name          string
	width, height int64
}

// viewports are a desktop window and a phone.
var viewports = []viewport{{"desktop", 1280, 800}, {"phone", 390, 844}}

// setViewport sizes the tab's page as vp.
func (bt *browserTab) setViewport(tb testing.TB, vp viewport) {
	tb.Helper()
	bt.do(tb, chromedp.EmulateViewport(vp.width, vp.height))
}

// axeAudit runs the axe-core accessibility audit on the page as it is now
// and fails tb for each serious or critical violation.
func axeAudit(tb testing.TB, bt *browserTab, what string) {
	tb.Helper()
	src, err := axeSource()
	if err != nil {
		redistest.Missing(tb, "axe-core at "+axePath+" (make deps installs it with npm)")
		return
	}
	if !eval[bool](tb, bt, `typeof axe === "object"`) {
		eval[bool](tb, bt, string(src)+"\n;true")
	}
	found, err := chromedp.Run(bt.ctx, chromedp.Evaluate[[]string](`axe.run(document, {resultTypes: ["violations"]}).then(function (r) {
		return r.violations.filter(function (v) { return v.impact === "serious" || v.impact === "critical"; }).map(function (v) {
			return v.id + " (" + v.impact + "): " + v.help + " at " + v.nodes.slice(0, 4).map(function (n) {
				return n.target.join(" ") + (n.failureSummary ? " [" + n.failureSummary.replace(/\s+/g, " ") + "]" : "");
			}).join("; ");
		});
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.Fatalf("axe on %s: %v", what, err)
	}
	if len(found) > 0 {
		bt.screenshot(tb, "axe-"+strings.NewReplacer(" ", "-", "/", "-").Replace(what))
		for _, v := range found {
			tb.Errorf("accessibility, %s: %s", what, v)
		}
	}
}
