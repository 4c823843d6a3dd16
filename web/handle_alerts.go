package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"flashwire"
	"flashwire/notifier"
	"flashwire/subscribers"
)

// alertRequest is the body of POST /api/v1/alerts.
type alertRequest struct {
	Headline string             `json:"headline"`
	Summary  string             `json:"summary"`
	URL      string             `json:"url"`
	ImageURL string             `json:"image_url"`
	Topics   []string           `json:"topics"`
	Regions  []string           `json:"regions"`
	Language string             `json:"language"`
	Priority flashwire.Priority `json:"priority"`
	// SendAt, when set, schedules the alert instead of sending it now.
	SendAt *time.Time `json:"send_at"`
	// Force sends even when the same url and headline went out within the
	// duplicate window.
	Force bool `json:"force"`
}

func (req alertRequest) alert() flashwire.Alert {
	return flashwire.Alert{
		Headline: req.Headline,
		Summary:  req.Summary,
		URL:      req.URL,
		ImageURL: req.ImageURL,
		Topics:   req.Topics,
		Regions:  req.Regions,
		Language: req.Language,
		Priority: req.Priority,
	}
}

// alertPatch is the body of POST /api/v1/alerts/{id}/update: the fields
// given replace the alert's, the rest stay.
type alertPatch struct {
	Headline *string             `json:"headline"`
	Summary  *string             `json:"summary"`
	URL      *string             `json:"url"`
	ImageURL *string             `json:"image_url"`
	Topics   *[]string           `json:"topics"`
	Regions  *[]string           `json:"regions"`
	Language *string             `json:"language"`
	Priority *flashwire.Priority `json:"priority"`
}

func (p alertPatch) apply(a flashwire.Alert) flashwire.Alert {
	patch(&a.Headline, p.Headline)
	patch(&a.Summary, p.Summary)
	patch(&a.URL, p.URL)
	patch(&a.ImageURL, p.ImageURL)
	patch(&a.Language, p.Language)
	patch(&a.Topics, p.Topics)
	patch(&a.Regions, p.Regions)
	patch(&a.Priority, p.Priority)
	return a
}

// patch sets *dst to *src when a request body gave the field (src is not
// nil), for the PATCH-like bodies whose absent fields keep their value.
func patch[T any](dst, src *T) {
	if src != nil {
		*dst = *src
	}
}

// audienceCounter counts stored readers and partners an alert would reach;
// subscribers.Store is one.
type audienceCounter interface {
	CountAudience(ctx context.Context, a flashwire.Attrs, now time.Time) (subscribers.Audience, error)
}

// onlineCounter counts the live connections an alert would reach, on
// every instance that answers; *Hub is one.
type onlineCounter interface {
	CountOnline(ctx context.Context, a flashwire.Attrs) OnlineCount
}

// audience is the answer of a dry run. A count is null when this instance
// cannot know it.
type audience struct {
	Online   *int64 `json:"online"`
	Readers  *int64 `json:"readers"`
	Partners *int64 `json:"partners"`
	// Push is how many Web Push subscriptions the stored readers hold.
	Push *int64 `json:"push"`

	// OnlineInstances says how many instances' connections Online sums:
	// fewer answered than expected means it is partial.
	OnlineInstances *OnlineInstances `json:"online_instances"`
}

// dryRunResponse is what POST /api/v1/alerts?dry_run=true returns.
type dryRunResponse struct {
	DryRun   bool            `json:"dry_run"`
	Alert    flashwire.Alert `json:"alert"`
	Audience audience        `json:"audience"`
}

// alertDeps is what the alert handlers use.
type alertDeps struct {
	alerts   *notifier.Service
	stats    *notifier.Stats
	online   onlineCounter
	audience audienceCounter
}

func handleAlertCreate(d alertDeps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req alertRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
		ctx := r.Context()
		a := req.alert()
		if r.URL.Query().Get("dry_run") == "true" {
			if err := d.alerts.Check(ctx, &a); err != nil {
				writeError(w, r, err)
				return
			}
			resp := dryRunResponse{DryRun: true, Alert: a}
			attrs := a.Attrs()
			if d.online != nil {
				c := d.online.CountOnline(ctx, attrs)
				resp.Audience.Online, resp.Audience.OnlineInstances = &c.Online, &c.Instances
			}
			if d.audience != nil {
				aud, err := d.audience.CountAudience(ctx, attrs, d.alerts.Now())
				if err != nil {
					writeError(w, r, err)
					return
				}
				resp.Audience.Readers, resp.Audience.Partners, resp.Audience.Push = &aud.Readers, &aud.Partners, &aud.Push
			}
			encode(w, http.StatusOK, resp)
			return
		}
		by := caller(ctx).Name
		if req.SendAt != nil {
			sc, err := d.alerts.Schedule(ctx, a, *req.SendAt, by)
			if err != nil {
				writeError(w, r, err)
				return
			}
			noteAuditTarget(ctx, sc.ID)
			logger(ctx).Info("alert scheduled", "schedule_id", sc.ID, "send_at", sc.SendAt, "by", by)
			encode(w, http.StatusAccepted, sc)
			return
		}
		// An editor may waive the duplicate guard, never the minimum gap.
		a, _, err := d.alerts.Publish(ctx, a, notifier.PublishOptions{Force: req.Force})
		if errors.Is(err, notifier.ErrDuplicate) {
			err = fmt.Errorf(`%w; send "force": true to send it again`, err)
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		noteAuditTarget(ctx, a.ID)
		logger(ctx).Info("alert published", "alert_id", a.ID, "priority", a.Priority, "by", by)
		encode(w, http.StatusCreated, a)
	})
}

// alertWithDelivery is an alert with its delivery figures by channel.
type alertWithDelivery struct {
	flashwire.Alert
	Delivery map[notifier.Channel]notifier.ChannelStats `json:"delivery"`
}

func (d alertDeps) withDelivery(ctx context.Context, a flashwire.Alert) (alertWithDelivery, error) {
	out := alertWithDelivery{Alert: a, Delivery: map[notifier.Channel]notifier.ChannelStats{}}
	if d.stats == nil {
		return out, nil
	}
	st, err := d.stats.Get(ctx, a.ID)
	if err != nil {
		return out, err
	}
	out.Delivery = st
	return out, nil
}

func handleAlertGet(d alertDeps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := d.alerts.Alert(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		out, err := d.withDelivery(r.Context(), a)
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, out)
	})
}

// Page sizes of GET /api/v1/alerts.
const (
	defaultPage = 20
	maxPage     = 100
)

// pageParams reads ?limit and ?before, naming the one at fault.
func pageParams(r *http.Request, validBefore func(string) bool) (limit int, before string, err error) {
	var bad flashwire.InvalidError
	limit = defaultPage
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPage {
			bad.Add("limit", "must be a whole number from 1 to %d", maxPage)
		}
		limit = n
	}
	before = r.URL.Query().Get("before")
	if before != "" && !validBefore(before) {
		bad.Add("before", "%q is not a cursor returned as next", before)
	}
	return limit, before, bad.Err()
}

func handleAlertList(d alertDeps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, before, err := pageParams(r, flashwire.ValidEventID)
		if err != nil {
			writeError(w, r, err)
			return
		}
		list, next, err := d.alerts.History(r.Context(), before, limit)
		if err != nil {
			writeError(w, r, err)
			return
		}
		out := make([]alertWithDelivery, 0, len(list))
		for _, a := range list {
			ad, err := d.withDelivery(r.Context(), a)
			if err != nil {
				writeError(w, r, err)
				return
			}
			out = append(out, ad)
		}
		encode(w, http.StatusOK, map[string]any{"alerts": out, "next": next})
	})
}

func handleAlertUpdate(d alertDeps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var patch alertPatch
		if err := decode(w, r, &patch); err != nil {
			writeError(w, r, err)
			return
		}
		ctx := r.Context()
		id := r.PathValue("id")
		cur, err := d.alerts.Alert(ctx, id)
		if err != nil {
			writeError(w, r, err)
			return
		}
		a, err := d.alerts.Update(ctx, id, patch.apply(cur))
		if err != nil {
			writeError(w, r, err)
			return
		}
		logger(ctx).Info("alert updated", "alert_id", a.ID, "by", caller(ctx).Name)
		encode(w, http.StatusOK, a)
	})
}

func handleAlertRetract(d alertDeps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		a, err := d.alerts.Retract(ctx, r.PathValue("id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		logger(ctx).Info("alert retracted", "alert_id", a.ID, "by", caller(ctx).Name)
		encode(w, http.StatusOK, a)
	})
}

func handleScheduledList(d alertDeps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list, err := d.alerts.ScheduledAlerts(r.Context())
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"scheduled": list})
	})
}

func handleScheduledCancel(d alertDeps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		sc, err := d.alerts.CancelScheduled(ctx, r.PathValue("id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		logger(ctx).Info("scheduled alert cancelled", "schedule_id", sc.ID, "by", caller(ctx).Name)
		encode(w, http.StatusOK, sc)
	})
}

// alertDeps gathers the alert handlers' dependencies from the
// configuration. The audience counts are used when the store and hub
// provide them.
func (s *Server) alertDeps() alertDeps {
	d := alertDeps{alerts: s.cfg.Alerts, stats: s.cfg.Stats}
	if s.cfg.Hub != nil {
		d.online = s.cfg.Hub
	}
	if c, ok := any(s.cfg.Subscribers).(audienceCounter); ok && s.cfg.Subscribers != nil {
		d.audience = c
	}
	return d
}
