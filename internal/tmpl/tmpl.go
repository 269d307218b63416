// Package tmpl is accord's template language: literal text with
// `{{ expression }}` holes, where each expression is expr-lang/expr checked
// against a declared environment at config-check time. A template that is
// a single hole keeps the expression's type (a bool stays a bool), so the
// same language maps typed account attributes and renders URLs and bodies.
package tmpl

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/accord-iam/accord/internal/model"
)

// vms are reused between runs: a VM is not safe for concurrent use, but
// allocating one per expression per person dominated planning time.
var vms = sync.Pool{New: func() any { return new(vm.VM) }}

// Run runs a compiled expression on a pooled VM.
func Run(prog *vm.Program, env any) (any, error) {
	v := vms.Get().(*vm.VM)
	out, err := v.Run(prog, env)
	vms.Put(v)
	return out, err
}

// Template is a compiled template.
type Template struct {
	src   string
	parts []part
}

type part struct {
	lit  string
	prog *vm.Program
	src  string
}

// Functions offered to every expression on top of expr's builtins.
var Functions = []expr.Option{
	expr.Function("ascii", func(params ...any) (any, error) {
		s, ok := params[0].(string)
		if !ok {
			return nil, fmt.Errorf("ascii() takes a string, got %T", params[0])
		}
		return ASCII(s), nil
	}, new(func(string) string)),
	expr.Function("date_of", func(params ...any) (any, error) {
		t, ok := params[0].(time.Time)
		if !ok {
			return nil, fmt.Errorf("date_of() takes a date, got %T", params[0])
		}
		if t.IsZero() {
			return "", nil
		}
		return t.Format(model.DateLayout), nil
	}, new(func(time.Time) string)),
}

var asciiFold = transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)

// ASCII strips diacritics ("José Müller" -> "Jose Muller") and drops what
// is still not ASCII, for login names on targets that allow nothing else.
func ASCII(s string) string {
	out, _, err := transform.String(asciiFold, s)
	if err != nil {
		out = s
	}
	var b strings.Builder
	for _, r := range out {
		switch r {
		case 'ß':
			b.WriteString("ss")
		case 'ø', 'Ø':
			b.WriteByte('o')
		case 'æ':
			b.WriteString("ae")
		case 'ł':
			b.WriteByte('l')
		case 'Ł':
			b.WriteByte('L')
		case 'Æ':
			b.WriteString("AE")
		case 'đ':
			b.WriteByte('d')
		case 'Đ':
			b.WriteByte('D')
		default:
			if r < unicode.MaxASCII {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// Parse compiles src against env (a map or struct whose shape declares
// the names an expression may use). opts are passed to every expression,
// e.g. expr.AsBool() to require a type for a single-hole template.
func Parse(src string, env any, opts ...expr.Option) (*Template, error) {
	t := &Template{src: src}
	rest := src
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if strings.Contains(rest, "}}") {
				return nil, errors.New("unmatched }} in template")
			}
			if rest != "" {
				t.parts = append(t.parts, part{lit: rest})
			}
			break
		}
		if i > 0 {
			if strings.Contains(rest[:i], "}}") {
				return nil, errors.New("unmatched }} in template")
			}
			t.parts = append(t.parts, part{lit: rest[:i]})
		}
		rest = rest[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return nil, errors.New("unclosed {{ in template")
		}
		code := strings.TrimSpace(rest[:j])
		if code == "" {
			return nil, errors.New("empty {{ }} in template")
		}
		o := append([]expr.Option{expr.Env(env)}, Functions...)
		if len(opts) > 0 && t.single(rest[j+2:]) {
			o = append(o, opts...)
		}
		prog, err := expr.Compile(code, o...)
		if err != nil {
			return nil, friendly(code, err)
		}
		t.parts = append(t.parts, part{prog: prog, src: code})
		rest = rest[j+2:]
	}
	return t, nil
}

// single reports whether the hole being compiled is the whole template.
func (t *Template) single(after string) bool {
	return len(t.parts) == 0 && strings.TrimSpace(after) == "" && strings.HasPrefix(strings.TrimSpace(t.src), "{{")
}

var unknownName = regexp.MustCompile(`unknown name ([A-Za-z_][A-Za-z0-9_]*)`)

// UnknownName extracts the undeclared name from a compile error, if that
// is what the error is about.
func UnknownName(err error) (string, bool) {
	m := unknownName.FindStringSubmatch(err.Error())
	if m == nil {
		return "", false
	}
	return m[1], true
}

// Error is a template compile error with the expression it is about.
type Error struct {
	Expr string
	Name string // the unknown name, when that is the problem
	Err  error
}

func (e *Error) Error() string {
	if e.Name != "" {
		return fmt.Sprintf("unknown name %q in {{ %s }}", e.Name, e.Expr)
	}
	msg := strings.TrimSpace(e.Err.Error())
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return fmt.Sprintf("in {{ %s }}: %s", e.Expr, msg)
}

func (e *Error) Unwrap() error { return e.Err }

func friendly(code string, err error) error {
	e := &Error{Expr: code, Err: err}
	if n, ok := UnknownName(err); ok {
		e.Name = n
	}
	return e
}

// Source returns the template text.
func (t *Template) Source() string { return t.src }

// Single reports whether the template is one expression and nothing else,
// so Eval keeps its type.
func (t *Template) Single() bool { return len(t.parts) == 1 && t.parts[0].prog != nil }

// Constant reports whether the template has no expressions.
func (t *Template) Constant() bool {
	for _, p := range t.parts {
		if p.prog != nil {
			return false
		}
	}
	return true
}

// Eval runs the template: a single expression gives its typed result,
// anything else the rendered string.
func (t *Template) Eval(env any) (any, error) {
	if t.Single() {
		v, err := Run(t.parts[0].prog, env)
		if err != nil {
			return nil, fmt.Errorf("{{ %s }}: %w", t.parts[0].src, err)
		}
		return typed(v), nil
	}
	return t.Render(env, nil)
}

// Render runs the template and concatenates the parts, passing each
// expression's result through escape (nil = as is). Literal text is not
// escaped: it is the template author's.
func (t *Template) Render(env any, escape func(string) string) (string, error) {
	if len(t.parts) == 1 && t.parts[0].prog == nil {
		return t.parts[0].lit, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.prog == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := Run(p.prog, env)
		if err != nil {
			return "", fmt.Errorf("{{ %s }}: %w", p.src, err)
		}
		s := model.FormatValue(typed(v))
		if escape != nil {
			s = escape(s)
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// typed converts expression results into attribute value types.
func typed(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return model.DateOf(x)
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = model.FormatValue(typed(e))
		}
		return out
	}
	return v
}
