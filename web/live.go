package web

import (
	"errors"
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
// Topics and regions given in the query must be known ones: a typo in a
// site's widget would otherwise mean alerts never arrive.
func (s *Server) parseLive(r *http.Request, lastEventID string) (liveRequest, error) {
	q := r.URL.Query()
	var req liveRequest
	var bad flashwire.InvalidError
	if id := q.Get("reader"); id != "" {
		prefs, err := s.readerFilters(r, id)
		if err != nil {
			return liveRequest{}, err
		}
		req.prefs = prefs
	}
	for _, f := range []struct {
		name, kind string
		dst        *[]string
	}{{"topics", "topic", &req.prefs.Topics}, {"regions", "region", &req.prefs.Regions}, {"lang", "", &req.prefs.Languages}} {
		if !q.Has(f.name) {
			continue
		}
		list := splitComma(q.Get(f.name))
		if len(list) > maxFilterValues {
			bad.Add(f.name, "has more than %d values", maxFilterValues)
		}
		*f.dst = list
	}
	if err := s.checkLiveSlugs(r, &bad, req.prefs); err != nil {
		return liveRequest{}, err
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

// checkLiveSlugs names in bad the topics and regions of the query that are
// not known. A reader's stored ones are not checked again: an admin may
// have removed one since, and the reader must still get the others.
func (s *Server) checkLiveSlugs(r *http.Request, bad *flashwire.InvalidError, p subscribers.Preferences) error {
	q := r.URL.Query()
	if (!q.Has("topics") || len(p.Topics) == 0) && (!q.Has("regions") || len(p.Regions) == 0) {
		return nil
	}
	topics, regions, err := s.cfg.Subscribers.KnownSlugs(r.Context())
	if err != nil {
		return err
	}
	if q.Has("topics") {
		flashwire.CheckSlugs(bad, "topics", "topic", p.Topics, topics)
	}
	if q.Has("regions") {
		flashwire.CheckSlugs(bad, "regions", "region", p.Regions, regions)
	}
	return nil
}

// readerFilters loads the stored preferences of reader id for a live
// connection and keeps the record alive. An id that is malformed or
// unknown is what guessing ids looks like, so such look-ups are limited
// per client address as the preferences API limits every request:
// readerBurst at once, then one every 1/readerRate seconds. Known ids are
// never limited: a newsroom's readers behind one office address all
// reconnect at once after a restart.
func (s *Server) readerFilters(r *http.Request, id string) (subscribers.Preferences, error) {
	key := limitKey(clientIP(r))
	if ok, wait := s.probes.check(key); !ok {
		return subscribers.Preferences{}, rateLimited(wait)
	}
	if _, err := subscribers.ParseReaderID(id); err != nil {
		s.probes.take(key)
		return subscribers.Preferences{}, flashwire.Invalid("reader", "must be a reader id: 32 hex digits or a UUID")
	}
	ctx := r.Context()
	rd, err := s.cfg.Subscribers.Reader(ctx, id)
	if errors.Is(err, flashwire.ErrNotFound) {
		s.probes.take(key)
	}
	if err != nil {
		return subscribers.Preferences{}, err
	}
	// A reader with a page open is active: keep the record alive.
	if err := s.cfg.Subscribers.TouchReader(ctx, id); err != nil {
		logger(ctx).Warn("cannot touch reader", "reader", id, "error", err.Error())
	}
	return rd.Preferences, nil
}

// splitComma reads a comma-separated query parameter as a normalised list.
func splitComma(v string) []string {
	return flashwire.NormalizeSlugs(strings.Split(v, ","))
}

// originAllowed refuses cross-site WebSocket hijacking: a browser page may
// open a live connection only from the service's own origin (see
// ownOrigin) or one of AllowedOrigins ("*" allows any). Requests without
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
	if s.ownOrigin(r, u) {
		return true
	}
	o := strings.ToLower(u.Scheme + "://" + u.Host)
	for _, a := range s.cfg.AllowedOrigins {
		if a == "*" || strings.EqualFold(a, o) {
			return true
		}
	}
	return false
}

// ownOrigin reports whether the origin u is the service's own: the scheme
// and host r came to, or those of PublicURL. The scheme counts: a page on
// https://host is another origin than the service on http://host.
func (s *Server) ownOrigin(r *http.Request, u *url.URL) bool {
	if strings.EqualFold(u.Scheme, requestScheme(r)) && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	pu, err := url.Parse(s.cfg.PublicURL)
	return err == nil && s.cfg.PublicURL != "" && pu.Host != "" &&
		strings.EqualFold(u.Scheme, pu.Scheme) && strings.EqualFold(u.Host, pu.Host)
}

// requestScheme is the scheme r came to the service over: https when it
// arrived over TLS or a proxy in front says so. A browser cannot set
// X-Forwarded-Proto, so believing it cannot let a page pass for another.
func requestScheme(r *http.Request) string {
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		return "https"
	}
	return "http"
}
