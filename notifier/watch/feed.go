package watch

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/mmcdole/gofeed"
	"github.com/mmcdole/gofeed/atom"
	"github.com/mmcdole/gofeed/rss"

	"flashwire"
)

// maxFeedItems bounds how many items of one feed are looked at.
const maxFeedItems = 1000

// ParseFeed reads an RSS 2.0 (or RSS 1.0), Atom or JSON Feed document.
// format names what the source promised ("rss", "atom", "jsonfeed"); a
// document of another kind is an error, so a misconfigured source shows it.
func ParseFeed(data []byte, format string) ([]Story, error) {
	p := gofeed.NewParser()
	p.KeepOriginalFeed = true
	feed, err := parseFeedSafely(p, data)
	if err != nil {
		return nil, fmt.Errorf("%s feed: %w", formatName(format), err)
	}
	if got := gofeedFormat(feed.FeedType); format != "" && format != FormatAuto && got != format {
		return nil, fmt.Errorf("the source is set to %s but the document is %s", formatName(format), formatName(got))
	}
	var atomFeed *atom.Feed
	if f, ok := feed.OriginalFeed().(*atom.Feed); ok {
		atomFeed = f
	}
	var rssFeed *rss.Feed
	if f, ok := feed.OriginalFeed().(*rss.Feed); ok {
		rssFeed = f
	}
	items := feed.Items
	if len(items) > maxFeedItems {
		items = items[:maxFeedItems]
	}
	out := make([]Story, 0, len(items))
	for i, it := range items {
		if it == nil {
			continue
		}
		s := Story{
			ID:       strings.TrimSpace(it.GUID),
			Headline: plainText(it.Title),
			Summary:  plainText(it.Description),
			Terms:    append([]string(nil), it.Categories...),
			Language: feed.Language,
			Status:   StatusUsable,
		}
		if s.Summary == "" {
			s.Summary = plainText(it.Content)
		}
		// gofeed keeps an Atom category's label when it has one; the rule
		// also looks at the term.
		if atomFeed != nil && i < len(atomFeed.Entries) && atomFeed.Entries[i] != nil {
			for _, c := range atomFeed.Entries[i].Categories {
				if c != nil && c.Term != "" {
					s.Terms = append(s.Terms, c.Term)
				}
			}
		}
		switch {
		case it.PublishedParsed != nil:
			s.Published = it.PublishedParsed.UTC()
		case it.UpdatedParsed != nil:
			s.Published = it.UpdatedParsed.UTC()
		}
		if it.UpdatedParsed != nil && it.UpdatedParsed.After(s.Published) {
			s.Version = it.UpdatedParsed.UTC()
		}
		if it.Image != nil && flashwire.IsWebURL(it.Image.URL) {
			s.ImageURL = it.Image.URL
		} else {
			for _, e := range it.Enclosures {
				if e != nil && strings.HasPrefix(e.Type, "image/") && flashwire.IsWebURL(e.URL) {
					s.ImageURL = e.URL
					break
				}
			}
		}
		links := []string{it.Link}
		// An RSS guid that is a permalink (the default) is the item's page.
		if rssFeed != nil && i < len(rssFeed.Items) && rssFeed.Items[i] != nil {
			if g := rssFeed.Items[i].GUID; g != nil && !strings.EqualFold(g.IsPermalink, "false") {
				links = append(links, g.Value)
			}
		}
		s.URL, s.InternalLink = pickLink(links)
		if s.ID == "" {
			s.ID = s.URL
		}
		if s.ID == "" {
			s.ID = s.InternalLink
		}
		if s.ID == "" {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// parseFeedSafely turns a panic deep in a parser into an error: a feed is
// untrusted input and must never take the watcher down.
func parseFeedSafely(p *gofeed.Parser, data []byte) (feed *gofeed.Feed, err error) {
	defer func() {
		if r := recover(); r != nil {
			feed, err = nil, fmt.Errorf("unreadable document (%v)", r)
		}
	}()
	feed, err = p.Parse(bytes.NewReader(data))
	if err == gofeed.ErrFeedTypeNotDetected {
		err = ErrUnknownFormat
	}
	return feed, err
}

func gofeedFormat(feedType string) string {
	switch feedType {
	case "rss":
		return FormatRSS
	case "atom":
		return FormatAtom
	case "json":
		return FormatJSONFeed
	}
	return feedType
}

func formatName(format string) string {
	switch format {
	case FormatRSS:
		return "RSS"
	case FormatAtom:
		return "Atom"
	case FormatJSONFeed:
		return "JSON Feed"
	case FormatNinjs:
		return "ninjs"
	case "", FormatAuto:
		return "the"
	}
	return format
}

// versionTime is the time of this version of the story: when it was made,
// else when the story appeared. Zero when unknown.
func (s Story) versionTime() time.Time {
	if !s.Version.IsZero() {
		return s.Version
	}
	return s.Published
}

// effectiveTime is when a version counts as published for the age limit:
// its time, or the end of its embargo when later. Zero when unknown.
func (s Story) effectiveTime() time.Time {
	if t := s.versionTime(); !s.Embargo.After(t) {
		return t
	}
	return s.Embargo
}
