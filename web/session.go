package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"flashwire"
)

// Console sessions: signing in to /editor with a token gives an HttpOnly,
// SameSite=Strict cookie whose value maps, in Redis and hashed, to the
// token's id. The token is checked again on every request, so revoking it
// ends its sessions at once. Requests that change state with the cookie
// must also carry the session's CSRF token in X-CSRF-Token and, when the
// browser sends one, a same-origin Origin.
//
//	flashwire:v1:{sessions}:SHA256(SESSION)  JSON session, expires with it
const (
	keySession    = "flashwire:v1:{sessions}:"
	sessionCookie = "flashwire_session"
	sessionTTL    = 12 * time.Hour
	csrfHeader    = "X-CSRF-Token"
)

var errCSRF = flashwire.NewError(flashwire.ErrForbidden, "a signed-in console request that changes something needs the X-CSRF-Token header and a same-origin Origin")

// session is what a console sign-in keeps.
type session struct {
	TokenID   string    `json:"token_id"`
	TokenHash string    `json:"token_hash"`
	CSRF      string    `json:"csrf"`
	CreatedAt time.Time `json:"created_at"`
}

// sessionInfo is what the console learns about its session.
type sessionInfo struct {
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	CSRFToken string    `json:"csrf_token"`
	ExpiresAt time.Time `json:"expires_at"`
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return keySession + hex.EncodeToString(sum[:])
}

// authenticate returns the token behind r: a bearer token, or else the
// console session cookie (with the CSRF checks for requests that change
// state).
func (s *Server) authenticate(r *http.Request) (Token, error) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		secret, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			return Token{}, errUnauthorized
		}
		return s.cfg.Tokens.Authenticate(r.Context(), strings.TrimSpace(secret))
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return Token{}, errUnauthorized
	}
	tok, sess, err := s.sessionToken(r.Context(), c.Value)
	if err != nil {
		return Token{}, err
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		got := r.Header.Get(csrfHeader)
		if subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) != 1 || !s.sameOrigin(r) {
			return Token{}, errCSRF
		}
	}
	return tok, nil
}

// sameOrigin accepts a request without Origin (browsers send one on every
// cross-site POST) or with the service's own origin.
func (s *Server) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	if pub, err := url.Parse(s.cfg.PublicURL); err == nil && s.cfg.PublicURL != "" {
		return strings.EqualFold(u.Scheme+"://"+u.Host, pub.Scheme+"://"+pub.Host)
	}
	return false
}

// sessionToken loads a session and its token, which must still exist.
func (s *Server) sessionToken(ctx context.Context, id string) (Token, session, error) {
	if len(id) > 100 {
		return Token{}, session{}, errUnauthorized
	}
	body, err := s.cfg.Redis.Get(ctx, sessionKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Token{}, session{}, errUnauthorized
	}
	if err != nil {
		return Token{}, session{}, fmt.Errorf("load session: %w", err)
	}
	var sess session
	if err := json.Unmarshal(body, &sess); err != nil {
		return Token{}, session{}, fmt.Errorf("decode session: %w", err)
	}
	tok, err := s.cfg.Tokens.byID(ctx, sess.TokenID)
	if err != nil {
		return Token{}, session{}, err
	}
	if subtle.ConstantTimeCompare([]byte(tok.Hash), []byte(sess.TokenHash)) != 1 {
		return Token{}, session{}, errUnauthorized
	}
	return tok, sess, nil
}

// byID returns a token that still exists, with its hash, or
// errUnauthorized.
func (t *Tokens) byID(ctx context.Context, id string) (Token, error) {
	if id == bootstrapID {
		if t.bootstrap == nil {
			return Token{}, errUnauthorized
		}
		return Token{ID: bootstrapID, Name: bootstrapID, Role: RoleAdmin, Hash: hex.EncodeToString(t.bootstrap)}, nil
	}
	body, err := t.rdb.HGet(ctx, keyTokens, id).Result()
	if errors.Is(err, redis.Nil) {
		return Token{}, errUnauthorized
	}
	if err != nil {
		return Token{}, fmt.Errorf("load token %s: %w", id, err)
	}
	return decodeToken(id, body)
}

func (s *Server) secureCookies(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.cfg.PublicURL, "https://") || r.Header.Get("X-Forwarded-Proto") == "https"
}

// handleSessionCreate signs in to the console: the body {"token": SECRET}
// becomes a session cookie. The answer carries the CSRF token the console
// must send back.
func (s *Server) handleSessionCreate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.sameOrigin(r) {
			writeError(w, r, errCSRF)
			return
		}
		var req struct {
			Token string `json:"token"`
		}
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
		secret := strings.TrimSpace(req.Token)
		if secret == "" {
			writeError(w, r, flashwire.Invalid("token", "is required"))
			return
		}
		ctx := r.Context()
		tok, err := s.cfg.Tokens.Authenticate(ctx, secret)
		if err != nil {
			writeError(w, r, err)
			return
		}
		noteAuditCaller(ctx, tok)
		id := randomString(32)
		sess := session{TokenID: tok.ID, TokenHash: tok.Hash, CSRF: randomString(24), CreatedAt: time.Now().UTC()}
		if tok.ID == bootstrapID {
			sess.TokenHash = hex.EncodeToString(s.cfg.Tokens.bootstrap)
		}
		body, _ := json.Marshal(sess)
		if err := s.cfg.Redis.Set(ctx, sessionKey(id), body, sessionTTL).Err(); err != nil {
			writeError(w, r, fmt.Errorf("store session: %w", err))
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name:     sessionCookie,
			Value:    id,
			Path:     "/",
			MaxAge:   int(sessionTTL / time.Second),
			HttpOnly: true,
			Secure:   s.secureCookies(r),
			SameSite: http.SameSiteStrictMode,
		})
		logger(ctx).Info("console sign-in", "token_id", tok.ID, "name", tok.Name)
		encode(w, http.StatusCreated, sessionInfo{Name: tok.Name, Role: tok.Role, CSRFToken: sess.CSRF, ExpiresAt: sess.CreatedAt.Add(sessionTTL)})
	})
}

// handleSessionGet tells a reloaded console who is signed in and its CSRF
// token.
func (s *Server) handleSessionGet() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		if err != nil {
			writeError(w, r, errUnauthorized)
			return
		}
		tok, sess, err := s.sessionToken(r.Context(), c.Value)
		if err != nil {
			writeError(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		encode(w, http.StatusOK, sessionInfo{Name: tok.Name, Role: tok.Role, CSRFToken: sess.CSRF, ExpiresAt: sess.CreatedAt.Add(sessionTTL)})
	})
}

// handleSessionDelete signs out: the session is deleted and the cookie
// cleared.
func (s *Server) handleSessionDelete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		if err != nil {
			writeError(w, r, errUnauthorized)
			return
		}
		ctx := r.Context()
		tok, sess, err := s.sessionToken(ctx, c.Value)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(sess.CSRF)) != 1 || !s.sameOrigin(r) {
			writeError(w, r, errCSRF)
			return
		}
		noteAuditCaller(ctx, tok)
		if err := s.cfg.Redis.Del(ctx, sessionKey(c.Value)).Err(); err != nil {
			writeError(w, r, fmt.Errorf("delete session: %w", err))
			return
		}
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
			Secure: s.secureCookies(r), SameSite: http.SameSiteStrictMode})
		w.WriteHeader(http.StatusNoContent)
	})
}

// handleEditorPage serves the editor console.
func handleEditorPage() http.Handler {
	return servePage("editor.html")
}
