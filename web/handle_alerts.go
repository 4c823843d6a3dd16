package web

import (
	"net/http"

	"flashwire/notifier"
)

// alertRequest is the body of POST /api/v1/alerts.
type alertRequest struct {
	Headline string            `json:"headline"`
	Summary  string            `json:"summary"`
	URL      string            `json:"url"`
	ImageURL string            `json:"image_url"`
	Topics   []string          `json:"topics"`
	Regions  []string          `json:"regions"`
	Language string            `json:"language"`
	Priority notifier.Priority `json:"priority"`
}

func (req alertRequest) alert() notifier.Alert {
	return notifier.Alert{
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

func handleAlertCreate(alerts *notifier.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req alertRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
		a, err := alerts.Publish(r.Context(), req.alert())
		if err != nil {
			writeError(w, r, err)
			return
		}
		logger(r.Context()).Info("alert published", "alert_id", a.ID, "priority", a.Priority, "by", caller(r.Context()).Name)
		encode(w, http.StatusCreated, a)
	})
}

func handleAlertGet(alerts *notifier.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := alerts.Log().Alert(r.Context(), r.PathValue("id"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, a)
	})
}
