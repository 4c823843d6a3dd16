package watch

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"flashwire"
)

// pickLink returns the first of candidates (in the order of preference) that
// is a public web link, and the first web link that looks internal or like
// an API address (internalLink), which is never shown to readers.
func pickLink(candidates []string) (public, internal string) {
	for _, c := range candidates {
		c = strings.TrimSpace(c)
		if !flashwire.IsWebURL(c) {
			continue
		}
		if internalLink(c) != "" {
			if internal == "" {
				internal = c
			}
			continue
		}
		if public == "" {
			public = c
		}
	}
	return public, internal
}

// secretParams are query parameters that give a link away as an API call
// (compared without regard to case, and as the end of a longer name such as
// "access_token").
var secretParams = []string{"token", "key", "apikey", "api_key", "secret", "signature", "sig", "auth", "password", "session", "credential", "credentials"}

// internalLink says why a web link is no address for readers (an access
// token in its query, credentials, an internal host, an API path), or ""
// when it looks public.
func internalLink(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "it cannot be read"
	}
	if u.User != nil {
		return "it carries credentials"
	}
	for name := range u.Query() {
		n := strings.ToLower(name)
		for _, p := range secretParams {
			if n == p || strings.HasSuffix(n, "_"+p) || strings.HasSuffix(n, "-"+p) {
				return fmt.Sprintf("its query carries %q", name)
			}
		}
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if ip := net.ParseIP(host); ip != nil {
		return "its host is an IP address"
	}
	if !strings.Contains(host, ".") || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return "its host is not a public name"
	}
	for _, suffix := range []string{".local", ".internal", ".intranet", ".corp", ".lan", ".home.arpa"} {
		if strings.HasSuffix(host, suffix) {
			return "its host is an internal name"
		}
	}
	if strings.HasPrefix(host, "api.") || strings.HasPrefix(host, "api-") {
		return "its host is an API's"
	}
	path := strings.ToLower(u.Path)
	if strings.HasPrefix(path, "/api/") || path == "/api" || strings.Contains(path, "/api/v") {
		return "its path is an API's"
	}
	return ""
}

// The placeholders of a source's link_template.
var placeholder = regexp.MustCompile(`\{([^{}]*)\}`)

// templateValues are the values a story gives a link template, unescaped:
// {guid} and {uri} the item's identity (guid, ninjs uri or link), {id} the
// identity's last part (a URN's last segment, a URL's last path segment, a
// bare id itself), {slug} the ninjs slugline or else the headline made a
// slug.
func templateValues(s Story) map[string]string {
	return map[string]string{
		"guid": s.ID,
		"uri":  s.ID,
		"id":   lastPart(s.ID),
		"slug": slugOf(s),
	}
}

// lastPart is the last segment of a URN or URL, or id itself.
func lastPart(id string) string {
	if u, err := url.Parse(id); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		p := strings.TrimRight(u.Path, "/")
		if i := strings.LastIndexByte(p, '/'); i >= 0 && i < len(p)-1 {
			return p[i+1:]
		}
		return id
	}
	if i := strings.LastIndexByte(id, ':'); i >= 0 && i < len(id)-1 {
		return id[i+1:]
	}
	return id
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// slugOf is the story's slugline, else its headline in lower-case letters,
// digits and hyphens.
func slugOf(s Story) string {
	v := s.Slug
	if v == "" {
		v = s.Headline
	}
	return clip(strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(v), "-"), "-"), 80)
}

// expandLink fills tmpl's placeholders with s's values, each escaped so it
// stays one part of the link wherever it sits (path or query).
func expandLink(tmpl string, s Story) string {
	vals := templateValues(s)
	return placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		v := vals[strings.ToLower(m[1:len(m)-1])]
		return strings.ReplaceAll(url.QueryEscape(v), "+", "%20")
	})
}

// usesIdentity reports whether tmpl puts the item's whole identity in the
// link ({guid} or {uri}).
func usesIdentity(tmpl string) bool {
	for _, m := range placeholder.FindAllStringSubmatch(tmpl, -1) {
		if p := strings.ToLower(m[1]); p == "guid" || p == "uri" {
			return true
		}
	}
	return false
}

// checkLinkTemplate says what is wrong with a source's link template, or ""
// when it is good: an http(s) link to a public host with at least one known
// placeholder and no unknown one.
func checkLinkTemplate(tmpl string) string {
	ms := placeholder.FindAllStringSubmatch(tmpl, -1)
	if len(ms) == 0 {
		return "has no placeholder; use {guid}, {uri}, {id} or {slug}"
	}
	known := templateValues(Story{})
	for _, m := range ms {
		if _, ok := known[strings.ToLower(m[1])]; !ok {
			return fmt.Sprintf("has the unknown placeholder {%s}; use {guid}, {uri}, {id} or {slug}", m[1])
		}
	}
	if strings.ContainsAny(placeholder.ReplaceAllString(tmpl, ""), "{}") {
		return "has an unmatched brace"
	}
	// A feed's values fill the path and the query, never the host: with
	// "https://news.example.com{id}", an item whose id is ".attacker.net"
	// would send readers to another site.
	if _, rest, ok := strings.Cut(tmpl, "://"); !ok || strings.IndexAny(rest, "/?#") < 0 || strings.IndexAny(rest, "/?#") > strings.IndexByte(rest, '{') {
		return "puts a placeholder in the host; placeholders go after it, in the path or query, such as https://news.example.com/story/{id}"
	}
	sample := expandLink(tmpl, Story{ID: "urn:newsml:example.com:20260101:sample-1", Headline: "Sample"})
	if problem := flashwire.CheckWebURL(sample); problem != "" {
		return problem
	}
	if problem := internalLink(sample); problem != "" {
		return fmt.Sprintf("does not make a public link: %s", problem)
	}
	return ""
}

// readerLink is the link a story's alert carries: the source's template
// when it has one, else the item's own public web link. Without one,
// problem says why, for the held queue.
func readerLink(src Source, s Story) (link, problem string) {
	if src.LinkTemplate != "" {
		if flashwire.IsWebURL(s.ID) && internalLink(s.ID) != "" && usesIdentity(src.LinkTemplate) {
			return "", "no public link: the item's identity is an API or internal address, which the source's link_template would carry to readers; use {id} or {slug} there, or edit the link"
		}
		link := expandLink(src.LinkTemplate, s)
		// Templates saved before the host rule was checked: the link must
		// stay on the template's host whatever the item's values.
		if hostOf(link) != hostOf(src.LinkTemplate) {
			return "", "no public link: the source's link_template would put the item's values in the link's host; move its placeholders after the host, or edit the link"
		}
		return link, ""
	}
	if s.URL != "" {
		return s.URL, ""
	}
	if s.InternalLink != "" {
		host := s.InternalLink
		if u, err := url.Parse(s.InternalLink); err == nil {
			host = u.Host
		}
		return "", fmt.Sprintf("no public link: the item's link (on %s) looks like an API or internal address (%s); set the source's link_template or edit the link", host, internalLink(s.InternalLink))
	}
	return "", "no public link: the item has no http or https web link (its identity, such as a ninjs uri or a guid, is an identifier, not a link); set the source's link_template or edit the link"
}

// hostOf is the host of a link or link template, up to the first "/", "?"
// or "#" after the scheme, lower-case.
func hostOf(link string) string {
	_, rest, _ := strings.Cut(link, "://")
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return strings.ToLower(rest)
}
