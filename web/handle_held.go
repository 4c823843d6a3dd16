package web

// Held stories: breaking stories from sources in "hold" mode, waiting for an
// editor. The editor console uses these routes (editor token):
//
//	GET  /api/v1/held               200 {"held": [HELD, ...]}, oldest first
//	POST /api/v1/held/{id}/send     201 ALERT (the published alert, as GET /api/v1/alerts/{id})
//	POST /api/v1/held/{id}/dismiss  204, no body
//
// where HELD is
//
//	{"id": "9f2c...",               // the held story's id for send and dismiss
//	 "source_id": "src_1a2b...",    // the feed source it came from
//	 "story_id": "https://...",     // the item's guid, ninjs uri or link
//	 "alert": {"headline": "...", "summary": "...", "url": "https://...",
//	           "image_url": "https://...", "topics": ["world"], "regions": ["europe"],
//	           "language": "en", "priority": "flash|urgent",
//	           "id": "", "published_at": "0001-01-01T00:00:00Z"},  // what send publishes; no id yet
//	 "held_at": "2026-11-26T22:00:00Z",
//	 "reason": "held: the minimum gap ..."}  // why an auto-mode story waits; absent in hold mode
//
// Sending goes through the newsroom's guards like an editor's own alert.
// Errors: 404 when no held story has the id; 409 when it was already sent or
// dismissed (two editors clicking at once: one wins), or with "existing"
// when the same url and headline went out lately; 429 with Retry-After and
// "retry_after" when a non-flash story comes within the minimum gap; 400
// with "fields" when the alert no longer passes validation (say a topic was
// deleted); the held story stays queued after any error but 404 and the
// first kind of 409. A held story whose feed item is canceled leaves the
// queue by itself; one whose headline changes shows the new headline.

import (
	"net/http"

	"flashwire/notifier/watch"
)

func handleHeldList(wt *watch.Watcher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		held, err := wt.Held(r.Context())
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"held": held})
	})
}

func handleHeldSend(wt *watch.Watcher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := wt.Send(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		logger(r.Context()).Info("held story sent", "held_id", r.PathValue("id"), "alert_id", a.ID, "by", caller(r.Context()).Name)
		encode(w, http.StatusCreated, a)
	})
}

func handleHeldDismiss(wt *watch.Watcher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := wt.Dismiss(r.Context(), r.PathValue("id")); err != nil {
			writeError(w, r, err)
			return
		}
		logger(r.Context()).Info("held story dismissed", "held_id", r.PathValue("id"), "by", caller(r.Context()).Name)
		w.WriteHeader(http.StatusNoContent)
	})
}
