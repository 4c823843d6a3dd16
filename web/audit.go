package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// The audit log records every editor and admin action in one place: the
// server wraps each mutating request to /api/v1 (and signing in to the
// console) and, once it is answered, appends who, what, on what and how it
// ended to a capped Redis Stream. Handlers need not remember to log.
//
//	flashwire:v1:{audit}:log  stream of AuditEntry, about the newest auditKeep
const (
	keyAudit  = "flashwire:v1:{audit}:log"
	auditKeep = 100000
	// auditBodyPeek is how much of a response is kept to find the id of
	// what a POST created.
	auditBodyPeek = 4 << 10
)

// AuditEntry is one recorded action.
type AuditEntry struct {
	// ID is the entry's stream id, the cursor of GET /api/v1/audit.
	ID        string    `json:"id"`
	At        time.Time `json:"at"`
	TokenID   string    `json:"token_id"`
	TokenName string    `json:"token_name"`
	Role      Role      `json:"role"`
	// Action is the route, such as "POST /api/v1/alerts/{id}/retract".
	Action string `json:"action"`
	Path   string `json:"path"`
	// Target is what was acted on: the route's path values, or the id of
	// what was created.
	Target    string `json:"target,omitempty"`
	Status    int    `json:"status"`
	RequestID string `json:"request_id"`
}

// auditSlot is filled while a request is served: requireRole puts the
// caller, a handler may put the target.
type auditSlot struct {
	token  Token
	target string
}

type auditCtxKey struct{}

// noteAuditCaller records who is acting, for the audit entry.
func noteAuditCaller(ctx context.Context, tok Token) {
	if slot, ok := ctx.Value(auditCtxKey{}).(*auditSlot); ok {
		slot.token = tok
	}
}

// noteAuditTarget records what a handler acted on when the route's path
// does not say it, such as the id of a new alert.
func noteAuditTarget(ctx context.Context, target string) {
	if slot, ok := ctx.Value(auditCtxKey{}).(*auditSlot); ok {
		slot.target = target
	}
}

// audited reports whether r is an action worth recording: anything that
// changes state through the API or signs in or out of the console. Dry runs
// change nothing.
func audited(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	if r.URL.Query().Get("dry_run") == "true" {
		return false
	}
	return strings.HasPrefix(r.URL.Path, "/api/v1/") || r.URL.Path == "/editor/session"
}

// serveAudited serves r through the routes and records it in the audit log
// when it is an authenticated action.
func (s *Server) serveAudited(w http.ResponseWriter, r *http.Request) {
	if !audited(r) {
		s.mux.ServeHTTP(w, r)
		return
	}
	slot := &auditSlot{}
	r2 := r.WithContext(context.WithValue(r.Context(), auditCtxKey{}, slot))
	peek := &recorder{ResponseWriter: w, peek: auditBodyPeek}
	s.mux.ServeHTTP(peek, r2)
	r.Pattern = r2.Pattern
	if slot.token.ID == "" {
		return // not authenticated: an attempt, not an action
	}
	e := AuditEntry{
		At:        time.Now().UTC().Truncate(time.Millisecond),
		TokenID:   slot.token.ID,
		TokenName: slot.token.Name,
		Role:      slot.token.Role,
		Action:    r2.Pattern,
		Path:      r.URL.Path,
		Target:    slot.target,
		Status:    peek.status,
		RequestID: requestID(r.Context()),
	}
	if e.Status == 0 {
		e.Status = http.StatusOK
	}
	if e.Target == "" {
		e.Target = pathTarget(r2)
	}
	if e.Target == "" && e.Status < 300 {
		e.Target = createdID(peek.body.Bytes())
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*time.Second)
	defer cancel()
	if err := s.appendAudit(ctx, e); err != nil {
		logger(r.Context()).Error("audit entry lost", slog.String("error", err.Error()),
			slog.String("action", e.Action), slog.String("token", e.TokenName))
	}
}

// pathTarget joins the values of the route's wildcards, such as the id in
// /api/v1/alerts/{id}/retract.
func pathTarget(r *http.Request) string {
	var parts []string
	rest := r.Pattern
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			break
		}
		name := strings.TrimSuffix(rest[open+1:open+end], "...")
		rest = rest[open+end+1:]
		if name == "$" {
			continue
		}
		if v := r.PathValue(name); v != "" {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, "/")
}

// createdID reads a top-level "id" from a JSON response body.
func createdID(body []byte) string {
	var v struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	switch id := v.ID.(type) {
	case string:
		return id
	case float64:
		return strconv.FormatFloat(id, 'f', -1, 64)
	}
	return ""
}

func (s *Server) appendAudit(ctx context.Context, e AuditEntry) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode audit entry: %w", err)
	}
	err = s.cfg.Redis.XAdd(ctx, &redis.XAddArgs{
		Stream: keyAudit,
		MaxLen: auditKeep,
		Approx: true,
		Values: []any{"entry", body},
	}).Err()
	if err != nil {
		return fmt.Errorf("append audit entry: %w", err)
	}
	return nil
}

// auditPage returns up to limit entries older than before ("" for the
// newest), newest first, and the cursor of the next page.
func auditPage(ctx context.Context, rdb redis.UniversalClient, before string, limit int) ([]AuditEntry, string, error) {
	top := "+"
	if before != "" {
		top = "(" + before
	}
	msgs, err := rdb.XRevRangeN(ctx, keyAudit, top, "-", int64(limit)+1).Result()
	if err != nil {
		return nil, "", fmt.Errorf("read audit log: %w", err)
	}
	next := ""
	if len(msgs) > limit {
		msgs = msgs[:limit]
		next = msgs[limit-1].ID
	}
	out := make([]AuditEntry, 0, len(msgs))
	for _, m := range msgs {
		body, _ := m.Values["entry"].(string)
		var e AuditEntry
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			return nil, "", fmt.Errorf("decode audit entry %s: %w", m.ID, err)
		}
		e.ID = m.ID
		out = append(out, e)
	}
	return out, next, nil
}

// handleAuditList serves GET /api/v1/audit. Editors may read it as well as
// admins: the night desk must be able to answer "who sent that?" without
// waking an admin, and entries hold names, routes and ids, never secrets.
func handleAuditList(rdb redis.UniversalClient) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, before, err := pageParams(r, flashwire.ValidEventID)
		if err != nil {
			writeError(w, r, err)
			return
		}
		list, next, err := auditPage(r.Context(), rdb, before, limit)
		if err != nil {
			writeError(w, r, err)
			return
		}
		encode(w, http.StatusOK, map[string]any{"entries": list, "next": next})
	})
}
