package watch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"flashwire"
)

// maxNinjsItems bounds how many items one ninjs document may hold.
const maxNinjsItems = 1000

// ParseNinjs reads IPTC ninjs: one item, a JSON array of items, or an object
// whose "items" array holds them. It takes the names of ninjs 1.x
// (headline, subject, description_text), 2.x (headlines, subjects,
// descriptions) and 3.0 (camelCase: pubStatus, versionCreated), and is
// lenient with what agencies really send: numbers as strings, dates without
// zones, nulls. Items without an identity (uri, guid or link) are skipped:
// they could not be pushed exactly once.
func ParseNinjs(data []byte) ([]Story, error) {
	data = bytes.TrimPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("\xef\xbb\xbf"))
	var raw json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("ninjs: %w", jsonProblem(err))
	}
	var items []json.RawMessage
	switch first := firstByte(raw); first {
	case '[':
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("ninjs: %w", jsonProblem(err))
		}
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, fmt.Errorf("ninjs: %w", jsonProblem(err))
		}
		if list, ok := obj["items"]; ok && firstByte(list) == '[' {
			if err := json.Unmarshal(list, &items); err != nil {
				return nil, fmt.Errorf("ninjs items: %w", jsonProblem(err))
			}
		} else {
			items = []json.RawMessage{raw}
		}
	default:
		return nil, errors.New("ninjs: the document is neither an item, an array of items nor an object with items")
	}
	if len(items) > maxNinjsItems {
		items = items[:maxNinjsItems]
	}
	out := make([]Story, 0, len(items))
	for _, it := range items {
		var obj map[string]json.RawMessage
		if firstByte(it) != '{' || json.Unmarshal(it, &obj) != nil {
			continue
		}
		if s, ok := ninjsStory(ninjsItem(obj)); ok {
			out = append(out, s)
		}
	}
	return out, nil
}

func firstByte(raw []byte) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

// jsonProblem words a JSON error for an editor.
func jsonProblem(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("not valid JSON at byte %d", syn.Offset)
	}
	return fmt.Errorf("not valid JSON: %v", err)
}

// ninjsItem is one ninjs object with its keys in lower case, so that 1.x
// "versioncreated" and 3.0 "versionCreated" read alike.
type ninjsItem map[string]json.RawMessage

func (it ninjsItem) get(names ...string) json.RawMessage {
	for _, n := range names {
		if v, ok := it[n]; ok && len(v) > 0 && string(v) != "null" {
			return v
		}
	}
	// Agencies' capitalisation varies: fall back to a case-blind look.
	for k, v := range it {
		for _, n := range names {
			if strings.EqualFold(k, n) && len(v) > 0 && string(v) != "null" {
				return v
			}
		}
	}
	return nil
}

// str reads a string field; numbers are taken as their text.
func (it ninjsItem) str(names ...string) string {
	raw := it.get(names...)
	if raw == nil {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// objects reads a field holding an array of objects, or one object.
func (it ninjsItem) objects(names ...string) []ninjsItem {
	raw := it.get(names...)
	if raw == nil {
		return nil
	}
	var list []json.RawMessage
	if firstByte(raw) == '{' {
		list = []json.RawMessage{raw}
	} else if json.Unmarshal(raw, &list) != nil {
		return nil
	}
	out := make([]ninjsItem, 0, len(list))
	for _, el := range list {
		var obj map[string]json.RawMessage
		if firstByte(el) == '{' && json.Unmarshal(el, &obj) == nil {
			out = append(out, ninjsItem(obj))
		}
	}
	return out
}

// strings reads a field holding an array of strings, or one string.
func (it ninjsItem) strings(names ...string) []string {
	raw := it.get(names...)
	if raw == nil {
		return nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	if s := it.str(names...); s != "" {
		return []string{s}
	}
	return nil
}

// text picks the value of the entry with one of the preferred roles, else
// the first entry, from a 2.x/3.0 list such as headlines or descriptions.
func text(entries []ninjsItem, roles ...string) string {
	for _, role := range roles {
		for _, e := range entries {
			if strings.EqualFold(e.str("role"), role) {
				if v := e.str("value"); v != "" {
					return v
				}
			}
		}
	}
	for _, e := range entries {
		if v := e.str("value"); v != "" {
			return v
		}
	}
	return ""
}

func ninjsStory(it ninjsItem) (Story, bool) {
	s := Story{
		ID:       it.str("uri", "guid", "id"),
		Language: it.str("language"),
		Status:   strings.ToLower(it.str("pubstatus", "pubStatus")),
	}
	s.Headline = it.str("headline")
	if s.Headline == "" {
		s.Headline = text(it.objects("headlines"), "main", "")
	}
	s.Headline = plainText(s.Headline)
	summary := it.str("description_text", "description_usage")
	if summary == "" {
		summary = text(it.objects("descriptions"), "summary", "text", "description")
	}
	if summary == "" {
		summary = it.str("description_html", "body_text", "body_html")
	}
	if summary == "" {
		summary = text(it.objects("bodies"), "text", "html")
	}
	s.Summary = plainText(summary)
	if u := it.str("urgency"); u != "" {
		if n, err := strconv.ParseFloat(u, 64); err == nil && n >= 1 && n <= 9 {
			s.Urgency = int(n)
		}
	}
	if s.Status == "" {
		s.Status = StatusUsable
	}
	if t, err := parseTime(it.str("embargoed", "embargoedUntil", "embargoeduntil")); err == nil {
		s.Embargo = t
	}
	for _, name := range [][]string{{"firstcreated", "firstCreated"}, {"versioncreated", "versionCreated"}, {"contentcreated", "contentCreated"}} {
		if t, err := parseTime(it.str(name...)); err == nil {
			s.Published = t
			break
		}
	}
	if t, err := parseTime(it.str("versioncreated", "versionCreated")); err == nil {
		s.Version = t
	}
	s.Slug = it.str("slugline")
	for _, field := range []string{"subject", "subjects", "genre", "genres", "keywords", "places", "place"} {
		for _, o := range it.objects(field) {
			for _, k := range []string{"name", "code", "literal", "uri"} {
				if v := o.str(k); v != "" {
					s.Terms = append(s.Terms, v)
				}
			}
		}
		for _, v := range it.strings(field) {
			if v = strings.TrimSpace(v); v != "" {
				s.Terms = append(s.Terms, v)
			}
		}
	}
	s.URL, s.InternalLink = pickLink(ninjsLinks(it))
	if s.ID == "" {
		s.ID = s.URL
	}
	if s.ID == "" {
		s.ID = s.InternalLink
	}
	s.ImageURL = ninjsImage(it)
	return s, s.ID != ""
}

// ninjsLinks lists an item's web links, the likeliest reader-facing first:
// links whose rel names the item's web page (canonical, alternate, web or
// none), then HTML renditions, then any other link (often "self", the
// agency's API address). The uri is not among them: in ninjs it is an
// identifier, even when it is an http(s) address.
func ninjsLinks(it ninjsItem) []string {
	var web, html, other []string
	for _, l := range it.objects("links") {
		href := l.str("href")
		rel := strings.ToLower(l.str("rel"))
		switch {
		case rel == "" || rel == "canonical" || rel == "alternate" || rel == "web" || strings.HasSuffix(rel, "/canonical") || strings.HasSuffix(rel, ":canonical"):
			web = append(web, href)
		case strings.Contains(strings.ToLower(l.str("contenttype", "mimetype")), "html"):
			html = append(html, href)
		default:
			other = append(other, href)
		}
	}
	for _, r := range renditions(it) {
		if strings.Contains(strings.ToLower(r.str("contenttype", "mimetype")), "html") {
			html = append(html, r.str("href"))
		}
	}
	return append(append(web, html...), other...)
}

// ninjsImage finds a picture among the item's associations' renditions.
func ninjsImage(it ninjsItem) string {
	var assoc []ninjsItem
	if raw := it.get("associations"); raw != nil && firstByte(raw) == '{' {
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) == nil {
			for _, v := range m {
				var obj map[string]json.RawMessage
				if firstByte(v) == '{' && json.Unmarshal(v, &obj) == nil {
					assoc = append(assoc, ninjsItem(obj))
				}
			}
		}
	} else {
		assoc = it.objects("associations")
	}
	for _, a := range assoc {
		if t := a.str("type"); t != "" && t != "picture" && t != "image" {
			continue
		}
		for _, r := range renditions(a) {
			if href := r.str("href"); flashwire.IsWebURL(href) {
				return href
			}
		}
	}
	return ""
}

// renditions reads 1.x renditions (an object keyed by name) or 2.x ones (an
// array).
func renditions(it ninjsItem) []ninjsItem {
	raw := it.get("renditions")
	if raw == nil {
		return nil
	}
	if firstByte(raw) == '{' {
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return nil
		}
		var out []ninjsItem
		for _, v := range m {
			var obj map[string]json.RawMessage
			if firstByte(v) == '{' && json.Unmarshal(v, &obj) == nil {
				out = append(out, ninjsItem(obj))
			}
		}
		return out
	}
	return it.objects("renditions")
}
