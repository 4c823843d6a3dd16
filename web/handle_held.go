package web

// Held stories: breaking stories waiting for an editor, from sources in
// "hold" mode or because they could not be pushed as they are (no public
// link, an invalid field, the minimum gap). The editor console uses these
// routes (editor token):
//
//	GET   /api/v1/held               200 {"held": [HELD, ...]}, oldest first
//	PATCH /api/v1/held/{id}          200 HELD; body: any of "headline", "summary", "url",
//	                                 "topics", "regions"; checked as an alert (400 naming the field)
//	POST  /api/v1/held/{id}/send     201 ALERT (the published alert, as GET /api/v1/alerts/{id})
//	POST  /api/v1/held/{id}/dismiss  204, no body
//
// where HELD is
//
//	{"id": "9f2c...",               // the held story's id for edit, send and dismiss
//	 "source_id": "src_1a2b...",    // the feed source it came from
//	 "source_name": "Wire world",   // its name
//	 "story_id": "urn:newsml:...",  // the item's guid, ninjs uri or link
//	 "published_at": "...",         // the held version's time; absent when undated
//	 "alert": {"headline": "...", "summary": "...", "url": "https://...",
//	           "image_url": "https://...", "topics": ["world"], "regions": ["europe"],
//	           "language": "en", "priority": "flash|urgent"},  // what send publishes
//	 "held_at": "2026-11-26T22:00:00Z",
//	 "reason": "held: no public link: ...",  // why it waits
//	 "edited": true}                // an editor changed it; the feed's headlines no longer do
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

func handleHeldEdit(wt *watch.Watcher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p watch.HeldPatch
		if err := decode(w, r, &p); err != nil {
			writeError(w, r, err)
			return
		}
		hs, err := wt.Edit(r.Context(), r.PathValue("id"), p)
		if err != nil {
			writeError(w, r, err)
			return
		}
		logger(r.Context()).Info("held story edited", "held_id", hs.ID, "by", caller(r.Context()).Name)
		encode(w, http.StatusOK, hs)
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
