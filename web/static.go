package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var staticFiles embed.FS

// staticRoot is static/ itself, so that /static/flashwire.js serves
// static/flashwire.js.
var staticRoot, _ = fs.Sub(staticFiles, "static")

// handleStatic serves the embedded widget, pages' scripts and styles.
func handleStatic() http.Handler {
	files := http.StripPrefix("/static/", http.FileServerFS(staticRoot))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The console's modules import each other: a browser that kept some
		// for five minutes across a deploy would mix two versions, so they
		// are checked every time. The widget and styles stand alone.
		if strings.HasPrefix(r.URL.Path, "/static/console/") {
			w.Header().Set("Cache-Control", "no-cache")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=300")
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}

// handleDemoPage serves the reader demo: an article page as a news site
// would show it, with the widget embedded by one script tag.
func handleDemoPage() http.Handler {
	return servePage("demo.html")
}

// servePage serves one embedded HTML page with a strict
// Content-Security-Policy: no inline script, nothing from other hosts.
func servePage(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, staticRoot, name)
	})
}
