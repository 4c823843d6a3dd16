package webhook

import (
	"errors"
	"net/http"

	"flashwire/notifier/outbound"
)

// newClient is the guarded outbound client with the sender's timeout and
// no redirect followed: a partner that moved says so with a 3xx, which is
// a failed attempt, never a post to wherever it points.
func newClient(opts Options) *http.Client {
	cfg := opts.Outbound
	cfg.Timeout = opts.Timeout
	cfg.Redirects = 0
	return outbound.NewClient(cfg)
}

// refusal words a call the outbound guard refused, for the attempt log and
// the partner's disabled reason: what kind of address or URL, never the
// address, the port or anything of a connection.
func refusal(err error) string {
	if why, ok := outbound.Refusal(err); ok {
		return why
	}
	for _, e := range []error{outbound.ErrCredentials, outbound.ErrInsecureURL} {
		if errors.Is(err, e) {
			return outbound.ErrRefusedAddress.Error() + ": " + e.Error()
		}
	}
	return outbound.ErrRefusedAddress.Error()
}
