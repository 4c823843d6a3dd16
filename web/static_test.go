package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestStaticCaching checks what each embedded file is served as: the
// console's modules as JavaScript a browser checks every time (they
// import each other, and two versions must never mix), the widget and
// styles cacheable for five minutes.
func TestStaticCaching(t *testing.T) {
	h := handleStatic()
	modules, err := fs.Glob(staticRoot, "console/*.js")
	if err != nil || len(modules) < 5 {
		t.Fatalf("console modules: %v %v", modules, err)
	}
	tests := []struct {
		path, cache, typ string
	}{
		{"/static/flashwire.js", "public, max-age=300", "text/javascript"},
		{"/static/flashwire.css", "public, max-age=300", "text/css"},
	}
	for _, m := range modules {
		tests = append(tests, struct{ path, cache, typ string }{"/static/" + m, "no-cache", "text/javascript"})
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("%s: status %d", tt.path, rec.Code)
			continue
		}
		if got := rec.Header().Get("Cache-Control"); got != tt.cache {
			t.Errorf("%s: Cache-Control %q, want %q", tt.path, got, tt.cache)
		}
		// A module script served as anything but JavaScript does not run.
		if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, tt.typ) {
			t.Errorf("%s: Content-Type %q, want %s", tt.path, got, tt.typ)
		}
	}
}
