package httpx

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/accord-iam/accord/internal/connector"
)

// Helpers for paged answers, shared by the REST connector's listings
// and the HR API pull sources.

// SameOrigin resolves a next-page link against the request that r
// answers and refuses one on another host: following it would hand the
// credentials to whoever the answer names. An API key the server echoes
// in the link (keyQuery) is dropped: the auth adds it again, and the
// link may be kept as a cursor.
func (r *Response) SameOrigin(link, keyQuery string) (string, error) {
	base, err := url.Parse(r.URL)
	if err != nil {
		return "", connector.Errorf(connector.Unknown, "cannot resolve next page %q", link)
	}
	u, err := base.Parse(link)
	if err != nil {
		return "", connector.Errorf(connector.Unknown, "next page %q is not a URL: %v", link, err)
	}
	if u.Scheme != base.Scheme || u.Host != base.Host {
		return "", connector.Errorf(connector.Validation, "the next page is on another host (%s://%s); not following it", u.Scheme, u.Host)
	}
	if keyQuery != "" && u.Query().Has(keyQuery) {
		q := u.Query()
		q.Del(keyQuery)
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// NextLink finds the rel="next" target of Link headers (RFC 8288).
func NextLink(h http.Header) string {
	for _, line := range h.Values("Link") {
		for _, lv := range splitLinks(line) {
			target, params, ok := strings.Cut(lv, ">")
			target = strings.TrimSpace(target)
			if !ok || !strings.HasPrefix(target, "<") {
				continue
			}
			for _, p := range strings.Split(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if !strings.EqualFold(strings.TrimSpace(k), "rel") {
					continue
				}
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)) {
					if strings.EqualFold(rel, "next") {
						return target[1:]
					}
				}
			}
		}
	}
	return ""
}

// splitLinks splits a Link header at the commas between link-values,
// not those inside <…> or quotes.
func splitLinks(s string) []string {
	var out []string
	inURL, inQuote, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"' && !inURL:
			inQuote = !inQuote
		case c == '<' && !inQuote:
			inURL = true
		case c == '>' && !inQuote:
			inURL = false
		case c == ',' && !inURL && !inQuote:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
