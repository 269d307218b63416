package scim

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/accord-iam/accord/internal/model"
)

// A correlation filter is kept as the parser's tree, with placeholders
// where account values go, and printed with every value escaped by quote.
// The printed filter is parsed again before it is sent, and the values
// the parser reads back must be the values we meant: a value can never
// change the filter's shape.

var holePattern = regexp.MustCompile(`^\{\{\s*([^{}\s]+)\s*\}\}$`)

// correlation is the parsed user_filter.
type correlation struct {
	expr  filter.Expression
	holes []string // account attribute names the filter needs
	// terms is the filter as a conjunction of equalities, when it is
	// one; used to match on our side when the target cannot be given
	// the value (quirk filter_no_escapes).
	terms []term
}

// term is `path eq value`, the value either an account attribute (hole)
// or a literal.
type term struct {
	path    attrPath
	hole    string
	literal string
}

// parseCorrelation reads user_filter: an attribute name (correlate on
// equality of that attribute) or a filter with "{{attribute}}"
// placeholders, each a whole quoted value.
func parseCorrelation(s string) (*correlation, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = "userName"
	}
	if ap, err := parseAttrPath(s); err == nil {
		return &correlation{expr: equality(ap, "{{"+s+"}}"), holes: []string{s}, terms: []term{{path: ap, hole: s}}}, nil
	}
	e, err := filter.ParseFilter([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("neither an attribute name nor a SCIM filter: %v", err)
	}
	c := &correlation{expr: e}
	var walkErr error
	walkStrings(e, func(ae *filter.AttributeExpression, raw string) {
		v, err := unquote(raw)
		if err != nil {
			walkErr = err
			return
		}
		if m := holePattern.FindStringSubmatch(v); m != nil {
			c.holes = append(c.holes, m[1])
		} else if strings.Contains(v, "{{") {
			walkErr = fmt.Errorf("placeholder in %q must be the whole quoted value, as in userName eq \"{{userName}}\"", v)
		}
	})
	if walkErr != nil {
		return nil, walkErr
	}
	if len(c.holes) == 0 {
		return nil, fmt.Errorf("the filter has no {{attribute}} placeholder, so every person would match the same account")
	}
	if terms, ok := conjunction(e); ok {
		c.terms = terms
	}
	return c, nil
}

// equality builds `p eq "<hole>"` as a tree.
func equality(p attrPath, hole string) filter.Expression {
	ap := filter.AttributePath{AttributeName: p.attr}
	if p.urn != "" {
		urn := p.urn
		ap.URIPrefix = &urn
	}
	if !p.filtered() {
		if p.sub != "" {
			sub := p.sub
			ap.SubAttribute = &sub
		}
		return &filter.AttributeExpression{AttributePath: ap, Operator: filter.EQ, CompareValue: hole}
	}
	return &filter.ValuePath{AttributePath: ap, ValueFilter: &filter.LogicalExpression{
		Operator: filter.AND,
		Left:     &filter.AttributeExpression{AttributePath: filter.AttributePath{AttributeName: p.fAttr}, Operator: filter.EQ, CompareValue: rawString(p.fValue)},
		Right:    &filter.AttributeExpression{AttributePath: filter.AttributePath{AttributeName: p.sub}, Operator: filter.EQ, CompareValue: hole},
	}}
}

// rawString is v as the parser would hand it over: escaped, unquoted.
func rawString(v string) string { q := quote(v); return q[1 : len(q)-1] }

// conjunction flattens an and-tree of string equalities into terms.
func conjunction(e filter.Expression) ([]term, bool) {
	switch x := e.(type) {
	case *filter.LogicalExpression:
		if x.Operator != filter.AND {
			return nil, false
		}
		l, ok1 := conjunction(x.Left)
		r, ok2 := conjunction(x.Right)
		return append(l, r...), ok1 && ok2
	case *filter.AttributeExpression:
		t, ok := eqTerm(x)
		if !ok {
			return nil, false
		}
		t.path = attrPath{urn: extURN(x.AttributePath.URI()), attr: x.AttributePath.AttributeName, sub: x.AttributePath.SubAttributeName()}
		return []term{t}, true
	case *filter.ValuePath:
		inner, ok := x.ValueFilter.(*filter.LogicalExpression)
		if !ok || inner.Operator != filter.AND {
			return nil, false
		}
		sel, ok1 := eqTerm(inner.Left)
		val, ok2 := eqTerm(inner.Right)
		if !ok1 || !ok2 || sel.hole != "" {
			return nil, false
		}
		l := inner.Left.(*filter.AttributeExpression)
		r := inner.Right.(*filter.AttributeExpression)
		val.path = attrPath{urn: extURN(x.AttributePath.URI()), attr: x.AttributePath.AttributeName,
			fAttr: l.AttributePath.AttributeName, fValue: sel.literal, sub: r.AttributePath.AttributeName}
		return []term{val}, true
	}
	return nil, false
}

func eqTerm(e filter.Expression) (term, bool) {
	ae, ok := e.(*filter.AttributeExpression)
	if !ok || ae.Operator != filter.EQ {
		return term{}, false
	}
	raw, ok := ae.CompareValue.(string)
	if !ok {
		return term{}, false
	}
	v, err := unquote(raw)
	if err != nil {
		return term{}, false
	}
	if m := holePattern.FindStringSubmatch(v); m != nil {
		return term{hole: m[1]}, true
	}
	return term{literal: v}, true
}

// values looks up the value of every placeholder in attrs.
func (c *correlation) values(attrs model.Attributes) (map[string]string, error) {
	out := make(map[string]string, len(c.holes))
	for _, h := range c.holes {
		v := model.FormatValue(attrs[h])
		if v == "" {
			return nil, fmt.Errorf("cannot correlate: account attribute %s has no value", h)
		}
		out[h] = v
	}
	return out, nil
}

// build prints the filter with vals in the placeholders and checks it by
// parsing it back.
func (c *correlation) build(vals map[string]string) (string, error) {
	return printChecked(c.expr, vals)
}

// printChecked prints e, replacing placeholders from vals, and verifies
// that the parser reads back the same paths and values.
func printChecked(e filter.Expression, vals map[string]string) (string, error) {
	var want []string
	out := render(e, func(raw string) string {
		v, err := unquote(raw)
		if err != nil {
			v = raw
		}
		if m := holePattern.FindStringSubmatch(v); m != nil {
			if x, ok := vals[m[1]]; ok {
				v = x
			}
		}
		want = append(want, v)
		return quote(v)
	})
	back, err := filter.ParseFilter([]byte(out))
	if err != nil {
		return "", fmt.Errorf("value cannot be expressed in a SCIM filter: %v", err)
	}
	var got []string
	walkStrings(back, func(_ *filter.AttributeExpression, raw string) {
		v, err := unquote(raw)
		if err != nil {
			v = "\x00" + raw
		}
		got = append(got, v)
	})
	if strings.Join(got, "\x00\x01") != strings.Join(want, "\x00\x01") {
		return "", fmt.Errorf("value cannot be expressed in a SCIM filter unambiguously")
	}
	return out, nil
}

// render prints a filter tree; str renders each string value (the
// parser's raw, still escaped, form) as a quoted literal.
func render(e filter.Expression, str func(raw string) string) string {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		s := x.AttributePath.String() + " " + string(x.Operator)
		if x.Operator == filter.PR {
			return s
		}
		switch v := x.CompareValue.(type) {
		case string:
			return s + " " + str(v)
		case nil:
			return s + " null"
		case bool:
			return s + " " + strconv.FormatBool(v)
		default:
			return s + " " + fmt.Sprint(v)
		}
	case *filter.LogicalExpression:
		return group(x.Left, str) + " " + string(x.Operator) + " " + group(x.Right, str)
	case *filter.NotExpression:
		return "not (" + render(x.Expression, str) + ")"
	case *filter.ValuePath:
		return x.AttributePath.String() + "[" + render(x.ValueFilter, str) + "]"
	}
	panic(fmt.Sprintf("scim: unexpected filter node %T", e))
}

func group(e filter.Expression, str func(string) string) string {
	if _, ok := e.(*filter.LogicalExpression); ok {
		return "(" + render(e, str) + ")"
	}
	return render(e, str)
}

// walkStrings calls f for every string comparison value, left to right.
func walkStrings(e filter.Expression, f func(ae *filter.AttributeExpression, raw string)) {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		if s, ok := x.CompareValue.(string); ok && x.Operator != filter.PR {
			f(x, s)
		}
	case *filter.LogicalExpression:
		walkStrings(x.Left, f)
		walkStrings(x.Right, f)
	case *filter.NotExpression:
		walkStrings(x.Expression, f)
	case *filter.ValuePath:
		walkStrings(x.ValueFilter, f)
	}
}

// eqFilter is `p eq "v"`, checked.
func eqFilter(p attrPath, v string) (string, error) {
	return printChecked(equality(p, "{{v}}"), map[string]string{"v": v})
}
