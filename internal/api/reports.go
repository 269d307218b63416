package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/daemon"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/recon"
	"github.com/accord-iam/accord/internal/store"
)

// driftList is a page of drift with the counts of everything that
// matched, not only of the page.
type driftList struct {
	Items  []recon.DriftItem `json:"items"`
	Next   string            `json:"next"`
	Counts map[string]int    `json:"counts"`
	Total  int               `json:"total"`
}

func (s *Server) listDrift(rq *request) (int, any, error) {
	p, err := rq.params("target", "person", "class", "all", "format", "limit", "offset")
	if err != nil {
		return 0, nil, err
	}
	q := store.DriftQuery{Target: p.str("target"), PersonKey: p.str("person"), Classes: p.list("class", config.DriftClasses),
		Resolved: p.bool("all")}
	s.checkTargetParam(p, q.Target)
	asCSV := rq.wantsCSV(p)
	win := newWindow[recon.DriftItem](p)
	if err := p.err(); err != nil {
		return 0, nil, err
	}
	if err := s.checkPersonParam(rq, q.PersonKey); err != nil {
		return 0, nil, err
	}
	st := s.reconsStore()
	if asCSV {
		return http.StatusOK, &download{name: exportName("drift", q.Target, q.PersonKey, s.app.Now()),
			write: func(ctx context.Context, w io.Writer) error { return recon.WriteDriftCSV(ctx, w, st, q) }}, nil
	}
	out := driftList{Counts: map[string]int{}}
	for _, c := range config.DriftClasses {
		out.Counts[c] = 0
	}
	// Every match is read, for the counts; only the page is kept.
	err = recon.Drift(rq.Context(), st, q, func(d recon.DriftItem) error {
		out.Counts[d.Class]++
		out.Total++
		win.add(d)
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	pg := win.page(rq)
	out.Items, out.Next = pg.Items, pg.Next
	return http.StatusOK, out, nil
}

func (s *Server) accessReport(rq *request) (int, any, error) {
	p, err := rq.params("person", "target", "format", "limit", "offset")
	if err != nil {
		return 0, nil, err
	}
	f := recon.AccessFilter{Person: p.str("person"), Target: p.str("target")}
	if f.Target != "" {
		if _, ok := s.app.Policy.Target(f.Target); !ok {
			p.errs = append(p.errs, FieldError{Field: "target", Reason: unknownTarget(s.app.Cfg, f.Target)})
		}
	}
	asCSV := rq.wantsCSV(p)
	win := newWindow[recon.AccessRow](p)
	if err := p.err(); err != nil {
		return 0, nil, err
	}
	if err := s.checkPersonParam(rq, f.Person); err != nil {
		return 0, nil, err
	}
	env := daemon.ReconEnv(s.app, s.log)
	if asCSV {
		return http.StatusOK, &download{name: exportName("access", f.Target, f.Person, s.app.Now()),
			write: func(ctx context.Context, w io.Writer) error { return recon.WriteAccessCSV(ctx, w, env, f) }}, nil
	}
	// The report streams in a fixed order: it stops once the page and one
	// more row (to know a next page exists) are read.
	err = recon.AccessReport(rq.Context(), env, f, func(r recon.AccessRow) error {
		r.Roles = orEmpty(r.Roles) // documented as an array, never null
		if win.add(r) {
			return errPageFull
		}
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return 0, nil, err
	}
	return http.StatusOK, win.page(rq), nil
}

var errPageFull = errors.New("page full")

// checkTargetParam reports a ?target= that names no configured target.
func (s *Server) checkTargetParam(p *params, target string) {
	if target == "" {
		return
	}
	if _, ok := s.app.Cfg.Target(target); !ok {
		p.errs = append(p.errs, FieldError{Field: "target", Reason: unknownTarget(s.app.Cfg, target)})
	}
}

func unknownTarget(cfg *config.Config, name string) string {
	names := make([]string, len(cfg.Targets))
	for i := range cfg.Targets {
		names[i] = cfg.Targets[i].Name
	}
	return fmt.Sprintf("no target named %q (targets: %s)", name, strings.Join(names, ", "))
}

// checkPersonParam answers 404 for a ?person= nobody has, as /plan does:
// a report for a mistyped key would otherwise be silently empty.
func (s *Server) checkPersonParam(rq *request, key string) error {
	if key == "" {
		return nil
	}
	_, err := s.personsStore().GetPerson(rq.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		return notFoundf("no person with key %q", key)
	}
	return err
}

// bool reads true or false; absent is false.
func (p *params) bool(name string) bool {
	if !p.v.Has(name) {
		return false
	}
	switch v := p.v.Get(name); v {
	case "true":
		return true
	case "false":
		return false
	default:
		p.errs = append(p.errs, FieldError{Field: name, Reason: fmt.Sprintf("expected true or false, got %q", v)})
		return false
	}
}

// wantsCSV reads the export format: ?format= (json or csv) when given,
// else the Accept header. A CSV export is whole, so it takes no paging.
func (rq *request) wantsCSV(p *params) bool {
	csv := false
	switch f := p.str("format"); f {
	case "csv":
		csv = true
	case "json":
	case "":
		csv = prefersCSV(rq.Header.Values("Accept"))
	default:
		p.errs = append(p.errs, FieldError{Field: "format", Reason: fmt.Sprintf("%q is not one of json, csv", f)})
	}
	if csv {
		for _, name := range []string{"limit", "offset"} {
			if p.v.Has(name) {
				p.errs = append(p.errs, FieldError{Field: name, Reason: "the CSV export is not paged: it holds every row"})
			}
		}
	}
	return csv
}

// prefersCSV: the client ranks text/csv above JSON (JSON is what it gets
// otherwise, including from */*).
func prefersCSV(accept []string) bool {
	var csvQ, jsonQ float64
	for _, h := range accept {
		for _, part := range strings.Split(h, ",") {
			mt, q := mediaRange(part)
			switch mt {
			case "text/csv":
				csvQ = max(csvQ, q)
			case "application/json", "application/*", "*/*":
				jsonQ = max(jsonQ, q)
			}
		}
	}
	return csvQ > jsonQ
}

// mediaRange parses one element of an Accept header: its media range
// and its weight (1 unless q= says otherwise; 0 when q= is malformed).
func mediaRange(s string) (string, float64) {
	fields := strings.Split(s, ";")
	mt := strings.ToLower(strings.TrimSpace(fields[0]))
	q := 1.0
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || n < 0 || n > 1 {
			n = 0
		}
		q = n
	}
	return mt, q
}

// pageWindow keeps one page of a stream: the items from offset on, and one
// more than the limit to learn whether a next page exists. Paging by
// offset suits reports, whose order is not by any one unique key.
type pageWindow[T any] struct {
	offset, limit, seen int
	items               []T
}

// newWindow reads ?offset= and ?limit=.
func newWindow[T any](p *params) *pageWindow[T] {
	return &pageWindow[T]{offset: int(min(p.int64("offset"), 1<<31)), limit: p.limit()}
}

// add keeps v if it falls in the page, and reports whether the page (and
// the look-ahead item) is full.
func (w *pageWindow[T]) add(v T) bool {
	if w.seen >= w.offset && len(w.items) <= w.limit {
		w.items = append(w.items, v)
	}
	w.seen++
	return len(w.items) > w.limit
}

func (w *pageWindow[T]) page(rq *request) page[T] {
	p := page[T]{Items: w.items}
	if len(w.items) > w.limit {
		p.Items = w.items[:w.limit]
		p.Next = rq.nextURL("offset", strconv.Itoa(w.offset+w.limit))
	}
	if p.Items == nil {
		p.Items = []T{}
	}
	return p
}

// exportName names a CSV export after what it holds and the day.
func exportName(report, target, person string, now time.Time) string {
	parts := []string{"accord", report}
	for _, x := range []string{target, person} {
		if x != "" {
			parts = append(parts, x)
		}
	}
	parts = append(parts, model.DateOf(now).String())
	name := strings.Join(parts, "-")
	// The name goes into a header: keep it to safe characters.
	name = strings.Map(func(r rune) rune {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.", r)) {
			return r
		}
		return '_'
	}, name)
	return name + ".csv"
}
