package source

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ohler55/ojg/jp"

	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/secret"
)

// HTTP is how a pull source (format: http) reads an HR API: one request
// template, repeated page by page, each page's records mapped to the
// typed columns by JSONPath. The whole pull is validated like a file
// before any person changes.
//
//	http:
//	  url: https://hr.example/api/v1/employees
//	  query: {status: all}
//	  auth: {type: oauth2, token_url: https://hr.example/oauth/token, client_id: accord, client_secret: "${env:HR_SECRET}"}
//	  records: $.employees[*]
//	  fields: {employee_id: $.id, email: $.work.email}
//	  paging: {style: offset, size: 500, total: $.total}
//	  delta: {param: updated_since, full_every: 24h}
type HTTP struct {
	URL string `yaml:"url"`
	// Method is GET (default) or POST (report APIs that take a POST).
	Method  string            `yaml:"method"`
	Headers map[string]string `yaml:"headers"`
	Query   map[string]string `yaml:"query"`
	// Body is a JSON body sent with every page's request (POST only):
	// the filters and fields of a report API that takes them so.
	Body string `yaml:"body"`
	// Auth is the connectors' auth (none, basic, bearer, api_key, oauth2).
	Auth           httpx.AuthConfig `yaml:"auth"`
	Timeout        time.Duration    `yaml:"timeout"`
	ConnectTimeout time.Duration    `yaml:"connect_timeout"`
	// Records is the JSONPath of a page's records, ending in [*]:
	// `$.employees[*]`, or `$[*]` for a page that is a list. Default `$[*]`.
	Records string `yaml:"records"`
	// Fields maps a column to the JSONPath of its value in a record;
	// a column not listed is the record's member of the same name.
	Fields map[string]string `yaml:"fields"`
	Paging Paging            `yaml:"paging"`
	// IfNoneMatch sends the ETag of the last applied full read with the
	// first request (of a delta too); a 304 means the feed has not changed
	// since. Only for APIs whose ETag stands for the whole feed (a
	// report), not for one page.
	IfNoneMatch bool   `yaml:"if_none_match"`
	Delta       *Delta `yaml:"delta"`
	// RateLimit paces requests to the API, as a target's does.
	RateLimit RateLimit `yaml:"rate_limit"`
	// MaxWait bounds the time one pull spends waiting for the API after
	// 429s (Retry-After); past it the pull fails. Default 5m.
	MaxWait time.Duration `yaml:"max_wait"`
}

// Paging says how a page leads to the next.
type Paging struct {
	// Style: none (one request, the default), offset, page, cursor
	// (a value from the page passed back as a parameter), next (a URL
	// from the page) or link (a Link header with rel="next").
	Style string `yaml:"style"`
	// Size is the records asked for per page (offset, page, cursor).
	Size int `yaml:"size"`
	// SizeParam carries Size; default limit (page: page_size).
	SizeParam string `yaml:"size_param"`
	// OffsetParam (offset, default offset), PageParam (page, default page),
	// FirstPage (page, default 1), CursorParam (cursor, default cursor).
	OffsetParam string `yaml:"offset_param"`
	PageParam   string `yaml:"page_param"`
	FirstPage   *int   `yaml:"first_page"`
	CursorParam string `yaml:"cursor_param"`
	// Cursor (cursor) and Next (next) are JSONPaths into a page: the
	// next cursor, the next page's URL. Absent or empty ends the pull.
	Cursor string `yaml:"cursor"`
	Next   string `yaml:"next"`
	// Total is the JSONPath of the number of records the whole feed has;
	// when set, a pull whose records do not add up to it fails.
	Total string `yaml:"total"`
	// MaxPages guards against an API that never ends (default 10000).
	MaxPages int `yaml:"max_pages"`
}

// Delta reads only what changed since the last applied pull, with a
// full read now and then so that persons who left by omission are seen.
type Delta struct {
	// Param is the query parameter that takes the time, e.g. updated_since.
	Param string `yaml:"param"`
	// Format is the Go layout of the time, default RFC 3339 (UTC).
	Format string `yaml:"format"`
	// FullEvery is how often a full read replaces a delta; required.
	FullEvery time.Duration `yaml:"full_every"`
	// Overlap is taken off the watermark when asking, so that a change
	// the API stamped with a clock behind accord's is not missed; the
	// persons read twice are unchanged. Default DefaultOverlap.
	Overlap *time.Duration `yaml:"overlap"`
}

// DefaultOverlap is a delta's overlap with the last pull when not set.
const DefaultOverlap = time.Minute

// RateLimit is requests per second to the API (0: none) and the burst.
type RateLimit struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
}

// Paging styles.
const (
	PageNone   = "none"
	PageOffset = "offset"
	PageNumber = "page"
	PageCursor = "cursor"
	PageNext   = "next"
	PageLink   = "link"
)

// Defaults of pull sources.
const (
	DefaultPageSize = 100
	DefaultMaxPages = 10000
	DefaultMaxWait  = 5 * time.Minute
)

// checkHTTP adds the problems of a pull source's http block.
func (s *Spec) checkHTTP(add func(path, format string, args ...any)) {
	h := s.HTTP
	if s.Format != "http" {
		if h != nil {
			add("http", "only http sources have an http block")
		}
		return
	}
	if s.Path != "" {
		add("path", "an http source reads its url, not a path")
	}
	if s.ExtraColumns != "" {
		add("extra_columns", "does not apply to http sources: an API's records carry many fields; map the ones you need in http.fields")
	}
	if h == nil {
		add("http", "an http source needs an http block with at least url")
		return
	}
	if h.URL == "" {
		add("http.url", "an http source needs a url")
	} else if err := httpx.CheckURL(h.URL); err != nil {
		add("http.url", "%v", err)
	}
	switch h.Method {
	case "", http.MethodGet, http.MethodPost:
	default:
		add("http.method", "must be GET or POST, not %q", h.Method)
	}
	if h.Body != "" {
		switch {
		case h.Method != http.MethodPost:
			add("http.body", "only a POST has a body; set method: POST")
		case !json.Valid([]byte(h.Body)):
			add("http.body", "is not valid JSON")
		}
	}
	for k := range h.Headers {
		if !httpx.ValidHeaderName(k) {
			add("http.headers."+k, "%q is not a valid HTTP header name", k)
		}
		if strings.EqualFold(k, "Authorization") {
			add("http.headers."+k, "put credentials in http.auth, where they are secret references and redacted")
		}
	}
	// Headers and query parameters are sent as written: a secret
	// reference there would go out unresolved, and unredacted once it
	// were resolved.
	for what, m := range map[string]map[string]string{"headers": h.Headers, "query": h.Query} {
		for k, v := range m {
			if _, err := secret.Parse(v); err == nil {
				add("http."+what+"."+k, "a secret reference is not resolved here; put credentials in http.auth (api_key takes a header or a query parameter)")
			}
		}
	}
	for _, p := range (httpx.Config{Auth: h.Auth, Timeout: h.Timeout, ConnectTimeout: h.ConnectTimeout}).Check(nil, "http") {
		add(p.Path, "%s", p.Msg)
	}
	if h.Auth.Type == httpx.AuthSession {
		add("http.auth.type", "session logins are for targets; an HR API takes basic, bearer, api_key or oauth2")
	}
	if _, err := recordsPath(h.Records); err != nil {
		add("http.records", "%v", err)
	}
	cols := map[string]bool{}
	for _, c := range s.Columns {
		cols[c.Name] = true
	}
	for col, p := range h.Fields {
		if !cols[col] {
			add("http.fields."+col, "maps column %q, which is not declared in columns", col)
		}
		if _, err := jp.ParseString(p); err != nil {
			add("http.fields."+col, "%q is not a JSONPath: %v", p, err)
		}
	}
	s.checkPaging(add)
	if d := h.Delta; d != nil {
		if d.Param == "" {
			add("http.delta.param", "a delta needs the query parameter that takes the time, e.g. updated_since")
		}
		if d.FullEvery <= 0 {
			add("http.delta.full_every", "a delta needs a positive full_every, so that persons who left by omission are still seen")
		}
		if d.Overlap != nil && *d.Overlap < 0 {
			add("http.delta.overlap", "must not be negative")
		}
		if d.Format != "" && !validTimeLayout(d.Format) {
			add("http.delta.format", "%q is not a Go time layout with a date and a time of day, such as 2006-01-02T15:04:05Z07:00", d.Format)
		}
	}
	if h.RateLimit.PerSecond < 0 {
		add("http.rate_limit.per_second", "must not be negative")
	}
	if h.RateLimit.Burst < 0 {
		add("http.rate_limit.burst", "must not be negative")
	}
	if h.MaxWait < 0 {
		add("http.max_wait", "must not be negative")
	}
}

func (s *Spec) checkPaging(add func(path, format string, args ...any)) {
	p := s.HTTP.Paging
	style := p.Style
	if style == "" {
		style = PageNone
	}
	// Which keys each style takes besides style, max_pages and total.
	keys := map[string][]string{
		PageNone:   nil,
		PageOffset: {"size", "size_param", "offset_param"},
		PageNumber: {"size", "size_param", "page_param", "first_page"},
		PageCursor: {"size", "size_param", "cursor_param", "cursor"},
		PageNext:   {"size", "size_param", "next"},
		PageLink:   {"size", "size_param"},
	}
	allowed, ok := keys[style]
	if !ok {
		add("http.paging.style", "unknown paging style %q (known: none, offset, page, cursor, next, link)", p.Style)
		return
	}
	set := map[string]bool{"size": p.Size != 0, "size_param": p.SizeParam != "", "offset_param": p.OffsetParam != "",
		"page_param": p.PageParam != "", "first_page": p.FirstPage != nil, "cursor_param": p.CursorParam != "",
		"cursor": p.Cursor != "", "next": p.Next != ""}
	for _, k := range []string{"size", "size_param", "offset_param", "page_param", "first_page", "cursor_param", "cursor", "next"} {
		if set[k] && !contains(allowed, k) {
			add("http.paging."+k, "does not apply to paging style %s", style)
		}
	}
	if p.Size < 0 {
		add("http.paging.size", "must be positive")
	}
	if p.MaxPages < 0 {
		add("http.paging.max_pages", "must be positive")
	}
	if p.FirstPage != nil && *p.FirstPage < 0 {
		add("http.paging.first_page", "must not be negative")
	}
	need := func(key, value string) {
		if value == "" {
			add("http.paging."+key, "paging style %s needs %s: the JSONPath of it in a page", style, key)
		}
	}
	switch style {
	case PageCursor:
		need("cursor", p.Cursor)
	case PageNext:
		need("next", p.Next)
	}
	for key, v := range map[string]string{"cursor": p.Cursor, "next": p.Next, "total": p.Total} {
		if v == "" {
			continue
		}
		if _, err := jp.ParseString(v); err != nil {
			add("http.paging."+key, "%q is not a JSONPath: %v", v, err)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// recordsPath parses the records JSONPath and returns the path of the
// list that holds them (the path without its final [*]), so that a page
// without that list is told apart from an empty one.
func recordsPath(p string) (jp.Expr, error) {
	if p == "" {
		p = "$[*]"
	}
	if !strings.HasSuffix(p, "[*]") {
		return nil, fmt.Errorf("%q must end in [*] (each member of the list of records), such as $.employees[*]", p)
	}
	x, err := jp.ParseString(strings.TrimSuffix(p, "[*]"))
	if err != nil {
		return nil, fmt.Errorf("%q is not a JSONPath: %v", p, err)
	}
	return x, nil
}

// validTimeLayout reports whether layout keeps a date and a time of day.
func validTimeLayout(layout string) bool {
	ref := time.Date(2001, time.February, 3, 4, 5, 6, 0, time.UTC)
	t, err := time.Parse(layout, ref.Format(layout))
	return err == nil && t.Equal(ref)
}

// withDefaults returns the paging with its defaults filled in.
func (p Paging) withDefaults() Paging {
	if p.Style == "" {
		p.Style = PageNone
	}
	if p.Size == 0 {
		p.Size = DefaultPageSize
	}
	if p.SizeParam == "" {
		p.SizeParam = "limit"
		if p.Style == PageNumber {
			p.SizeParam = "page_size"
		}
	}
	if p.OffsetParam == "" {
		p.OffsetParam = "offset"
	}
	if p.PageParam == "" {
		p.PageParam = "page"
	}
	if p.FirstPage == nil {
		one := 1
		p.FirstPage = &one
	}
	if p.CursorParam == "" {
		p.CursorParam = "cursor"
	}
	if p.MaxPages == 0 {
		p.MaxPages = DefaultMaxPages
	}
	return p
}
