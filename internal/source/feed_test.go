package source_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/source"
)

// convSpec has start, end and previous_key columns, in both formats.
func convSpec(format string) *source.Spec {
	return &source.Spec{
		Name: "hr", Format: format, Key: "id", Start: "start", End: "end", PreviousKey: "prev",
		Columns: []source.Column{
			{Name: "id", Type: "string"}, {Name: "start", Type: "date"}, {Name: "end", Type: "date"}, {Name: "prev", Type: "string"},
		},
	}
}

// feed writes rows of (id, start, end, prev) in the spec's format.
func feed(format string, rows ...[4]string) string {
	var b strings.Builder
	if format == "csv" {
		b.WriteString("id,start,end,prev\n")
	}
	for _, r := range rows {
		if format == "csv" {
			b.WriteString(strings.Join(r[:], ",") + "\n")
			continue
		}
		fmt.Fprintf(&b, `{"id":%q,"start":%q,"end":%q,"prev":%q}`+"\n", r[0], r[1], r[2], r[3])
	}
	return b.String()
}

func TestChecksAcrossRecords(t *testing.T) {
	tests := []struct {
		name string
		rows [][4]string
		want []where // rows as in CSV; JSONL lines are one less
	}{
		{"good", [][4]string{{"E1", "2020-01-01", "2020-01-01", ""}, {"E2", "", "", "C2"}}, nil},
		{"duplicate keys name both rows", [][4]string{{"E1", "", "", ""}, {"E2", "", "", ""}, {"E1", "", "", ""}, {"E1", "", "", ""}}, []where{
			{4, "id", "duplicate key: also on %s 2"}, {5, "id", "duplicate key: also on %s 2"}}},
		{"start after end", [][4]string{{"E1", "2024-02-01", "2024-01-31", ""}}, []where{{2, "end", "end is before start 2024-02-01"}}},
		{"previous key is own key", [][4]string{{"E1", "", "", "E1"}}, []where{{2, "prev", "previous key is the person's own key"}}},
		{"previous key claimed twice", [][4]string{{"E1", "", "", "C1"}, {"E2", "", "", "C1"}}, []where{
			{3, "prev", "previous key is also claimed on %s 2"}}},
		{"previous key still current", [][4]string{{"E1", "", "", "C1"}, {"C1", "", "", ""}}, []where{
			{2, "prev", "previous key is still the key of the person on %s 3"}}},
		{"chain", [][4]string{{"B", "", "", "A"}, {"C", "", "", "B"}}, []where{
			{3, "prev", "previous key is still the key of the person on %s 2"}}},
	}
	for _, format := range []string{"csv", "jsonl"} {
		unit, offset := "row", 0
		if format == "jsonl" {
			unit, offset = "line", 1
		}
		for _, tt := range tests {
			t.Run(format+"/"+tt.name, func(t *testing.T) {
				persons, rep := read(t, convSpec(format), feed(format, tt.rows...))
				if tt.want == nil {
					require.Nil(t, rep)
					require.Len(t, persons, len(tt.rows))
					return
				}
				require.NotNil(t, rep)
				want := make([]where, len(tt.want))
				for i, w := range tt.want {
					w.Row -= offset
					w.Reason = strings.ReplaceAll(w.Reason, "%s "+"2", fmt.Sprintf("%s %d", unit, 2-offset))
					w.Reason = strings.ReplaceAll(w.Reason, "%s "+"3", fmt.Sprintf("%s %d", unit, 3-offset))
					want[i] = w
				}
				requireProblems(t, rep, want...)
			})
		}
	}
}

func TestRekeys(t *testing.T) {
	spec := convSpec("csv")
	person := func(source, key, prev string) model.Person {
		p := model.Person{Key: key, Source: source, Attributes: model.Attributes{"id": key}}
		if prev != "" {
			p.Attributes["prev"] = prev
		}
		return p
	}
	tests := []struct {
		name    string
		persons []model.Person
		want    []source.Rekey
		err     string
	}{
		{"none", []model.Person{person("hr", "E1", "")}, nil, ""},
		{"sorted by new key", []model.Person{person("hr", "E2", "C2"), person("hr", "E1", "C1"), person("other", "E3", "C3")},
			[]source.Rekey{{From: "C1", To: "E1"}, {From: "C2", To: "E2"}}, ""},
		{"own key", []model.Person{person("hr", "E1", "E1")}, nil, `person "E1" names their own key`},
		{"claimed twice", []model.Person{person("hr", "E1", "C1"), person("hr", "E2", "C1")}, nil, `persons "E1" and "E2" both name previous key "C1"`},
		{"still current", []model.Person{person("hr", "E1", "C1"), person("hr", "C1", "")}, nil, `previous key "C1", which is still a current key`},
		{"current in another source is the store's business", []model.Person{person("hr", "E1", "C1"), person("contractors", "C1", "")},
			[]source.Rekey{{From: "C1", To: "E1"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := source.Rekeys(tt.persons, spec)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	noPrev := convSpec("csv")
	noPrev.PreviousKey = ""
	got, err := source.Rekeys([]model.Person{person("hr", "E1", "C1")}, noPrev)
	require.NoError(t, err)
	require.Nil(t, got)
}

func TestRekeysFromFeed(t *testing.T) {
	persons, rep := read(t, convSpec("csv"), feed("csv", [4]string{"E1", "", "", "C1"}, [4]string{"E2", "", "", ""}))
	require.Nil(t, rep)
	got, err := source.Rekeys(persons, convSpec("csv"))
	require.NoError(t, err)
	require.Equal(t, []source.Rekey{{From: "C1", To: "E1"}}, got)
}

func TestReportRendering(t *testing.T) {
	s := oneColumn("csv", source.Column{Type: "int"})
	var b strings.Builder
	b.WriteString("id,v\n")
	for i := range 150 {
		fmt.Fprintf(&b, "P%d,x%d\n", i, i)
	}
	long := strings.Repeat("é", 100)
	fmt.Fprintf(&b, "P150,%s\nP1,1\n", long)
	rep := mustReject(t, s, b.String())
	require.Equal(t, 152, rep.BadRows)
	require.Len(t, rep.Problems, 152)

	msg := rep.Error()
	lines := strings.Split(msg, "\n")
	require.Equal(t, "t: 152 bad rows, file rejected, nothing imported", lines[0])
	require.Equal(t, `  row 2, column "v", value "x0": not a whole number (digits only, no fraction or exponent)`, lines[1])
	require.Equal(t, "  … and 52 more problems", lines[len(lines)-1])
	require.Len(t, lines, 1+100+1)

	var all strings.Builder
	_, err := rep.WriteTo(&all)
	require.NoError(t, err)
	require.Equal(t, 1+152, strings.Count(all.String(), "\n"))
	require.Contains(t, all.String(), `row 153, column "id", value "P1": duplicate key: also on row 3`)

	// The long value is cut at a character boundary.
	require.Equal(t, strings.Repeat("é", 32)+"…", rep.Problems[150].Value)
	for _, q := range rep.Problems {
		require.LessOrEqual(t, len(q.Value), 64+len("…"))
	}
}

func TestReportKeepsAtMostMaxProblems(t *testing.T) {
	s := oneColumn("csv", source.Column{Type: "int"})
	var b strings.Builder
	b.WriteString("id,v\n")
	n := source.MaxProblems + 5
	for i := range n {
		fmt.Fprintf(&b, "P%d,x\n", i)
	}
	rep := mustReject(t, s, b.String())
	require.Len(t, rep.Problems, source.MaxProblems)
	require.Equal(t, 5, rep.Omitted)
	require.Equal(t, n, rep.BadRows)
	require.True(t, strings.HasSuffix(rep.Error(), fmt.Sprintf("… and %d more problems", n-100)), rep.Error()[len(rep.Error())-80:])
}
