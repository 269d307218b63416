package source_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/source"
	"github.com/accord-iam/accord/internal/yamlx"
)

// hrSpec decodes testdata/hr.yaml the way the config loader does.
func hrSpec(t testing.TB, format string) *source.Spec {
	t.Helper()
	data, err := os.ReadFile("testdata/hr.yaml")
	require.NoError(t, err)
	node, err := yamlx.Parse(data)
	require.NoError(t, err)
	var s source.Spec
	require.Empty(t, yamlx.Decode(node, &s, ""))
	s.Format = format
	require.Empty(t, s.Check())
	return &s
}

// oneColumn is a spec with a string key "id" and the column under test "v".
func oneColumn(format string, c source.Column) *source.Spec {
	c.Name = "v"
	return &source.Spec{Name: "t", Format: format, Key: "id", Columns: []source.Column{{Name: "id", Type: "string"}, c}}
}

// read reads content and splits the outcome into persons or a report.
func read(t *testing.T, s *source.Spec, content string) ([]model.Person, *source.Report) {
	t.Helper()
	persons, err := s.Read(context.Background(), strings.NewReader(content))
	if err == nil {
		require.NotNil(t, persons, "a good feed gives a non-nil slice")
		return persons, nil
	}
	var rep *source.Report
	require.ErrorAs(t, err, &rep)
	require.Nil(t, persons, "a rejected feed gives no persons")
	return nil, rep
}

// mustReject reads content and requires a report.
func mustReject(t *testing.T, s *source.Spec, content string) *source.Report {
	t.Helper()
	_, rep := read(t, s, content)
	require.NotNil(t, rep, "feed should have been rejected")
	return rep
}

// where is a compact form of a problem for table tests.
type where struct {
	Row    int
	Column string
	Reason string // a substring of the reason
}

func requireProblems(t *testing.T, rep *source.Report, want ...where) {
	t.Helper()
	got := make([]string, len(rep.Problems))
	for i, p := range rep.Problems {
		got[i] = p.Reason
	}
	require.Len(t, rep.Problems, len(want), "problems: %q", got)
	for i, w := range want {
		p := rep.Problems[i]
		require.Equal(t, w.Row, p.Row, "problem %d: %+v", i, p)
		require.Equal(t, w.Column, p.Column, "problem %d: %+v", i, p)
		require.Contains(t, p.Reason, w.Reason, "problem %d", i)
	}
}

func rows(rep *source.Report) []int {
	var out []int
	for _, p := range rep.Problems {
		if len(out) == 0 || out[len(out)-1] != p.Row {
			out = append(out, p.Row)
		}
	}
	return out
}

// structureCase is a whole feed for column "v" (a string) and the problems
// it gives; want nil means it is accepted.
type structureCase struct {
	name  string
	extra string // extra_columns
	in    string
	want  []where
}

func runStructure(t *testing.T, format string, tests []structureCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := oneColumn(format, source.Column{Type: "string"})
			s.ExtraColumns = tt.extra
			persons, rep := read(t, s, tt.in)
			if tt.want == nil {
				require.Nil(t, rep)
				require.NotNil(t, persons)
				return
			}
			require.NotNil(t, rep)
			requireProblems(t, rep, tt.want...)
		})
	}
}

// requireAttr checks attribute "v" of p; want nil means it is left out.
func requireAttr(t *testing.T, p model.Person, want any) {
	t.Helper()
	got, ok := p.Attributes["v"]
	if want == nil {
		require.False(t, ok, "empty values are left out, got %#v", got)
		return
	}
	require.Equal(t, want, got)
}
