package source

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ohler55/ojg/jp"
	"github.com/ohler55/ojg/oj"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/wait"
)

// PullState is where a pull starts: what the last applied pull left.
type PullState struct {
	// ETag is the validator the API gave the last applied full read.
	ETag string
	// Watermark is when the last applied pull started; a delta asks for
	// changes since then.
	Watermark time.Time
	// LastFull is when the last applied full read started.
	LastFull time.Time
}

// Pulled is a complete and valid pull, not yet applied. Its persons are
// spooled to a temporary file, not held: Each reads them back, and Close
// removes them.
type Pulled struct {
	// Count is how many persons the pull holds: the feed (a full read) or
	// the changed persons (a delta).
	Count int
	// Rekeys are the key changes the pull declares (see Rekeys), sorted
	// by To.
	Rekeys []Rekey
	// Delta says the persons are only what changed since the watermark:
	// the source's other persons must be left as they are.
	Delta bool
	// NotModified says the API answered 304 to the last applied full
	// read's ETag: nothing changed since, and there are no persons.
	NotModified bool
	// State is the pull state to store when the pull is applied.
	State PullState
	// Pages and Requests count what the pull took; Waited is the time
	// spent waiting after 429s.
	Pages, Requests int
	Waited          time.Duration

	name  string
	sc    *schema
	spool *spool // nil without persons
}

// Each calls fn for every pulled person, in the order the API gave them,
// stopping at fn's first error. It may be called again.
func (r *Pulled) Each(ctx context.Context, fn func(model.Person) error) error {
	if r.spool == nil {
		return nil
	}
	out := newSink(r.name, "http")
	return r.spool.each(func(cells []cell) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, ok := r.sc.build(cells, out)
		if !ok || out.failed() {
			return fmt.Errorf("source %s: a spooled record no longer reads as it did when pulled; nothing was imported, pull again", r.name)
		}
		return fn(p)
	})
}

// Close removes the spooled persons.
func (r *Pulled) Close() error {
	if r.spool == nil {
		return nil
	}
	err := r.spool.close()
	r.spool = nil
	return err
}

// PullError is a pull that could not be read whole: nothing of it may be
// applied.
type PullError struct {
	Source string
	// Page is the page (from 1) that failed; 0 when the pull as a whole did.
	Page int
	Err  error
}

func (e *PullError) Error() string {
	if e.Page == 0 {
		return fmt.Sprintf("source %s: pull failed, nothing imported: %v", e.Source, e.Err)
	}
	return fmt.Sprintf("source %s: pull failed at page %d, nothing imported: %v", e.Source, e.Page, e.Err)
}

func (e *PullError) Unwrap() error { return e.Err }

// PullOptions tune a Puller.
type PullOptions struct {
	// Now is the clock of watermarks (default time.Now).
	Now func() time.Time
	// Transport replaces the network under the audited client (tests).
	Transport http.RoundTripper
	// SpoolDir is where a pull's persons wait between the pull and their
	// application ("": the system's temporary directory).
	SpoolDir string
}

// Puller reads one pull source. Its client keeps connections and an
// OAuth2 token between pulls. Pulls of one Puller must not overlap.
type Puller struct {
	spec    *Spec
	h       HTTP
	paging  Paging
	client  *httpx.Client
	records jp.Expr
	fields  []fieldPath // by column index
	cursor  jp.Expr
	next    jp.Expr
	total   jp.Expr
	now     func() time.Time
	spool   string
}

// NewPuller prepares the pull source s. Secrets are resolved at the
// first request.
func (s *Spec) NewPuller(o PullOptions) (*Puller, error) {
	if s.Format != "http" || s.HTTP == nil {
		return nil, fmt.Errorf("source %q is not an http source", s.Name)
	}
	sc, err := s.compile()
	if err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p := &Puller{spec: s, h: *s.HTTP, paging: s.HTTP.Paging.withDefaults(), now: o.Now, spool: o.SpoolDir}
	if p.h.Method == "" {
		p.h.Method = http.MethodGet
	}
	if p.h.MaxWait == 0 {
		p.h.MaxWait = DefaultMaxWait
	}
	p.records, _ = recordsPath(p.h.Records) // checked by compile
	p.fields = make([]fieldPath, len(sc.cols))
	for i, c := range sc.cols {
		x := jp.C(c.name)
		if path, ok := p.h.Fields[c.name]; ok {
			x = jp.MustParseString(path)
		}
		p.fields[i] = newFieldPath(x)
	}
	parse := func(s string) jp.Expr {
		if s == "" {
			return nil
		}
		return jp.MustParseString(s)
	}
	p.cursor, p.next, p.total = parse(p.paging.Cursor), parse(p.paging.Next), parse(p.paging.Total)
	opts := []httpx.Option{httpx.WithClock(o.Now)}
	if o.Transport != nil {
		opts = append(opts, httpx.WithTransport(o.Transport))
	}
	p.client, err = httpx.New(httpx.Config{Auth: p.h.Auth, Timeout: p.h.Timeout, ConnectTimeout: p.h.ConnectTimeout}, opts...)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", s.Name, err)
	}
	return p, nil
}

// Close releases the client's connections.
func (p *Puller) Close(ctx context.Context) error { return p.client.Close(ctx) }

// pull is one pull in progress.
type pull struct {
	*Puller
	res    *Pulled
	sc     *schema
	out    *sink
	col    *collector
	cells  []cell
	total  int // records the API says the feed has; -1 unknown
	count  int // records read so far
	seen   map[string]bool
	waited time.Duration
}

// Pull reads every page and validates the whole feed before returning.
// A page that fails (an error status, a timeout, a body that is not the
// expected JSON, pages that do not add up) fails the pull with a
// *PullError; bad records reject it with a *Report naming each by page
// and index. Either way nothing is returned to apply. prev decides
// between a full read and a delta, and which ETag to send.
//
// The pull holds one page and the keys seen so far: valid records go to
// a spool (see Pulled), which the caller must Close.
func (p *Puller) Pull(ctx context.Context, prev PullState) (_ *Pulled, err error) {
	sc, err := p.spec.compile()
	if err != nil {
		return nil, err
	}
	start := p.now().UTC()
	d := p.h.Delta
	res := &Pulled{Delta: d != nil && !prev.Watermark.IsZero() && !prev.LastFull.IsZero() && start.Sub(prev.LastFull) < d.FullEvery}
	res.State = PullState{Watermark: start, LastFull: start, ETag: prev.ETag}
	if res.Delta {
		res.State.LastFull = prev.LastFull
	}
	res.name, res.sc = p.spec.Name, sc
	if res.spool, err = newSpool(p.spool, len(sc.cols)); err != nil {
		return nil, &PullError{Source: p.spec.Name, Err: err}
	}
	defer func() {
		if err != nil || res.NotModified {
			_ = res.Close()
		}
	}()
	out := newSink(p.spec.Name, "http")
	pl := &pull{Puller: p, res: res, sc: sc, out: out, cells: make([]cell, len(sc.cols)), total: -1, seen: map[string]bool{}}
	// The collector hands on a person only as it is built from pl.cells.
	pl.col = newCollector(sc, out, "record", true, func(model.Person) error { return res.spool.add(pl.cells) })
	base, err := url.Parse(p.h.URL)
	if err != nil {
		return nil, &PullError{Source: p.spec.Name, Err: err}
	}
	q := base.Query()
	for k, v := range p.h.Query {
		q.Set(k, v)
	}
	if res.Delta {
		layout := d.Format
		if layout == "" {
			layout = time.RFC3339
		}
		overlap := DefaultOverlap
		if d.Overlap != nil {
			overlap = *d.Overlap
		}
		q.Set(d.Param, prev.Watermark.Add(-overlap).UTC().Format(layout))
	}
	etag := ""
	if p.h.IfNoneMatch {
		etag = prev.ETag
	}
	if err := pl.pages(ctx, base, q, etag); err != nil {
		return nil, err
	}
	if res.NotModified {
		return res, nil
	}
	if pl.total >= 0 && pl.count != pl.total {
		return nil, &PullError{Source: p.spec.Name, Err: fmt.Errorf("the API said the feed has %d records, but its pages held %d; the feed changed during the pull or the paging is misconfigured", pl.total, pl.count)}
	}
	if err := pl.col.finish(); err != nil {
		return nil, err
	}
	if pl.col.err != nil {
		return nil, &PullError{Source: p.spec.Name, Err: pl.col.err}
	}
	if err := res.spool.seal(); err != nil {
		return nil, &PullError{Source: p.spec.Name, Err: err}
	}
	res.Count, res.Rekeys = pl.col.count, rekeysOf(pl.col.prevs)
	return res, nil
}

// pages walks the pages, feeding records to the collector.
func (pl *pull) pages(ctx context.Context, base *url.URL, q url.Values, etag string) error {
	pg := pl.paging
	offset, number, cursor, nextURL, largest := 0, *pg.FirstPage, "", "", 0
	for page := 1; ; page++ {
		if page > pg.MaxPages {
			return pl.fail(0, fmt.Errorf("more than %d pages (http.paging.max_pages); the API does not end the listing", pg.MaxPages))
		}
		u := *base
		pq := cloneValues(q)
		switch pg.Style {
		case PageOffset:
			pq.Set(pg.OffsetParam, strconv.Itoa(offset))
			pq.Set(pg.SizeParam, strconv.Itoa(pg.Size))
		case PageNumber:
			pq.Set(pg.PageParam, strconv.Itoa(number))
			pq.Set(pg.SizeParam, strconv.Itoa(pg.Size))
		case PageCursor:
			pq.Set(pg.SizeParam, strconv.Itoa(pg.Size))
			if cursor != "" {
				pq.Set(pg.CursorParam, cursor)
			}
		case PageNext, PageLink:
			// Only the first request is built here; the links carry on.
			if pl.h.Paging.Size != 0 {
				pq.Set(pg.SizeParam, strconv.Itoa(pg.Size))
			}
		}
		u.RawQuery = pq.Encode()
		target := u.String()
		if nextURL != "" {
			target = nextURL
		}
		req := httpx.Request{Method: pl.h.Method, URL: target, Header: http.Header{"Accept": {"application/json"}}}
		if pl.h.Body != "" {
			req.Body = []byte(pl.h.Body)
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range pl.h.Headers {
			req.Header.Set(k, v)
		}
		if page == 1 && etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := pl.get(ctx, req)
		if err != nil {
			return pl.fail(page, err)
		}
		pl.res.Pages = page
		if resp.Status == http.StatusNotModified && page == 1 && etag != "" {
			pl.res.NotModified = true
			return nil
		}
		if !resp.OK() {
			return pl.fail(page, resp.Failure())
		}
		// Only a full read's ETag is kept: a delta's stands for a feed
		// whose omissions were not applied, and a full read sending it
		// would be told 304 and never see the leavers.
		if page == 1 && !pl.res.Delta {
			pl.res.State.ETag = resp.Header.Get("ETag")
		}
		doc, err := oj.Parse(resp.Body)
		if err != nil {
			return pl.fail(page, fmt.Errorf("%s %s answered %d with a body that is not JSON: %v", resp.Method, resp.URL, resp.Status, err))
		}
		n, err := pl.read(doc, page)
		if err != nil {
			return pl.fail(page, err)
		}
		if err := pl.readTotal(doc); err != nil {
			return pl.fail(page, err)
		}
		var more bool
		switch pg.Style {
		case PageNone:
		case PageOffset, PageNumber:
			// Without a total, a page shorter than the longest so far is
			// the last: an API that caps pages below size (asked 500,
			// answers 100) is read to its end, not cut after one page.
			largest = max(largest, n)
			if pl.total >= 0 {
				more = n > 0 && pl.count < pl.total
			} else {
				more = n > 0 && n >= largest
			}
			offset += n
			number++
		case PageCursor:
			cursor = textOf(first(pl.cursor, doc))
			more = cursor != "" && n > 0
			if more && pl.seen[cursor] {
				return pl.fail(page, fmt.Errorf("the API gave cursor %q a second time; the listing would not end", audit.Excerpt(cursor)))
			}
			pl.seen[cursor] = true
		case PageNext, PageLink:
			link := ""
			if pg.Style == PageNext {
				link = textOf(first(pl.next, doc))
			} else {
				link = httpx.NextLink(resp.Header)
			}
			if more = link != "" && n > 0; more {
				abs, err := resp.SameOrigin(link, pl.h.Auth.Query)
				if err != nil {
					return pl.fail(page, err)
				}
				if pl.seen[abs] {
					return pl.fail(page, fmt.Errorf("the API linked to the same page twice; the listing would not end"))
				}
				pl.seen[abs] = true
				nextURL = abs
			}
		}
		if !more {
			return nil
		}
	}
}

// readTotal reads the feed's record count from a page, when configured:
// every page must say the same.
func (pl *pull) readTotal(doc any) error {
	if pl.Puller.total == nil {
		return nil
	}
	v := first(pl.Puller.total, doc)
	n, err := strconv.Atoi(textOf(v))
	if err != nil || n < 0 {
		return fmt.Errorf("the record count at %s is %q, not a whole number", pl.paging.Total, audit.Excerpt(textOf(v)))
	}
	if pl.total >= 0 && n != pl.total {
		return fmt.Errorf("the record count at %s changed from %d to %d during the pull; the feed changed while it was read", pl.paging.Total, pl.total, n)
	}
	pl.total = n
	return nil
}

// read feeds one page's records to the collector and returns how many
// the page held.
func (pl *pull) read(doc any, page int) (int, error) {
	lists := pl.records.Get(doc)
	if len(lists) != 1 {
		return 0, fmt.Errorf("the page has no list of records at %s (http.records)", pl.records)
	}
	list, ok := lists[0].([]any)
	if !ok {
		return 0, fmt.Errorf("the page's %s is not a list of records (http.records)", pl.records)
	}
	for i, rec := range list {
		pl.count++
		pl.out.row, pl.out.line, pl.out.index = pl.count, page, i+1
		obj, ok := rec.(map[string]any)
		if !ok {
			pl.out.add("", "", "the record is not a JSON object")
			continue
		}
		for c, f := range pl.fields {
			v, n := f.get(obj)
			switch {
			case n == 0:
				pl.cells[c] = cell{}
			case n > 1:
				pl.out.add(pl.sc.cols[c].name, "", fmt.Sprintf("%s finds %d values in the record; a column takes one", f.x, n))
				pl.cells[c] = cell{}
			default:
				pl.cells[c] = cellOf(v)
			}
		}
		pl.col.add(pl.sc.build(pl.cells, pl.out))
	}
	return len(list), nil
}

// get sends one request, waiting as the API asks after a 429 (or a 503
// with Retry-After) and sending it again, within http.max_wait for the
// whole pull. Waiting at accord's own rate limit (the gate in ctx) is
// not counted: it never fails a pull.
func (pl *pull) get(ctx context.Context, r httpx.Request) (*httpx.Response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := pl.client.Do(ctx, r)
		pl.res.Requests++
		if err != nil {
			return nil, err
		}
		if resp.Status != http.StatusTooManyRequests && (resp.Status != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "") {
			return resp, nil
		}
		f := resp.Failure()
		pause := f.RetryAfter
		if pause <= 0 {
			pause = min(time.Second<<min(attempt, 6), time.Minute)
		}
		if pl.waited+pause > pl.h.MaxWait {
			return nil, fmt.Errorf("%s; waiting %s more would pass http.max_wait (%s, %s waited already)", f.Message, pause, pl.h.MaxWait, pl.waited)
		}
		if err := wait.For(ctx, pause); err != nil {
			return nil, err
		}
		pl.waited += pause
		pl.res.Waited = pl.waited
	}
}

func (pl *pull) fail(page int, err error) error {
	return &PullError{Source: pl.spec.Name, Page: page, Err: err}
}

func cloneValues(q url.Values) url.Values {
	out := make(url.Values, len(q)+2)
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// fieldPath is a column's JSONPath. Most are plain member chains
// ($.work.email), which are walked directly: jp's general evaluation,
// once per column and record, was a quarter of a pull's time.
type fieldPath struct {
	x    jp.Expr
	keys []string // the member chain, or nil for a general path
}

func newFieldPath(x jp.Expr) fieldPath {
	f := fieldPath{x: x}
	keys := []string{}
	for i, frag := range x {
		switch v := frag.(type) {
		case jp.Root, jp.At:
			if i != 0 {
				return f
			}
		case jp.Bracket:
		case jp.Child:
			keys = append(keys, string(v))
		default:
			return f
		}
	}
	f.keys = keys
	return f
}

// get returns the value at the path and how many values it finds.
func (f fieldPath) get(rec map[string]any) (any, int) {
	if f.keys == nil {
		vs := f.x.Get(rec)
		if len(vs) == 0 {
			return nil, 0
		}
		return vs[0], len(vs)
	}
	var cur any = rec
	for _, k := range f.keys {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, 0
		}
		if cur, ok = m[k]; !ok {
			return nil, 0
		}
	}
	return cur, 1
}

func first(x jp.Expr, doc any) any {
	if x == nil {
		return nil
	}
	return x.First(doc)
}

// textOf is a cursor, link or count from a page as text.
func textOf(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}
