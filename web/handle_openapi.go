package web

import (
	_ "embed"
	"net/http"
)

// openAPI describes the /api/v1 surface; a test keeps it in step with
// routes.go.
//
//go:embed openapi.json
var openAPI []byte

// handleOpenAPI serves the OpenAPI 3.1 document of the API.
func handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(openAPI)
	})
}
