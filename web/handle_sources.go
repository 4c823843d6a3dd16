package web

import (
	"net/http"

	"flashwire"
	"flashwire/notifier/watch"
)

// errNoWatcher answers the feed-watcher routes on a server built without one.
var errNoWatcher = flashwire.NewError(flashwire.ErrUnavailable, "the feed watcher is not running on this instance")

// requireWatcher serves h when the server has a feed watcher and answers
// errNoWatcher otherwise, so the handlers themselves never check.
func requireWatcher(wt *watch.Watcher, h http.Handler) http.Handler {
	if wt != nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errNoWatcher)
	})
}

// The source routes take and return a source as JSON:
//
//	{"url": "https://news.example.com/world.rss", "format": "auto|rss|atom|jsonfeed|ninjs",
//	 "schedule": "@every 15s", "mode": "auto|hold", "topics": ["world"], "regions": ["europe"],
//	 "language": "en", "category_topics": {"Politics": "politics"},
//	 "breaking": {"labels": ["Breaking News", "breaking"], "title_prefixes": ["BREAKING:"], "max_urgency": 2},
//	 "max_age": "2h", "name": "Wire world", "link_template": "https://news.example.com/{id}"}
//
// Answers add "id", "created_at", "updated_at" and "state": {"last_success",
// "last_error", "last_error_at", "failures", "items_seen", "alerts_made",
// "next_run", "backoff_until"}. PATCH takes any subset of the fields.
//
// GET /api/v1/sources/{id}/stories lists what became of the source's recent
// story versions, newest first (at most 200):
//
//	{"stories": [{"outcome": "pushed|held|skipped|updated|retracted",
//	  "reason": "too old: ...", "story_id": "urn:newsml:...", "held_id": "9f2c...",
//	  "headline": "...", "version_at": "...", "alert_id": "...", "at": "..."}]}

func handleSourceList(wt *watch.Watcher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := wt.Sources(r.Context())
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"sources": list})
	})
}

func handleSourceCreate(wt *watch.Watcher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req watch.SourcePatch
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
		var src watch.Source
		req.Apply(&src)
		created, err := wt.CreateSource(r.Context(), src)
		if err != nil {
			writeError(w, r, err)
			return
		}
		logger(r.Context()).Info("feed source created", "source_id", created.ID, "url", created.URL, "by", caller(r.Context()).Name)
		encode(w, http.StatusCreated, created)
	})
}

func handleSourceGet(wt *watch.Watcher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src, err := wt.Source(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, src)
	})
}

func handleSourcePatch(wt *watch.Watcher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var patch watch.SourcePatch
		if err := decode(w, r, &patch); err != nil {
			writeError(w, r, err)
			return
		}
		src, err := wt.UpdateSource(r.Context(), r.PathValue("id"), patch)
		if err != nil {
			writeError(w, r, err)
			return
		}
		logger(r.Context()).Info("feed source changed", "source_id", src.ID, "by", caller(r.Context()).Name)
		encode(w, http.StatusOK, src)
	})
}

func handleSourceDelete(wt *watch.Watcher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := wt.DeleteSource(r.Context(), id); err != nil {
			writeError(w, r, err)
			return
		}
		logger(r.Context()).Info("feed source deleted", "source_id", id, "by", caller(r.Context()).Name)
		w.WriteHeader(http.StatusNoContent)
	})
}

func handleSourceStories(wt *watch.Watcher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := wt.Outcomes(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"stories": list})
	})
}
