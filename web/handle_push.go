package web

import (
	"errors"
	"net/http"

	"flashwire"
	"flashwire/notifier/webpush"
	"flashwire/subscribers"
)

// errNoPush answers the push routes when Web Push is not running.
var errNoPush = flashwire.NewError(flashwire.ErrUnavailable, "web push is not running on this instance")

// pushKeyBody is the answer of GET /api/v1/push/key.
type pushKeyBody struct {
	// PublicKey is the VAPID public key, base64url: the
	// applicationServerKey of PushManager.subscribe.
	PublicKey string `json:"public_key"`
}

// handlePushKey serves the key browsers subscribe with, to any origin.
func handlePushKey(sender *webpush.Sender) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sender == nil {
			writeError(w, r, errNoPush)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Cache-Control", "public, max-age=300")
		encode(w, http.StatusOK, pushKeyBody{PublicKey: sender.PublicKey()})
	})
}

// pushSubscriptionBody is the JSON of PushSubscription.toJSON() in a
// browser.
type pushSubscriptionBody struct {
	Endpoint string `json:"endpoint"`
	// ExpirationTime is what the browser says; push services expire
	// subscriptions with a 404 or 410, which removes them.
	ExpirationTime *float64             `json:"expirationTime"`
	Keys           subscribers.PushKeys `json:"keys"`
}

// handlePushSubscribe stores a browser's subscription for the reader: 201
// for a new one, 200 when it replaced the same endpoint's.
func handlePushSubscribe(store *subscribers.Store, sender *webpush.Sender) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sender == nil {
			writeError(w, r, errNoPush)
			return
		}
		id, err := subscribers.ParseReaderID(r.PathValue("id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		var body pushSubscriptionBody
		if err := decode(w, r, &body); err != nil {
			writeError(w, r, err)
			return
		}
		sub := subscribers.PushSubscription{Endpoint: body.Endpoint, Keys: body.Keys}
		sub.Normalize()
		var bad flashwire.InvalidError
		sub.Validate(&bad)
		var guard *flashwire.InvalidError
		if len(bad.Fields) == 0 || bad.Fields[0].Field != "endpoint" {
			if err := sender.CheckEndpoint(sub.Endpoint); errors.As(err, &guard) {
				bad.Fields = append(guard.Fields, bad.Fields...)
			}
		}
		if err := bad.Err(); err != nil {
			writeError(w, r, err)
			return
		}
		saved, created, err := store.AddPush(r.Context(), id, sub)
		if err != nil {
			writeError(w, r, err)
			return
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		encode(w, status, saved)
	})
}

// pushEndpointBody names a subscription to remove by its endpoint.
type pushEndpointBody struct {
	Endpoint string `json:"endpoint"`
}

// handlePushUnsubscribe removes the reader's subscription named by the
// endpoint in the body, or by the id in the path.
func handlePushUnsubscribe(store *subscribers.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("sub")
		if id == "" {
			var body pushEndpointBody
			if err := decode(w, r, &body); err != nil {
				writeError(w, r, err)
				return
			}
			if body.Endpoint == "" {
				writeError(w, r, flashwire.Invalid("endpoint", "is required"))
				return
			}
			id = subscribers.PushID(body.Endpoint)
		}
		if err := store.RemovePush(r.Context(), r.PathValue("id"), id); err != nil {
			writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleServiceWorker serves the service worker at the root of the
// service, so that the demo page, on the service's own origin, may
// register it for the whole origin. News sites host their own one-line
// worker that imports /static/flashwire-sw.js (docs/webpush.md).
func handleServiceWorker() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeFileFS(w, r, staticRoot, "flashwire-sw.js")
	})
}
