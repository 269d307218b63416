package reqtmpl

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/accord-iam/accord/internal/tmpl"
)

// URL is a URL template: a path, optionally after a literal scheme and
// host, and optionally a query. Holes in the path are escaped as path
// segments (`a/b` -> `a%2Fb`); holes in the query as query values
// (`x&y=1` -> `x%26y%3D1`).
type URL struct {
	src   string
	path  *tmpl.Template
	query *tmpl.Template // nil without a query
}

// ParseURL compiles src against env. The scheme and host, if given, are
// literal: a value can never choose where a request goes. A fragment is
// refused: it is not sent, so it can only hide part of the template.
func ParseURL(src string, env Env) (*URL, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty URL")
	}
	pieces, err := tmpl.Split(src)
	if err != nil {
		return nil, err
	}
	qi := -1 // index of the literal piece holding the '?'
	for i := 0; i < len(pieces); i += 2 {
		if strings.ContainsRune(pieces[i], '#') {
			return nil, errors.New("a URL template must not have a fragment (#)")
		}
		if qi < 0 && strings.ContainsRune(pieces[i], '?') {
			qi = i
		}
	}
	if err := checkOrigin(pieces); err != nil {
		return nil, err
	}
	pathSrc, querySrc := src, ""
	if qi >= 0 {
		var b strings.Builder
		for i := 0; i < qi; i++ {
			writePiece(&b, pieces, i)
		}
		before, after, _ := strings.Cut(pieces[qi], "?")
		b.WriteString(before)
		pathSrc = b.String()
		b.Reset()
		b.WriteString(after)
		for i := qi + 1; i < len(pieces); i++ {
			writePiece(&b, pieces, i)
		}
		querySrc = b.String()
	}
	u := &URL{src: src}
	if u.path, err = env.parse(pathSrc); err != nil {
		return nil, err
	}
	if qi >= 0 {
		if u.query, err = env.parse(querySrc); err != nil {
			return nil, err
		}
	}
	if u.path.Constant() {
		if seg, bad := dotSegment(pathSrc); bad {
			return nil, fmt.Errorf("path segment %q would be removed by URL normalisation", seg)
		}
	}
	return u, nil
}

func writePiece(b *strings.Builder, pieces []string, i int) {
	if i%2 == 0 {
		b.WriteString(pieces[i])
		return
	}
	b.WriteString("{{ ")
	b.WriteString(pieces[i])
	b.WriteString(" }}")
}

// checkOrigin refuses holes in the scheme or host of an absolute URL.
func checkOrigin(pieces []string) error {
	lit := pieces[0]
	scheme, rest, ok := strings.Cut(lit, "://")
	if !ok {
		if len(pieces) > 1 && !strings.Contains(lit, "/") && !strings.Contains(lit, "?") {
			// "{{ x }}/users" or "http{{ s }}://": a value would pick the origin.
			return errors.New("a URL template must start with a literal path (/...) or a literal scheme and host")
		}
		return nil
	}
	if scheme != "http" && scheme != "https" {
		return fmt.Errorf("scheme must be http or https, not %q", scheme)
	}
	if !strings.ContainsAny(rest, "/?") && len(pieces) > 1 {
		return errors.New("the scheme and host of a URL template must be literal: no {{ }} before the path")
	}
	return nil
}

// Render renders the URL. A path hole that renders empty is refused: it
// would turn /users/{{ id }} into /users/, another resource entirely.
func (u *URL) Render(vals map[string]any) (string, error) {
	var empty bool
	path, err := u.path.Render(vals, func(s string) string {
		if s == "" {
			empty = true
		}
		return PathEscape(s)
	})
	if err != nil {
		return "", err
	}
	if empty {
		return "", fmt.Errorf("a value in the path of %q is empty", u.src)
	}
	if seg, bad := dotSegment(path); bad {
		return "", fmt.Errorf("the path of %q rendered a %q segment", u.src, seg)
	}
	if u.query == nil {
		return path, nil
	}
	q, err := u.query.Render(vals, url.QueryEscape)
	if err != nil {
		return "", err
	}
	return path + "?" + q, nil
}

// Source returns the template text.
func (u *URL) Source() string { return u.src }

// PathEscape escapes s as one path segment. A value made only of dots is
// escaped too: `..` would otherwise be resolved away by the client or the
// server (RFC 3986 §5.2.4) and address the parent resource.
func PathEscape(s string) string {
	if s != "" && strings.Trim(s, ".") == "" {
		return strings.Repeat("%2E", len(s))
	}
	return url.PathEscape(s)
}

// dotSegment finds a `.` or `..` segment in the path part of u.
func dotSegment(u string) (string, bool) {
	if _, rest, ok := strings.Cut(u, "://"); ok {
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return "", false
		}
		u = rest[i:]
	}
	for _, seg := range strings.Split(u, "/") {
		if seg == "." || seg == ".." {
			return seg, true
		}
	}
	return "", false
}
