package source_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/source"
)

// Issue 12: control and bidi characters, and values no target would
// take, reject the feed with the row, column and code point; the rows
// that are fine are not imported either.
func TestFeedRefusesUnsafeCharactersAndLongValues(t *testing.T) {
	s := &source.Spec{Name: "hr", Format: "csv", Key: "id", Columns: []source.Column{
		{Name: "id", Type: "string"}, {Name: "first_name", Type: "string"}, {Name: "title", Type: "string", MaxLength: 10},
	}}
	million := strings.Repeat("a", 1_000_000)
	feed := "id,first_name,title\n" +
		"P1,Ada,Engineer\n" +
		"P2\u202e1P,Bob,x\n" + // a key that would print as "P2P1" reversed
		"P3,\"Cy\x00\",x\n" +
		"P4," + million + ",x\n" +
		"P5,Dee,Head of Sales\n" +
		"P6,\"Eve\tEve\",x\n" + // a tab is free text's to keep
		"P7\t7,Fay,x\n"
	rep := mustReject(t, s, feed)
	requireProblems(t, rep,
		where{3, "id", "U+202E (right-to-left override), at character 3"},
		where{4, "first_name", "U+0000 (NUL), at character 3"},
		where{5, "first_name", "is 1000000 characters long; the column allows at most 1024 (max_length)"},
		where{6, "title", "is 13 characters long; the column allows at most 10 (max_length)"},
		where{8, "id", "U+0009 (tab)"},
	)
	msg := rep.Error()
	require.Contains(t, msg, "hr: 5 bad rows, file rejected, nothing imported")
	// The value is shown escaped and cut, never raw.
	require.Contains(t, msg, `row 3, column "id", value "P2\u202e1P": contains an invisible bidirectional-text character`)
	require.Contains(t, msg, `row 5, column "first_name", value "aaaa`)
	require.Less(t, len(msg), 2000)

	// The same rules hold for JSONL and for persons given over the API.
	js := &source.Spec{Name: "hr", Format: "jsonl", Key: "id", Columns: s.Columns}
	rep = mustReject(t, js, `{"id":"P1","first_name":"`+million+`"}`+"\n"+`{"id":"P\u2067","first_name":"x"}`+"\n")
	requireProblems(t, rep, where{1, "first_name", "is 1000000 characters long"}, where{2, "id", "U+2067 (right-to-left isolate)"})
	_, fps := js.ParseRecord(map[string]any{"id": "P1\x1b[2J", "first_name": million})
	require.Equal(t, []source.FieldProblem{
		{Field: "id", Reason: "contains a control character, U+001B (escape), at character 3; remove it from the source data"},
		{Field: "first_name", Reason: "is 1000000 characters long; the column allows at most 1024 (max_length)"},
	}, fps)
}

func TestSpecChecksMaxLength(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{
		{-1, "columns[1].max_length: must be positive (or left out for the default of 1024 characters), not -1"},
		{2 << 20, "columns[1].max_length: must be at most 1048576 characters"},
	} {
		s := oneColumn("csv", source.Column{Type: "string", MaxLength: tc.n})
		ps := s.Check()
		require.Len(t, ps, 1)
		require.Contains(t, ps[0].String(), tc.want)
	}
	require.Empty(t, oneColumn("csv", source.Column{Type: "string", MaxLength: 5000}).Check())
}
