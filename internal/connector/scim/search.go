package scim

import (
	"context"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
)

// Find correlates by user_filter: kind not_found when no User matches,
// conflict when several do.
func (c *Conn) Find(ctx context.Context, attrs model.Attributes) (connector.Account, error) {
	vals, err := c.corr.values(attrs)
	if err != nil {
		e := connector.Errorf(connector.Validation, "%v", err)
		return connector.Account{}, e
	}
	users, s, err := c.usersURL(ctx)
	if err != nil {
		return connector.Account{}, err
	}
	found, total, err := c.search(ctx, users, c.corr, vals, 2, s.lookup)
	if err != nil {
		return connector.Account{}, err
	}
	switch {
	case total == 0:
		return connector.Account{}, connector.Errorf(connector.NotFound, "no user matches %s", describe(vals))
	case total > 1:
		return connector.Account{}, connector.Errorf(connector.Conflict, "%d users match %s", total, describe(vals))
	}
	return c.account(ctx, found[0])
}

func describe(vals map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		parts = append(parts, k+"="+strconv.Quote(vals[k]))
	}
	return strings.Join(parts, ", ")
}

// search finds the resources at endpoint that match corr with vals: at
// most limit of them, and how many match in all (at least limit when
// there are more). Where we can check the answer ourselves (the filter is
// a conjunction of equalities) we do: a target that ignored or loosened
// the filter must not make us link someone else's account.
func (c *Conn) search(ctx context.Context, endpoint string, corr *correlation, vals map[string]string, limit int, def func(attrPath) *Attribute) ([]resource, int, error) {
	if c.set.Quirks.FilterNoEscapes && anyNeedsEscape(vals) {
		return c.searchLoose(ctx, endpoint, corr, vals, limit, def)
	}
	f, err := corr.build(vals)
	if err != nil {
		return nil, 0, connector.Errorf(connector.Validation, "%s: %v", describe(vals), err)
	}
	p, err := c.list(ctx, endpoint, url.Values{"filter": {f}, "startIndex": {"1"}, "count": {strconv.Itoa(limit)}})
	if err != nil {
		return nil, 0, err
	}
	if corr.terms != nil {
		for _, r := range p.items {
			if !matches(r, corr.terms, vals, def) {
				return c.searchLoose(ctx, endpoint, corr, vals, limit, def)
			}
		}
	}
	total := p.total
	if total < len(p.items) {
		total = len(p.items)
	}
	return p.items, total, nil
}

// searchLoose asks the target for a superset (see looseFilter), pages
// through it and keeps the exact matches.
func (c *Conn) searchLoose(ctx context.Context, endpoint string, corr *correlation, vals map[string]string, limit int, def func(attrPath) *Attribute) ([]resource, int, error) {
	if corr.terms == nil {
		return nil, 0, connector.Errorf(connector.Validation,
			"%s: the value cannot be sent to this target (quirk filter_no_escapes) and user_filter is not a conjunction of equalities that accord could check itself", describe(vals))
	}
	q := url.Values{"count": {strconv.Itoa(c.set.PageSize)}}
	if f := looseFilter(corr.terms, vals); f != "" {
		q.Set("filter", f)
	}
	var out []resource
	seen := map[string]bool{}
	for start := 1; ; {
		q.Set("startIndex", strconv.Itoa(start))
		p, err := c.list(ctx, endpoint, q)
		if err != nil {
			return nil, 0, err
		}
		// A target that ignores startIndex and reports no total would
		// hand out its first page forever.
		fresh := false
		for _, r := range p.items {
			id := str(r, "id")
			fresh = fresh || !seen[id]
			seen[id] = true
		}
		if len(p.items) > 0 && !fresh {
			return nil, 0, connector.Errorf(connector.Unknown, "scim: the target answered startIndex=%d with resources it had already listed", start)
		}
		for _, r := range p.items {
			if matches(r, corr.terms, vals, def) {
				out = append(out, r)
				if len(out) >= limit {
					return out, len(out), nil
				}
			}
		}
		n := next(start, p)
		if n == "" {
			return out, len(out), nil
		}
		start, _ = strconv.Atoi(n)
	}
}

func anyNeedsEscape(vals map[string]string) bool {
	for _, v := range vals {
		if needsEscape(v) {
			return true
		}
	}
	return false
}

func (t term) value(vals map[string]string) string {
	if t.hole != "" {
		return vals[t.hole]
	}
	return t.literal
}

// matches checks r against every term, case-insensitively unless the
// schema declares the attribute caseExact.
func matches(r resource, terms []term, vals map[string]string, def func(attrPath) *Attribute) bool {
	for _, t := range terms {
		got, ok := getValue(r, t.path)
		if !ok {
			return false
		}
		g, want := model.FormatValue(got), t.value(vals)
		if d := def(t.path); d != nil && d.CaseExact {
			if g != want {
				return false
			}
		} else if !strings.EqualFold(g, want) {
			return false
		}
	}
	return true
}

// looseFilter is the narrowest filter the target can read that still
// lets every exact match through: equality on a term whose value needs
// no escape, else `co` on the longest escape-free run of a simple
// attribute's value, else none.
func looseFilter(terms []term, vals map[string]string) string {
	for _, t := range terms {
		v := t.value(vals)
		if !needsEscape(v) && !needsEscape(t.path.fValue) {
			if f, err := eqFilter(t.path, v); err == nil {
				return f
			}
		}
	}
	best, bestRun := term{}, ""
	for _, t := range terms {
		if t.path.filtered() {
			continue
		}
		for _, run := range strings.FieldsFunc(t.value(vals), func(r rune) bool { return r == '"' || r == '\\' || r < 0x20 || r == utf8.RuneError }) {
			if len(run) > len(bestRun) {
				best, bestRun = t, run
			}
		}
	}
	if bestRun == "" {
		return ""
	}
	ap := filter.AttributePath{AttributeName: best.path.attr}
	if best.path.urn != "" {
		urn := best.path.urn
		ap.URIPrefix = &urn
	}
	if best.path.sub != "" {
		sub := best.path.sub
		ap.SubAttribute = &sub
	}
	f, err := printChecked(&filter.AttributeExpression{AttributePath: ap, Operator: filter.CO, CompareValue: "{{v}}"}, map[string]string{"v": bestRun})
	if err != nil {
		return ""
	}
	return f
}
