package web

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// addRoutes is the whole HTTP surface of Flashwire, top to bottom.
func addRoutes(mux *http.ServeMux, s *Server) {
	// Operations.
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(s.cfg.Redis))
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}))

	// Tokens: admins only.
	mux.Handle("GET /api/v1/tokens", s.requireRole(RoleAdmin, handleTokenList(s.cfg.Tokens)))
	mux.Handle("POST /api/v1/tokens", s.requireRole(RoleAdmin, handleTokenCreate(s.cfg.Tokens)))
	mux.Handle("DELETE /api/v1/tokens/{id}", s.requireRole(RoleAdmin, handleTokenRevoke(s.cfg.Tokens)))

	// Alerts: editors and admins.
	mux.Handle("POST /api/v1/alerts", s.requireRole(RoleEditor, handleAlertCreate(s.cfg.Alerts)))
	mux.Handle("GET /api/v1/alerts/{id}", s.requireRole(RoleEditor, handleAlertGet(s.cfg.Alerts)))

	// Pages and the reader widget.
	mux.Handle("GET /static/", handleStatic())
	mux.Handle("GET /{$}", handleDemoPage())
	mux.Handle("/", handleNotFound())
}
