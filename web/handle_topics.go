package web

import (
	"net/http"

	"flashwire/subscribers"
)

// taxonomyBody is the topic and region list: the answer of GET
// /api/v1/topics and the body of POST /api/v1/topics, which adds to it.
type taxonomyBody struct {
	Topics  []string `json:"topics"`
	Regions []string `json:"regions"`
}

func handleTopicList(store *subscribers.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The list is public: the reader widget, embedded in any site's
		// pages, reads it from there. A simple GET with no credentials
		// needs no preflight, and an error is readable too.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		topics, regions, err := store.Taxonomy(r.Context())
		if err != nil {
			writeError(w, r, err)
			return
		}
		// Anyone may read the list, and it changes rarely.
		w.Header().Set("Cache-Control", "public, max-age=60")
		encode(w, http.StatusOK, taxonomyBody{Topics: topics, Regions: regions})
	})
}

// handleTopicAdd adds topics and regions and answers with the whole list.
func handleTopicAdd(store *subscribers.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req taxonomyBody
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
		if err := store.AddSlugs(r.Context(), req.Topics, req.Regions); err != nil {
			writeError(w, r, err)
			return
		}
		topics, regions, err := store.Taxonomy(r.Context())
		if err != nil {
			writeError(w, r, err)
			return
		}
		logger(r.Context()).Info("taxonomy extended", "topics", req.Topics, "regions", req.Regions, "by", caller(r.Context()).Name)
		encode(w, http.StatusOK, taxonomyBody{Topics: topics, Regions: regions})
	})
}

// handleTopicDelete removes a topic (kind "topic") or a region (kind
// "region") from the taxonomy.
func handleTopicDelete(store *subscribers.Store, kind string) http.Handler {
	remove := store.RemoveTopic
	if kind == "region" {
		remove = store.RemoveRegion
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slug := r.PathValue("slug")
		if err := remove(r.Context(), slug); err != nil {
			writeError(w, r, err)
			return
		}
		logger(r.Context()).Info("taxonomy reduced", kind, slug, "by", caller(r.Context()).Name)
		w.WriteHeader(http.StatusNoContent)
	})
}
