// Package tmpl is accord's template language: literal text with
// `{{ expression }}` holes, where each expression is expr-lang/expr checked
// against a declared environment at config-check time. A template that is
// a single hole keeps the expression's type (a bool stays a bool), so the
// same language maps typed account attributes and renders URLs and bodies.
package tmpl

import (
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/parser"
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
//
// Only "{{" opens a hole, so literal braces need no escape: a JSON body
// such as {"profile": {"suspended": true}} is plain text. A literal "{{"
// is written as an expression giving it: {{ "{{" }}.
func Parse(src string, env any, opts ...expr.Option) (*Template, error) {
	pieces, err := Split(src)
	if err != nil {
		return nil, err
	}
	t := &Template{src: src}
	// A lone hole (space around it aside) keeps its expression's type.
	single := len(pieces) == 3 && strings.TrimSpace(pieces[0]) == "" && strings.TrimSpace(pieces[2]) == ""
	for i, p := range pieces {
		if i%2 == 0 {
			if p != "" && !single {
				t.parts = append(t.parts, part{lit: p})
			}
			continue
		}
		o := append([]expr.Option{expr.Env(env)}, Functions...)
		if single {
			o = append(o, opts...)
		}
		prog, err := expr.Compile(p, o...)
		if err != nil {
			return nil, friendly(p, env, err)
		}
		t.parts = append(t.parts, part{prog: prog, src: p})
	}
	return t, nil
}

// Split cuts src into literal text and holes: pieces[i] is literal text
// when i is even and the trimmed code of a hole when odd, so the result
// always has an odd length. A hole ends at the first "}}" outside the
// expression's own string literals and braces, so {{ {"a": 1} }} and
// {{ "}}" }} are single holes and {"x": {{ v }}}} closes its objects.
func Split(src string) ([]string, error) {
	var out []string
	for {
		i := strings.Index(src, "{{")
		if i < 0 {
			return append(out, src), nil
		}
		code, rest, err := hole(src[i+2:])
		if err != nil {
			return nil, err
		}
		if code == "" {
			return nil, fmt.Errorf("empty {{ }} in template at offset %d", len(src)-len(src[i:]))
		}
		out = append(out, src[:i], code)
		src = rest
	}
}

// hole reads one expression up to its closing "}}" and returns the
// trimmed code and what follows the hole.
func hole(s string) (code, rest string, err error) {
	depth := 0
	var quote byte
	for k := 0; k < len(s); k++ {
		c := s[k]
		switch {
		case quote != 0:
			if c == '\\' && quote != '`' {
				k++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '{':
			depth++
		case c == '}' && depth == 0 && k+1 < len(s) && s[k+1] == '}':
			return strings.TrimSpace(s[:k]), s[k+2:], nil
		case c == '}' && depth > 0:
			depth--
		}
	}
	return "", "", fmt.Errorf("unclosed {{ in template: {{%s", clip(s))
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// UnknownName finds the first name in code that env does not declare and
// that is neither one of accord's functions, an expr builtin nor a name
// the expression binds itself (let). It reads the expression's syntax
// tree, so it does not depend on the wording of expr's errors.
func UnknownName(code string, env any) (string, bool) {
	tree, err := parser.Parse(code)
	if err != nil {
		return "", false
	}
	c := conf.CreateNew()
	c.WithEnv(env)
	for _, o := range Functions {
		o(c)
	}
	f := &nameFinder{conf: c, bound: map[string]bool{"$env": true}}
	ast.Walk(&tree.Node, f)
	for _, n := range f.seen {
		if !f.bound[n] {
			return n, true
		}
	}
	return "", false
}

type nameFinder struct {
	conf  *conf.Config
	bound map[string]bool // let names, in scope anywhere: a rare shadowing is not worth a scope stack
	seen  []string        // undeclared names in the order the walk met them
}

func (f *nameFinder) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.VariableDeclaratorNode:
		f.bound[x.Name] = true
	case *ast.IdentifierNode:
		if _, ok := f.conf.Env.Get(&f.conf.NtCache, x.Value); ok {
			return
		}
		if f.conf.Functions[x.Value] != nil || f.conf.Builtins[x.Value] != nil {
			return
		}
		f.seen = append(f.seen, x.Value)
	}
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

func friendly(code string, env any, err error) error {
	e := &Error{Expr: code, Err: err}
	if n, ok := UnknownName(code, env); ok {
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
