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
		"{{ mail }}":    `unknown name "mail" in {{ mail }}`,
		"{{ first":      "unclosed {{",
		"first }}":      "unmatched }}",
		"{{ }}":         "empty {{ }}",
		"{{ first + }}": "in {{ first + }}",
		"a{{first}}b}}": "unmatched }}",
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
