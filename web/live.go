package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"flashwire"
	"flashwire/notifier"
	"flashwire/subscribers"
)

// maxFilterValues bounds each filter list of a live connection.
const maxFilterValues = 50

// liveRequest is what a WebSocket or SSE request asked for.
type liveRequest struct {
	prefs subscribers.Preferences
	// lastID resumes after that log event id; empty starts with live
	// events only.
	lastID string
	// ip is the address the connection counts against in the hub's
	// per-address limit.
	ip string
}

// admitLive checks a GET /ws or GET /events request (a hub running, an
// allowed origin, valid filters) and reserves its place in the hub's
// connection limits. On success the caller owns the reservation and must
// release it with hub.release(transport, req.ip).
func (s *Server) admitLive(r *http.Request, transport notifier.Channel, lastEventID string) (*Hub, liveRequest, error) {
	hub := s.cfg.Hub
	if hub == nil {
		return nil, liveRequest{}, errHubClosed
	}
	if !s.originAllowed(r) {
		return nil, liveRequest{}, errCrossOrigin
	}
	req, err := s.parseLive(r, lastEventID)
	if err != nil {
		return nil, liveRequest{}, err
	}
	req.ip = clientIP(r)
	if err := hub.reserve(transport, req.ip); err != nil {
		return nil, liveRequest{}, err
	}
	return hub, req, nil
}

// parseLive reads the filters and resume point shared by GET /ws and GET
// /events. lastEventID (SSE's Last-Event-ID header) wins over last_id.
func (s *Server) parseLive(r *http.Request, lastEventID string) (liveRequest, error) {
	q := r.URL.Query()
	var req liveRequest
	var bad flashwire.InvalidError
	if id := q.Get("reader"); id != "" {
		prefs, err := s.readerPreferences(r.Context(), id)
		if err != nil {
			return liveRequest{}, fmt.Errorf("live connection for reader %s: %w", id, err)
		}
		req.prefs = prefs
		// A reader with a page open is active: keep the record alive.
		if err := s.cfg.Subscribers.TouchReader(r.Context(), id); err != nil {
			logger(r.Context()).Warn("cannot touch reader", "reader", id, "error", err.Error())
		}
	}
	for _, f := range []struct {
		name string
		dst  *[]string
	}{{"topics", &req.prefs.Topics}, {"regions", &req.prefs.Regions}, {"lang", &req.prefs.Languages}} {
		if !q.Has(f.name) {
			continue
		}
		list := splitComma(q.Get(f.name))
		if len(list) > maxFilterValues {
			bad.Add(f.name, "has more than %d values", maxFilterValues)
		}
		*f.dst = list
	}
	if q.Has("min_priority") {
		req.prefs.MinPriority = flashwire.Priority(q.Get("min_priority"))
	}
	if p := req.prefs.MinPriority; p != "" && p.Rank() == 0 {
		bad.Add("min_priority", "must be flash, urgent or normal, not %q", p)
	}
	field, last := "Last-Event-ID", lastEventID
	if last == "" {
		field, last = "last_id", q.Get("last_id")
	}
	if last != "" && !flashwire.ValidEventID(last) {
		bad.Add(field, "must be an alert id such as 1732650000000-0")
	}
	req.lastID = last
	return req, bad.Err()
}

// readerPreferences loads the stored preferences of reader id.
func (s *Server) readerPreferences(ctx context.Context, id string) (subscribers.Preferences, error) {
	rd, err := s.cfg.Subscribers.Reader(ctx, id)
	return rd.Preferences, err
}

// splitComma reads a comma-separated query parameter as a normalised list.
func splitComma(v string) []string {
	return flashwire.NormalizeSlugs(strings.Split(v, ","))
}

// originAllowed refuses cross-site WebSocket hijacking: a browser page may
// open a live connection only from the service's own origin (its Host or
// PublicURL) or one of AllowedOrigins ("*" allows any). Requests without
// Origin come from no browser and carry no reader's cookies.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	o := strings.ToLower(u.Scheme + "://" + u.Host)
	if pu, err := url.Parse(s.cfg.PublicURL); err == nil && pu.Host != "" && o == strings.ToLower(pu.Scheme+"://"+pu.Host) {
		return true
	}
	for _, a := range s.cfg.AllowedOrigins {
		if a == "*" || strings.EqualFold(a, o) {
			return true
		}
	}
	return false
}
