package pushtest

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Subscription is what a browser's PushSubscription holds: the endpoint
// and the keys, base64url.
type Subscription struct {
	Endpoint string
	P256dh   string
	Auth     string
}

// Message is one push the service received.
type Message struct {
	Endpoint string
	Header   http.Header
	// Body is the encrypted body; Plain what Decrypt made of it.
	Body  []byte
	Plain []byte
	// Err says what was wrong: a message that does not decrypt, or whose
	// VAPID header does not verify.
	Err error
	// Status is what the service answered.
	Status int
	At     time.Time
}

// Answer chooses the status and headers of the answer to the n-th push
// (from 1) to an endpoint.
type Answer func(endpoint string, n int) (status int, header http.Header)

// Server is the stand-in push service.
type Server struct {
	*httptest.Server
	// VAPIDKey is the sender's public key every push must be signed with
	// (base64url); empty accepts any valid signature.
	VAPIDKey string
	// Decrypt, when false, skips decryption and VAPID checks and keeps no
	// messages, only their count: for benchmarks, where the stand-in must
	// not be the bottleneck.
	Decrypt bool

	mu sync.Mutex
	// keys, answer, hits, msgs and cut are guarded by mu.
	keys   map[string]subKeys
	answer Answer
	hits   map[string]int
	msgs   []Message
	cut    map[string]int
	// hold, when not nil, holds every request after the first holdAfter
	// until it is closed or the sender goes away (cut counts those); held
	// counts the requests held now, total every request.
	hold      chan struct{}
	holdAfter int
	held      int
	total     int
	answered  int
}

type subKeys struct {
	private *ecdh.PrivateKey
	auth    []byte
}

// Start runs a stand-in push service over https on loopback.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{Decrypt: true, keys: map[string]subKeys{}, hits: map[string]int{}, cut: map[string]int{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.EnableHTTP2 = true
	s.StartTLS()
	tb.Cleanup(s.Close)
	return s
}

// CertPool trusts the service's test certificate, for the sender's client.
func (s *Server) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return pool
}

// CertFile writes the test certificate as PEM into a temporary file, for a
// process under test to trust (SSL_CERT_FILE).
func (s *Server) CertFile(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "pushtest.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// Subscribe makes a new subscription, as a browser would, whose messages
// the service can decrypt.
func (s *Server) Subscribe(tb testing.TB) Subscription {
	tb.Helper()
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	endpoint := s.URL + "/push/" + base64.RawURLEncoding.EncodeToString(id)
	s.mu.Lock()
	s.keys[endpoint] = subKeys{private: key, auth: auth}
	s.mu.Unlock()
	enc := base64.RawURLEncoding
	return Subscription{Endpoint: endpoint, P256dh: enc.EncodeToString(key.PublicKey().Bytes()), Auth: enc.EncodeToString(auth)}
}

// Keys returns a subscription's private key and authentication secret,
// for a second, independent decryption.
func (s *Server) Keys(endpoint string) (*ecdh.PrivateKey, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[endpoint]
	return k.private, k.auth
}

// SetAnswer sets how the service answers; nil answers 201 Created.
func (s *Server) SetAnswer(a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = a
}

// HoldAfter makes the service answer the first n requests (from now on)
// and hold every later one until Release.
func (s *Server) HoldAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold, s.holdAfter = make(chan struct{}), s.total+n
}

// Held returns how many requests are held now.
func (s *Server) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// Release answers the held requests and stops holding.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold != nil {
		close(s.hold)
		s.hold = nil
	}
}

// Messages returns copies of the pushes received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Answered returns how many pushes the service has answered.
func (s *Server) Answered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.answered
}

// Cut returns how many requests to each endpoint the sender abandoned
// (it went away) while they were held.
func (s *Server) Cut() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.cut {
		out[k] = v
	}
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	endpoint := s.URL + r.URL.Path
	m := Message{Endpoint: endpoint, Header: r.Header.Clone(), Body: body, At: time.Now()}
	s.mu.Lock()
	keys, known := s.keys[endpoint]
	s.total++
	hold, decrypt := s.hold, s.Decrypt
	if hold != nil && s.total <= s.holdAfter {
		hold = nil
	}
	if hold != nil {
		s.held++
	}
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
		}
		s.mu.Lock()
		s.held--
		if r.Context().Err() != nil {
			s.cut[endpoint]++
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
	switch {
	case r.Method != http.MethodPost:
		m.Err = fmt.Errorf("method %s, want POST", r.Method)
	case !known:
		m.Err = errors.New("unknown endpoint")
	case decrypt:
		m.Err = s.check(r, endpoint)
		if m.Err == nil {
			m.Plain, m.Err = Decrypt(body, keys.private, keys.auth)
		}
	}
	s.mu.Lock()
	s.hits[endpoint]++
	n, answer := s.hits[endpoint], s.answer
	s.mu.Unlock()
	status, header := http.StatusCreated, http.Header(nil)
	if answer != nil {
		status, header = answer(endpoint, n)
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	m.Status = status
	s.mu.Lock()
	s.answered++
	if decrypt {
		s.msgs = append(s.msgs, m)
	}
	s.mu.Unlock()
	w.WriteHeader(status)
}

// check verifies the headers RFC 8030 and RFC 8291 require and the VAPID
// Authorization (RFC 8292): "vapid t=JWT, k=KEY" whose JWT is ES256-signed
// by KEY, names the endpoint's origin as audience, expires within 24 hours
// and gives a contact.
func (s *Server) check(r *http.Request, endpoint string) error {
	if ce := r.Header.Get("Content-Encoding"); ce != "aes128gcm" {
		return fmt.Errorf("Content-Encoding %q, want aes128gcm", ce)
	}
	if ttl, err := strconv.Atoi(r.Header.Get("TTL")); err != nil || ttl < 0 {
		return fmt.Errorf("TTL %q is not a number of seconds", r.Header.Get("TTL"))
	}
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "vapid ")
	if !ok {
		return errors.New("no vapid Authorization")
	}
	var token, key string
	for _, part := range strings.Split(auth, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			token = v
		case "k":
			key = v
		}
	}
	if s.VAPIDKey != "" && key != s.VAPIDKey {
		return fmt.Errorf("vapid key %q, want the sender's %q", key, s.VAPIDKey)
	}
	return verifyJWT(token, key, endpoint, time.Now())
}

func verifyJWT(token, key, endpoint string, now time.Time) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("vapid token is not a JWT")
	}
	dec := base64.RawURLEncoding
	var head struct{ Alg, Typ string }
	var claims struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}
	hb, err1 := dec.DecodeString(parts[0])
	cb, err2 := dec.DecodeString(parts[1])
	sig, err3 := dec.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("vapid token: %w", err)
	}
	if json.Unmarshal(hb, &head) != nil || head.Alg != "ES256" {
		return fmt.Errorf("vapid token header %s, want alg ES256", hb)
	}
	if json.Unmarshal(cb, &claims) != nil {
		return fmt.Errorf("vapid claims %s do not decode", cb)
	}
	origin := endpoint[:strings.Index(endpoint, "/push/")]
	if claims.Aud != origin {
		return fmt.Errorf("vapid aud %q, want the endpoint's origin %q", claims.Aud, origin)
	}
	if exp := time.Unix(claims.Exp, 0); !exp.After(now) || exp.After(now.Add(24*time.Hour)) {
		return fmt.Errorf("vapid exp %v is not within 24 hours of now", exp)
	}
	if !strings.HasPrefix(claims.Sub, "mailto:") && !strings.HasPrefix(claims.Sub, "https:") {
		return fmt.Errorf("vapid sub %q is not a mailto: or https: contact", claims.Sub)
	}
	raw, err := dec.DecodeString(key)
	if err != nil {
		return fmt.Errorf("vapid k: %w", err)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return fmt.Errorf("vapid k: %w", err)
	}
	if len(sig) != 64 {
		return fmt.Errorf("ES256 signature of %d bytes, want 64", len(sig))
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return errors.New("vapid signature does not verify with k")
	}
	return nil
}

// B64 is base64url without padding, as Web Push writes keys.
func B64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
