package tmpl_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/tmpl"
)

var env = map[string]any{"first": "", "last": "", "level": 0, "active": false, "start": time.Time{}}

func TestEvalKeepsTypeOfSingleExpression(t *testing.T) {
	vals := map[string]any{"first": "José", "last": "Núñez Ørsted", "level": 3, "active": true, "start": model.MustDate("2026-01-02").Time()}
	cases := []struct {
		src  string
		want any
	}{
		{"{{ level + 1 }}", int64(4)},
		{"{{ active }}", true},
		{"{{ start }}", model.MustDate("2026-01-02")},
		{"{{ lower(ascii(first)) }}.{{ lower(ascii(replace(last, ' ', ''))) }}@corp.example", "jose.nunezorsted@corp.example"},
		{"constant", "constant"},
		{"{{ date_of(start) }}", "2026-01-02"},
		{"L{{ level }}", "L3"},
	}
	for _, c := range cases {
		tp, err := tmpl.Parse(c.src, env)
		require.NoError(t, err, c.src)
		got, err := tp.Eval(vals)
		require.NoError(t, err, c.src)
		require.Equal(t, c.want, got, c.src)
	}
}

func TestParseErrors(t *testing.T) {
	for src, want := range map[string]string{
		"{{ mail }}":             `unknown name "mail" in {{ mail }}`,
		"{{ first":               "unclosed {{",
		"{{ }}":                  "empty {{ }}",
		"{{ first + }}":          "in {{ first + }}",
		"{{ {\"a\": first }":     "unclosed {{",
		"{{ nick + first }}":     `unknown name "nick"`,
		"{{ let x = 1; x + y }}": `unknown name "y"`,
	} {
		_, err := tmpl.Parse(src, env)
		require.Error(t, err, src)
		require.Contains(t, err.Error(), want, src)
	}
	_, err := tmpl.Parse("{{ first }}", env, expr.AsBool())
	require.Error(t, err, "a string where a bool is declared")
}

func TestRenderEscapesOnlyTheValues(t *testing.T) {
	tp, err := tmpl.Parse("/groups/{{ first }}/members?x={{ last }}", env)
	require.NoError(t, err)
	got, err := tp.Render(map[string]any{"first": "../admin", "last": "a&b=c"}, url.PathEscape)
	require.NoError(t, err)
	require.Equal(t, "/groups/..%2Fadmin/members?x=a&b=c", got)
}

func TestASCII(t *testing.T) {
	require.Equal(t, "Jose Muller strasse Lodz aeo", tmpl.ASCII("José Müller straße Łódź æø"))
}

// A JSON body is literal text with holes: its own braces, "}}" included,
// are text, and a literal "{{" is written as an expression.
func TestLiteralBraces(t *testing.T) {
	vals := map[string]any{"first": "Ann", "active": true}
	for src, want := range map[string]string{
		`{"profile": {"suspended": true}}`:         `{"profile": {"suspended": true}}`,
		`{"profile": {"suspended": {{ active }}}}`: `{"profile": {"suspended": true}}`,
		`{"n": "{{ first }}"}}`:                    `{"n": "Ann"}}`,
		`a {{ "{{" }} b }} c`:                      `a {{ b }} c`,
		`{{ {"k": first}.k }}-{{ "}}" }}`:          `Ann-}}`,
		`{{ first == "}}" ? "x" : 'y}}' }}`:        `y}}`,
	} {
		tp, err := tmpl.Parse(src, env)
		require.NoError(t, err, src)
		got, err := tp.Render(vals, nil)
		require.NoError(t, err, src)
		require.Equal(t, want, got, src)
	}
}

// Unknown names are read from the expression's syntax tree, so names
// bound by the expression itself, functions and builtins are not taken
// for undeclared ones.
func TestUnknownNameFromSyntaxTree(t *testing.T) {
	for code, want := range map[string]string{
		"mail":                         "mail",
		"lower(ascii(first)) + nick":   "nick",
		"let x = first; x + y":         "y",
		"map([1, 2], # + level) + zz":  "zz",
		"upper(first)":                 "",
		"let x = 1; x + level":         "",
		"date_of(start) + ascii(last)": "",
	} {
		got, ok := tmpl.UnknownName(code, env)
		require.Equal(t, want != "", ok, code)
		require.Equal(t, want, got, code)
	}
}
