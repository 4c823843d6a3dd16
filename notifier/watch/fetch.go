package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"flashwire/notifier/outbound"
)

// DefaultMaxBytes is the largest feed read: 5 MiB.
const DefaultMaxBytes = 5 << 20

// fetched is one answer of a feed server.
type fetched struct {
	body         []byte
	etag         string
	lastModified string
	notModified  bool
}

// fetch GETs a source's feed, conditionally on what the last fetch saw.
// The transport asks for gzip and inflates it; the size cap applies to
// the inflated body, so a small bomb cannot blow up memory. Its errors are
// worded for the editor who reads them on the source.
func (w *Watcher) fetch(ctx context.Context, src Source, st State) (fetched, error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.URL, nil)
	if err != nil {
		return fetched{}, fmt.Errorf("the source URL cannot be fetched: %w", err)
	}
	req.Header.Set("User-Agent", "Flashwire/"+w.cfg.Version+" (breaking-news feed watcher)")
	req.Header.Set("Accept", acceptFor(src.Format))
	if st.etag != "" {
		req.Header.Set("If-None-Match", st.etag)
	}
	if st.lastModified != "" {
		req.Header.Set("If-Modified-Since", st.lastModified)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return fetched{}, w.plainFetchError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return fetched{notModified: true}, nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return fetched{}, fmt.Errorf("the feed server answered %s", resp.Status)
	}
	limit := w.cfg.MaxBytes
	if resp.ContentLength > limit {
		return fetched{}, tooLarge(limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fetched{}, w.plainFetchError(err)
	}
	if int64(len(body)) > limit {
		return fetched{}, tooLarge(limit)
	}
	return fetched{
		body:         body,
		etag:         resp.Header.Get("ETag"),
		lastModified: resp.Header.Get("Last-Modified"),
	}, nil
}

func tooLarge(limit int64) error {
	return fmt.Errorf("the feed is larger than %s; Flashwire reads at most %s of a feed", sizeName(limit), sizeName(limit))
}

func sizeName(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func acceptFor(format string) string {
	switch format {
	case FormatRSS:
		return "application/rss+xml, application/xml;q=0.9, */*;q=0.1"
	case FormatAtom:
		return "application/atom+xml, application/xml;q=0.9, */*;q=0.1"
	case FormatJSONFeed:
		return "application/feed+json, application/json;q=0.9, */*;q=0.1"
	case FormatNinjs:
		return "application/ninjs+json, application/json;q=0.9, */*;q=0.1"
	}
	return "application/rss+xml, application/atom+xml, application/feed+json, application/json, application/xml;q=0.9, */*;q=0.1"
}

// plainFetchError words a transport error for an editor. A refusal by the
// outbound guard is worded alone, checked first: whatever else the error
// carries (an address, a port, a connection detail) would tell whoever
// reads last_error about the inside of the network.
func (w *Watcher) plainFetchError(err error) error {
	var netErr net.Error
	var dnsErr *net.DNSError
	if why, ok := outbound.Refusal(err); ok {
		return fmt.Errorf("%s: Flashwire fetches no feed on an internal address", why)
	}
	switch {
	case errors.Is(err, outbound.ErrCredentials):
		return errors.New("the source URL, or a redirect from it, carries a user name or password, which Flashwire never sends")
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return fmt.Errorf("the feed server did not answer within %s", w.cfg.FetchTimeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return errors.New("the feed server refused the connection")
	case errors.As(err, &dnsErr):
		return fmt.Errorf("the feed's host name %q does not resolve", dnsErr.Name)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("the feed server closed the connection in the middle of the feed")
	}
	return fmt.Errorf("the feed cannot be fetched: %w", err)
}

// newClient is the watcher's HTTP client: the guarded outbound client, so
// a feed on an internal address, or a name or redirect leading to one, is
// never fetched; bounded time; at most 3 redirects, each checked.
func newClient(cfg outbound.Config, timeout time.Duration) *http.Client {
	cfg.Timeout = timeout
	cfg.Redirects = outbound.MaxRedirects
	cfg.IdlePerHost = 2
	return outbound.NewClient(cfg)
}
