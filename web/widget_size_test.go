package web

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"flashwire/internal/redistest"
)

// widgetBudget is the most the reader widget's script, minified and
// gzipped, may weigh with all its translations: a news page loads it on
// every view.
const widgetBudget = 10 << 10

// terserPath is the minifier make test installs with npm into the
// repository's ignored .tools folder.
var terserPath = filepath.Join("..", ".tools", "npm", "node_modules", "terser", "bin", "terser")

func gzipSize(tb testing.TB, b []byte) int {
	tb.Helper()
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := w.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Len()
}

// TestWidgetSize weighs the widget as served and as a site's CDN would
// serve it (minified with terser, gzipped), against widgetBudget. The
// figures go to BENCHMARKS.md.
func TestWidgetSize(t *testing.T) {
	js, err := fs.ReadFile(staticRoot, "flashwire.js")
	if err != nil {
		t.Fatal(err)
	}
	css, err := fs.ReadFile(staticRoot, "flashwire.css")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("flashwire.js: %d bytes, %d gzipped; flashwire.css: %d bytes, %d gzipped", len(js), gzipSize(t, js), len(css), gzipSize(t, css))
	if _, err := os.Stat(terserPath); err != nil {
		redistest.Missing(t, "terser at "+terserPath+" (make deps installs it with npm)")
	}
	cmd := exec.Command("node", terserPath, "--compress", "--mangle")
	cmd.Stdin = bytes.NewReader(js)
	min, err := cmd.Output()
	if err != nil {
		t.Fatalf("terser: %v", err)
	}
	size := gzipSize(t, min)
	t.Logf("flashwire.js minified: %d bytes, %d gzipped (budget %d)", len(min), size, widgetBudget)
	if size > widgetBudget {
		t.Errorf("the widget weighs %d bytes minified and gzipped, over its budget of %d", size, widgetBudget)
	}
}
