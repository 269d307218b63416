// Package reqtmpl renders HTTP requests from templates in accord's
// template language (internal/tmpl), escaping every hole for the place it
// fills: a URL path segment, a query value, a JSON value or a string inside
// JSON, a header value, a form field. Whatever a value holds (`/`, `..`,
// `?`, `#`, `"`, a line break, unicode), it cannot change the shape of the
// request: which resource it addresses, which parameters it carries, which
// JSON members it has.
//
// Templates are compiled against a declared Env when the config is
// checked, so a name or a key that does not exist is a config problem,
// not a failed request at three in the morning.
package reqtmpl

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/accord-iam/accord/internal/tmpl"
)

// Env declares what templates may use.
type Env struct {
	// Vars maps each name to a value of its type, as expr.Env takes it.
	Vars map[string]any
	// Keys restricts the keys that may be read from map-valued names:
	// Keys["account"] = ["email", "username"] makes {{ account.mail }} a
	// problem. A name without an entry takes any key.
	Keys map[string][]string
}

// KeyError is a template reading a key its map does not declare.
type KeyError struct {
	Name, Key, Expr string
	Known           []string
}

func (e *KeyError) Error() string {
	known := "none"
	if len(e.Known) > 0 {
		known = strings.Join(e.Known, ", ")
	}
	return fmt.Sprintf("unknown key %q of %s in {{ %s }} (known: %s)", e.Key, e.Name, e.Expr, known)
}

// parse compiles src with tmpl against env and checks the keys it reads.
func (e Env) parse(src string) (*tmpl.Template, error) {
	t, err := tmpl.Parse(src, e.Vars)
	if err != nil {
		return nil, err
	}
	pieces, _ := tmpl.Split(src) // tmpl.Parse has accepted src
	for i := 1; i < len(pieces); i += 2 {
		if err := e.checkKeys(pieces[i]); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// checkKeys finds name.key and name["key"] reads of restricted names.
// A key computed at run time (name[x]) cannot be checked and is allowed.
func (e Env) checkKeys(code string) error {
	if len(e.Keys) == 0 {
		return nil
	}
	tree, err := parser.Parse(code)
	if err != nil {
		return nil // tmpl.Parse has reported it already
	}
	v := &keyVisitor{env: e, code: code}
	ast.Walk(&tree.Node, v)
	return v.err
}

type keyVisitor struct {
	env  Env
	code string
	err  error
}

func (v *keyVisitor) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok || v.err != nil {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok {
		return
	}
	keys, restricted := v.env.Keys[id.Value]
	prop, ok := m.Property.(*ast.StringNode)
	if !restricted || !ok || slices.Contains(keys, prop.Value) {
		return
	}
	known := append([]string(nil), keys...)
	sort.Strings(known)
	v.err = &KeyError{Name: id.Value, Key: prop.Value, Expr: v.code, Known: known}
}

// Text is a template whose holes are rendered as text, for header values
// and form fields.
type Text struct {
	t *tmpl.Template
}

// ParseText compiles src against env.
func ParseText(src string, env Env) (*Text, error) {
	t, err := env.parse(src)
	if err != nil {
		return nil, err
	}
	return &Text{t: t}, nil
}

// Render renders the template.
func (t *Text) Render(vals map[string]any) (string, error) {
	return t.t.Render(vals, nil)
}

// Header renders a header value. A line break or NUL, from the template
// or a value, would start a header of the target's choosing: refused.
func (t *Text) Header(vals map[string]any) (string, error) {
	s, err := t.t.Render(vals, nil)
	if err != nil {
		return "", err
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		return "", fmt.Errorf("header value from %q holds a line break or NUL", t.t.Source())
	}
	return s, nil
}

// Source returns the template text.
func (t *Text) Source() string { return t.t.Source() }

// Constant reports whether the template has no holes.
func (t *Text) Constant() bool { return t.t.Constant() }

// Form is a form body (application/x-www-form-urlencoded): each field a
// Text template, each value escaped as a form value.
type Form struct {
	keys   []string
	fields map[string]*Text
}

// ParseForm compiles each field against env. Problems name the field.
func ParseForm(fields map[string]string, env Env) (*Form, error) {
	f := &Form{fields: make(map[string]*Text, len(fields))}
	for k := range fields {
		f.keys = append(f.keys, k)
	}
	sort.Strings(f.keys)
	for _, k := range f.keys {
		t, err := ParseText(fields[k], env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		f.fields[k] = t
	}
	return f, nil
}

// Render encodes the form, fields in name order.
func (f *Form) Render(vals map[string]any) ([]byte, error) {
	var b strings.Builder
	for i, k := range f.keys {
		v, err := f.fields[k].Render(vals)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	return []byte(b.String()), nil
}
