package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"flashwire"
	"flashwire/subscribers"
)

// partnerSecrets issues a new partner's webhook signing secret. The webhook
// sender implements it and keeps the secrets; this layer only hands the
// first one to the admin who created the partner.
type partnerSecrets interface {
	Create(ctx context.Context, partnerID string) (string, error)
}

// endpointChecker knows, before any delivery, the partner URLs the webhook
// sender could never call; *webhook.Sender is one.
type endpointChecker interface {
	CheckEndpoint(raw string) error
}

// endpoints returns the server's webhook sender as an endpointChecker, or
// nil when it has none.
func (s *Server) endpoints() endpointChecker {
	if s.cfg.Webhooks == nil {
		return nil
	}
	return s.cfg.Webhooks
}

// checkEndpoint refuses, as a 400 naming url, a partner URL that no
// delivery could ever reach: plain http where https is required, or an
// internal address given literally. A URL that is not one at all is left
// to the partner's own check, which names it.
func checkEndpoint(ep endpointChecker, raw *string) error {
	if ep == nil || raw == nil || !flashwire.IsWebURL(strings.TrimSpace(*raw)) {
		return nil
	}
	if err := ep.CheckEndpoint(strings.TrimSpace(*raw)); err != nil {
		return flashwire.Invalid("url", "is not one webhooks may call: %v", err)
	}
	return nil
}

// partnerRequest is the body of POST /api/v1/partners.
type partnerRequest struct {
	Name        string                `json:"name"`
	URL         string                `json:"url"`
	Topics      []string              `json:"topics"`
	Regions     []string              `json:"regions"`
	Languages   []string              `json:"languages"`
	MinPriority flashwire.Priority    `json:"min_priority"`
	Events      []flashwire.EventType `json:"events"`
	Contact     string                `json:"contact"`
}

// partnerPatch is the body of PATCH /api/v1/partners/{id}: absent fields
// keep their value. Setting state to "active" re-enables a disabled
// partner and clears its reason.
type partnerPatch struct {
	Name           *string                `json:"name"`
	URL            *string                `json:"url"`
	Topics         *[]string              `json:"topics"`
	Regions        *[]string              `json:"regions"`
	Languages      *[]string              `json:"languages"`
	MinPriority    *flashwire.Priority    `json:"min_priority"`
	Events         *[]flashwire.EventType `json:"events"`
	Contact        *string                `json:"contact"`
	State          *string                `json:"state"`
	DisabledReason *string                `json:"disabled_reason"`
}

func (pp partnerPatch) apply(p *subscribers.Partner) {
	patch(&p.Name, pp.Name)
	patch(&p.URL, pp.URL)
	patch(&p.Topics, pp.Topics)
	patch(&p.Regions, pp.Regions)
	patch(&p.Languages, pp.Languages)
	patch(&p.MinPriority, pp.MinPriority)
	patch(&p.Events, pp.Events)
	patch(&p.Contact, pp.Contact)
	patch(&p.State, pp.State)
	patch(&p.DisabledReason, pp.DisabledReason)
}

// partnerCreateResponse adds the first signing secret, shown only once.
type partnerCreateResponse struct {
	subscribers.Partner
	Secret string `json:"secret,omitempty"`
}

func handlePartnerList(store *subscribers.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := store.Partners(r.Context())
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"partners": list})
	})
}

// handlePartnerCreate stores a partner and issues its signing secret; if no
// secret can be issued the partner is removed again, so an admin never
// holds a partner that cannot be verified.
func handlePartnerCreate(store *subscribers.Store, secrets partnerSecrets, endpoints endpointChecker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req partnerRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
		if err := checkEndpoint(endpoints, &req.URL); err != nil {
			writeError(w, r, err)
			return
		}
		p, err := store.CreatePartner(r.Context(), subscribers.Partner{
			Name:        req.Name,
			URL:         req.URL,
			Topics:      req.Topics,
			Regions:     req.Regions,
			Languages:   req.Languages,
			MinPriority: req.MinPriority,
			Events:      req.Events,
			Contact:     req.Contact,
		})
		if err != nil {
			writeError(w, r, err)
			return
		}
		resp := partnerCreateResponse{Partner: p}
		if secrets != nil {
			resp.Secret, err = secrets.Create(r.Context(), p.ID)
			if err != nil {
				// The request's context may be what failed: undo with a fresh one.
				if delErr := store.DeletePartner(context.WithoutCancel(r.Context()), p.ID); delErr != nil {
					err = errors.Join(err, delErr)
				}
				writeError(w, r, fmt.Errorf("issue secret for partner %s: %w", p.ID, err))
				return
			}
		}
		logger(r.Context()).Info("partner created", slog.String("partner_id", p.ID), slog.String("name", p.Name), slog.String("by", caller(r.Context()).Name))
		encode(w, http.StatusCreated, resp)
	})
}

func handlePartnerGet(store *subscribers.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := store.Partner(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, p)
	})
}

func handlePartnerPatch(store *subscribers.Store, endpoints endpointChecker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var patch partnerPatch
		if err := decode(w, r, &patch); err != nil {
			writeError(w, r, err)
			return
		}
		if err := checkEndpoint(endpoints, patch.URL); err != nil {
			writeError(w, r, err)
			return
		}
		p, err := store.UpdatePartner(r.Context(), r.PathValue("id"), patch.apply)
		if err != nil {
			writeError(w, r, err)
			return
		}
		logger(r.Context()).Info("partner changed", slog.String("partner_id", p.ID), slog.String("state", p.State), slog.String("by", caller(r.Context()).Name))
		encode(w, http.StatusOK, p)
	})
}

func handlePartnerDelete(store *subscribers.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := store.DeletePartner(r.Context(), id); err != nil {
			writeError(w, r, err)
			return
		}
		logger(r.Context()).Info("partner deleted", slog.String("partner_id", id), slog.String("by", caller(r.Context()).Name))
		w.WriteHeader(http.StatusNoContent)
	})
}
