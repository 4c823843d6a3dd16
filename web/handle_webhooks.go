package web

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"flashwire"
	"flashwire/notifier/webhook"
	"flashwire/subscribers"
)

// errNoWebhooks answers the delivery routes of a server without a sender.
var errNoWebhooks = flashwire.NewError(flashwire.ErrUnavailable, "webhook delivery is not running on this server")

// maxAttemptsPage is the largest page of GET .../deliveries.
const maxAttemptsPage = 200

// webhookDeps is what the delivery routes need.
type webhookDeps struct {
	partners *subscribers.Store
	sender   *webhook.Sender
}

// partner loads the partner named in the path, so that every route answers
// 404 for an unknown one.
func (d webhookDeps) partner(r *http.Request) (subscribers.Partner, error) {
	if d.sender == nil {
		return subscribers.Partner{}, errNoWebhooks
	}
	return d.partners.Partner(r.Context(), r.PathValue("id"))
}

type attemptsPage struct {
	Attempts []webhook.Attempt `json:"attempts"`
	Total    int64             `json:"total"`
	// NextOffset is the offset of the next page, absent on the last.
	NextOffset *int `json:"next_offset,omitempty"`
	// Parked counts deliveries held while the partner is paused or
	// disabled; a replay sends them.
	Parked int64 `json:"parked"`
}

// handleDeliveryList lists the partner's attempts, newest first:
// ?offset=N&limit=N (default 50, at most 200).
func handleDeliveryList(d webhookDeps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := d.partner(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		var bad flashwire.InvalidError
		offset, limit := 0, 50
		if v := r.URL.Query().Get("offset"); v != "" {
			if n, err := strconv.Atoi(v); err != nil || n < 0 {
				bad.Add("offset", "must be a whole number from 0")
			} else {
				offset = n
			}
		}
		if v := r.URL.Query().Get("limit"); v != "" {
			if n, err := strconv.Atoi(v); err != nil || n < 1 || n > maxAttemptsPage {
				bad.Add("limit", "must be a whole number from 1 to %d", maxAttemptsPage)
			} else {
				limit = n
			}
		}
		if err := bad.Err(); err != nil {
			writeError(w, r, err)
			return
		}
		attempts, total, parked, err := d.sender.Attempts(r.Context(), p.ID, offset, limit)
		if err != nil {
			writeError(w, r, err)
			return
		}
		page := attemptsPage{Attempts: attempts, Total: total, Parked: parked}
		if next := offset + len(attempts); int64(next) < total && len(attempts) > 0 {
			page.NextOffset = &next
		}
		encode(w, http.StatusOK, page)
	})
}

// handleDeliveryReplay sends one delivery again, with its same webhook-id
// and body and a fresh retry schedule.
func handleDeliveryReplay(d webhookDeps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := d.partner(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		id := r.PathValue("delivery")
		dl, err := d.sender.Replay(r.Context(), p.ID, id)
		if err != nil {
			writeError(w, r, err)
			return
		}
		logger(r.Context()).Info("webhook delivery replayed", slog.String("partner_id", p.ID), slog.String("delivery", id), slog.String("by", caller(r.Context()).Name))
		encode(w, http.StatusAccepted, map[string]any{"delivery": dl})
	})
}

type replayRequest struct {
	Since string `json:"since"`
}

// handlePartnerReplay sends again every kept delivery (7 days) created at
// or after since, oldest first, paced.
func handlePartnerReplay(d webhookDeps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := d.partner(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		var req replayRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
		now := d.sender.Now()
		since, err := time.Parse(time.RFC3339, req.Since)
		switch {
		case req.Since == "":
			err = flashwire.Invalid("since", "is required: an RFC 3339 time such as 2026-11-26T08:00:00Z")
		case err != nil:
			err = flashwire.Invalid("since", "is not an RFC 3339 time such as 2026-11-26T08:00:00Z")
		case since.After(now):
			err = flashwire.Invalid("since", "is in the future")
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		n, err := d.sender.ReplaySince(r.Context(), p.ID, since)
		if err != nil {
			writeError(w, r, err)
			return
		}
		logger(r.Context()).Info("webhook deliveries replayed", slog.String("partner_id", p.ID), slog.Time("since", since), slog.Int("count", n), slog.String("by", caller(r.Context()).Name))
		encode(w, http.StatusAccepted, map[string]any{
			"queued":        n,
			"per_second":    int(time.Second / webhook.ReplayPace),
			"done_by_about": now.Add(time.Duration(n) * webhook.ReplayPace).UTC(),
		})
	})
}

// handlePartnerTest queues a ping to the partner; its attempt shows in the
// delivery log.
func handlePartnerTest(d webhookDeps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := d.partner(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		dl, err := d.sender.Ping(r.Context(), p.ID)
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusAccepted, map[string]any{"delivery": dl})
	})
}

type rotateRequest struct {
	// KeepPreviousFor is how long the old secret keeps signing, a Go
	// duration such as "24h"; "0s" revokes it at once. Default 24h.
	KeepPreviousFor *string `json:"keep_previous_for"`
}

type rotateResponse struct {
	Secret string `json:"secret"`
	// PreviousValidUntil is when the old secret stops signing; absent
	// when it stopped at once.
	PreviousValidUntil *time.Time `json:"previous_valid_until,omitempty"`
}

// handleSecretRotate issues a new signing secret, shown once; the old one
// keeps signing beside it for the grace period. The body may be empty.
func handleSecretRotate(d webhookDeps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := d.partner(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		var req rotateRequest
		if r.ContentLength != 0 {
			if err := decode(w, r, &req); err != nil {
				writeError(w, r, err)
				return
			}
		}
		grace := webhook.DefaultGrace
		if req.KeepPreviousFor != nil {
			g, err := time.ParseDuration(*req.KeepPreviousFor)
			if err != nil || g < 0 || g > 7*24*time.Hour {
				writeError(w, r, flashwire.Invalid("keep_previous_for", "must be a duration from 0s to 168h, such as 24h"))
				return
			}
			grace = g
		}
		secret, until, err := d.sender.RotateSecret(r.Context(), p.ID, grace)
		if err != nil {
			writeError(w, r, err)
			return
		}
		resp := rotateResponse{Secret: secret}
		if !until.IsZero() {
			resp.PreviousValidUntil = &until
		}
		logger(r.Context()).Info("partner secret rotated", slog.String("partner_id", p.ID), slog.Duration("grace", grace), slog.String("by", caller(r.Context()).Name))
		encode(w, http.StatusOK, resp)
	})
}

// handleSecretRevokePrevious stops the rotated-out secret signing now.
func handleSecretRevokePrevious(d webhookDeps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := d.partner(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if err := d.sender.RevokePreviousSecret(r.Context(), p.ID); err != nil {
			writeError(w, r, err)
			return
		}
		logger(r.Context()).Info("partner previous secret revoked", slog.String("partner_id", p.ID), slog.String("by", caller(r.Context()).Name))
		w.WriteHeader(http.StatusNoContent)
	})
}
