package web

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// addRoutes is the whole HTTP surface of Flashwire, top to bottom. A
// request no route takes gets a JSON 404, or a JSON 405 with Allow when
// its path has routes for other methods (see routeTable).
func addRoutes(mux *routeTable, s *Server) {
	// Operations.
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(s.cfg.Redis))
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}))

	// Tokens: admins only.
	mux.Handle("GET /api/v1/tokens", s.requireRole(RoleAdmin, handleTokenList(s.cfg.Tokens)))
	mux.Handle("POST /api/v1/tokens", s.requireRole(RoleAdmin, handleTokenCreate(s.cfg.Tokens)))
	mux.Handle("DELETE /api/v1/tokens/{id}", s.requireRole(RoleAdmin, handleTokenRevoke(s.cfg.Tokens)))

	// Alerts: editors and admins.
	alerts := s.alertDeps()
	mux.Handle("POST /api/v1/alerts", s.requireRole(RoleEditor, s.idempotent(handleAlertCreate(alerts))))
	mux.Handle("GET /api/v1/alerts", s.requireRole(RoleEditor, handleAlertList(alerts)))
	mux.Handle("GET /api/v1/alerts/{id}", s.requireRole(RoleEditor, handleAlertGet(alerts)))
	mux.Handle("POST /api/v1/alerts/{id}/update", s.requireRole(RoleEditor, s.idempotent(handleAlertUpdate(alerts))))
	mux.Handle("POST /api/v1/alerts/{id}/retract", s.requireRole(RoleEditor, s.idempotent(handleAlertRetract(alerts))))
	mux.Handle("GET /api/v1/alerts/scheduled", s.requireRole(RoleEditor, handleScheduledList(alerts)))
	mux.Handle("DELETE /api/v1/alerts/scheduled/{id}", s.requireRole(RoleEditor, handleScheduledCancel(alerts)))

	// Readers' stored preferences: anonymous, the id is the capability;
	// limited per client address.
	readers := newIPLimiter(readerBurst, readerRate)
	reader := func(h http.Handler) http.Handler { return s.readerCORS(limitByIP(readers, h)) }
	mux.Handle("POST /api/v1/readers", reader(handleReaderCreate(s.cfg.Subscribers)))
	mux.Handle("OPTIONS /api/v1/readers", reader(nil))
	mux.Handle("GET /api/v1/readers/{id}/preferences", reader(handleReaderGet(s.cfg.Subscribers)))
	mux.Handle("PUT /api/v1/readers/{id}/preferences", reader(handleReaderPut(s.cfg.Subscribers)))
	mux.Handle("DELETE /api/v1/readers/{id}/preferences", reader(handleReaderDelete(s.cfg.Subscribers)))
	mux.Handle("OPTIONS /api/v1/readers/{id}/preferences", reader(nil))
	mux.Handle("POST /api/v1/readers/{id}/push", reader(handlePushSubscribe(s.cfg.Subscribers, s.cfg.Push)))
	mux.Handle("DELETE /api/v1/readers/{id}/push", reader(handlePushUnsubscribe(s.cfg.Subscribers)))
	mux.Handle("OPTIONS /api/v1/readers/{id}/push", reader(nil))
	mux.Handle("DELETE /api/v1/readers/{id}/push/{sub}", reader(handlePushUnsubscribe(s.cfg.Subscribers)))
	mux.Handle("OPTIONS /api/v1/readers/{id}/push/{sub}", reader(nil))

	// Web Push: the key browsers subscribe with, for any origin.
	mux.Handle("GET /api/v1/push/key", handlePushKey(s.cfg.Push))

	// Partners receiving webhooks: admins only.
	mux.Handle("GET /api/v1/partners", s.requireRole(RoleAdmin, handlePartnerList(s.cfg.Subscribers)))
	mux.Handle("POST /api/v1/partners", s.requireRole(RoleAdmin, handlePartnerCreate(s.cfg.Subscribers, s.cfg.PartnerSecrets, s.endpoints())))
	mux.Handle("GET /api/v1/partners/{id}", s.requireRole(RoleAdmin, handlePartnerGet(s.cfg.Subscribers)))
	mux.Handle("PATCH /api/v1/partners/{id}", s.requireRole(RoleAdmin, handlePartnerPatch(s.cfg.Subscribers, s.endpoints())))
	mux.Handle("DELETE /api/v1/partners/{id}", s.requireRole(RoleAdmin, handlePartnerDelete(s.cfg.Subscribers)))

	// Webhook delivery log and tools: admins only.
	hooks := webhookDeps{partners: s.cfg.Subscribers, sender: s.cfg.Webhooks}
	mux.Handle("GET /api/v1/partners/{id}/deliveries", s.requireRole(RoleAdmin, handleDeliveryList(hooks)))
	mux.Handle("POST /api/v1/partners/{id}/deliveries/{delivery}/replay", s.requireRole(RoleAdmin, handleDeliveryReplay(hooks)))
	mux.Handle("POST /api/v1/partners/{id}/replay", s.requireRole(RoleAdmin, handlePartnerReplay(hooks)))
	mux.Handle("POST /api/v1/partners/{id}/test", s.requireRole(RoleAdmin, handlePartnerTest(hooks)))
	mux.Handle("POST /api/v1/partners/{id}/secret/rotate", s.requireRole(RoleAdmin, handleSecretRotate(hooks)))
	mux.Handle("POST /api/v1/partners/{id}/secret/revoke-previous", s.requireRole(RoleAdmin, handleSecretRevokePrevious(hooks)))

	// Topic and region taxonomy: anyone reads it, admins change it.
	mux.Handle("GET /api/v1/topics", handleTopicList(s.cfg.Subscribers))
	mux.Handle("POST /api/v1/topics", s.requireRole(RoleAdmin, handleTopicAdd(s.cfg.Subscribers)))
	mux.Handle("DELETE /api/v1/topics/{slug}", s.requireRole(RoleAdmin, handleTopicDelete(s.cfg.Subscribers, "topic")))
	mux.Handle("DELETE /api/v1/regions/{slug}", s.requireRole(RoleAdmin, handleTopicDelete(s.cfg.Subscribers, "region")))

	// Feed sources the watcher polls: admins only. Held stories from
	// sources in hold mode: editors and admins.
	mux.Handle("GET /api/v1/sources", s.requireRole(RoleAdmin, requireWatcher(s.cfg.Watcher, handleSourceList(s.cfg.Watcher))))
	mux.Handle("POST /api/v1/sources", s.requireRole(RoleAdmin, requireWatcher(s.cfg.Watcher, handleSourceCreate(s.cfg.Watcher))))
	mux.Handle("GET /api/v1/sources/{id}", s.requireRole(RoleAdmin, requireWatcher(s.cfg.Watcher, handleSourceGet(s.cfg.Watcher))))
	mux.Handle("PATCH /api/v1/sources/{id}", s.requireRole(RoleAdmin, requireWatcher(s.cfg.Watcher, handleSourcePatch(s.cfg.Watcher))))
	mux.Handle("DELETE /api/v1/sources/{id}", s.requireRole(RoleAdmin, requireWatcher(s.cfg.Watcher, handleSourceDelete(s.cfg.Watcher))))
	mux.Handle("GET /api/v1/sources/{id}/stories", s.requireRole(RoleAdmin, requireWatcher(s.cfg.Watcher, handleSourceStories(s.cfg.Watcher))))
	mux.Handle("GET /api/v1/held", s.requireRole(RoleEditor, requireWatcher(s.cfg.Watcher, handleHeldList(s.cfg.Watcher))))
	mux.Handle("PATCH /api/v1/held/{id}", s.requireRole(RoleEditor, requireWatcher(s.cfg.Watcher, handleHeldEdit(s.cfg.Watcher))))
	mux.Handle("POST /api/v1/held/{id}/send", s.requireRole(RoleEditor, requireWatcher(s.cfg.Watcher, handleHeldSend(s.cfg.Watcher))))
	mux.Handle("POST /api/v1/held/{id}/dismiss", s.requireRole(RoleEditor, requireWatcher(s.cfg.Watcher, handleHeldDismiss(s.cfg.Watcher))))

	// Audience of an alert before it is pushed: editors and admins.
	mux.Handle("GET /api/v1/audience", s.requireRole(RoleEditor, handleAudience(s.cfg.Subscribers)))

	// Audit log of every editor and admin action.
	mux.Handle("GET /api/v1/audit", s.requireRole(RoleEditor, handleAuditList(s.cfg.Redis)))

	// API description.
	mux.Handle("GET /api/v1/openapi.json", handleOpenAPI())

	// Live alerts for readers' browsers: WebSocket, and SSE as fallback.
	mux.Handle("GET /ws", handleWebSocket(s))
	mux.Handle("GET /events", handleEvents(s))

	// Pages and the reader widget.
	mux.Handle("GET /static/", handleStatic())
	mux.Handle("GET /{$}", handleDemoPage())
	mux.Handle("GET /flashwire-sw.js", handleServiceWorker())
	mux.Handle("GET /editor", handleEditorPage())
	mux.Handle("POST /editor/session", s.handleSessionCreate())
	mux.Handle("GET /editor/session", s.handleSessionGet())
	mux.Handle("DELETE /editor/session", s.handleSessionDelete())
}
