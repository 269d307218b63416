package source_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/source"
)

func TestLoadCSV(t *testing.T) {
	s := hrSpec(t, "csv")
	persons, err := s.Load(context.Background(), "testdata/people.csv")
	require.NoError(t, err)
	require.Equal(t, []model.Person{
		{Key: "E1", Source: "hr", Start: model.MustDate("2020-01-15"), Attributes: model.Attributes{
			"id": "E1", "name": "Ada Lovelace", "email": "ada@example.com", "grade": int64(7), "manager": true,
			"dept": "Engineering", "start": model.MustDate("2020-01-15"),
		}},
		{Key: "E2", Source: "hr", Start: model.MustDate("2019-03-01"), End: model.MustDate("2025-12-31"), Attributes: model.Attributes{
			"id": "E2", "name": "Grace Hopper", "email": "grace@example.com", "grade": int64(9), "manager": true,
			"dept": "Engineering", "start": model.MustDate("2019-03-01"), "end": model.MustDate("2025-12-31"), "previous_id": "C7",
		}},
		{Key: "E3", Source: "hr", Start: model.MustDate("2021-06-01"), Attributes: model.Attributes{
			"id": "E3", "name": "Hopper, Jr.", "email": "jr@example.com", "manager": false,
			"dept": "Sales", "start": model.MustDate("2021-06-01"),
		}},
	}, persons)
}

func TestThreeBadRecordsRejectTheFile(t *testing.T) {
	tests := []struct {
		format   string
		rows     []int
		problems []where
		rendered string
	}{
		{"csv", []int{3, 5, 7}, []where{
			{3, "email", "not a valid email address"},
			{5, "grade", "not a whole number"},
			{7, "manager", "not a boolean"},
			{7, "dept", "not an allowed value (allowed: Sales, Engineering, HR)"},
		}, `testdata/three_bad.csv: 3 bad rows, file rejected, nothing imported
  row 3, column "email", value "bob@@example.com": not a valid email address
  row 5, column "grade", value "seven": not a whole number (digits only, no fraction or exponent)
  row 7, column "manager", value "maybe": not a boolean (use true/false, yes/no or 1/0)
  row 7, column "dept", value "Marketing": not an allowed value (allowed: Sales, Engineering, HR)`},
		{"jsonl", []int{2, 4, 6}, []where{
			{2, "email", "not a valid email address"},
			{4, "grade", "a JSON string does not fit an int column; expected a JSON number"},
			{6, "manager", "a JSON string does not fit a bool column; expected a JSON boolean"},
			{6, "dept", "not an allowed value"},
		}, `testdata/three_bad.jsonl: 3 bad lines, file rejected, nothing imported
  line 2, column "email", value "bob@@example.com": not a valid email address
  line 4, column "grade", value "7": a JSON string does not fit an int column; expected a JSON number
  line 6, column "manager", value "yes": a JSON string does not fit a bool column; expected a JSON boolean
  line 6, column "dept", value "Marketing": not an allowed value (allowed: Sales, Engineering, HR)`},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			persons, err := hrSpec(t, tt.format).Load(context.Background(), "testdata/three_bad."+tt.format)
			require.Nil(t, persons)
			var rep *source.Report
			require.ErrorAs(t, err, &rep)
			require.Equal(t, tt.rows, rows(rep))
			require.Equal(t, 3, rep.BadRows)
			requireProblems(t, rep, tt.problems...)
			require.Equal(t, tt.rendered, err.Error())
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	s := hrSpec(t, "csv")
	_, err := s.Load(context.Background(), "testdata/nope.csv")
	require.ErrorContains(t, err, `source "hr"`)
	require.ErrorContains(t, err, "nope.csv")
	_, err = s.Load(context.Background(), "")
	require.ErrorContains(t, err, "no path")
}

func TestCSVTypes(t *testing.T) {
	tests := []struct {
		name   string
		col    source.Column
		in     string
		want   any    // the attribute; nil when left out
		reason string // a substring of the problem, if any
	}{
		{"string trimmed", source.Column{Type: "string"}, "  Ada  ", "Ada", ""},
		{"string empty", source.Column{Type: "string"}, "   ", nil, ""},
		{"string required empty", source.Column{Type: "string", Required: true}, "", nil, "required value is empty"},
		{"string invalid UTF-8", source.Column{Type: "string"}, "caf\xe9", nil, "not valid UTF-8"},
		{"string unicode", source.Column{Type: "string"}, "Zoë Ñúñez", "Zoë Ñúñez", ""},
		{"int", source.Column{Type: "int"}, "42", int64(42), ""},
		{"int negative padded", source.Column{Type: "int"}, " -7 ", int64(-7), ""},
		{"int fraction", source.Column{Type: "int"}, "4.2", nil, "not a whole number"},
		{"int word", source.Column{Type: "int"}, "seven", nil, "not a whole number"},
		{"int too big", source.Column{Type: "int"}, "99999999999999999999", nil, "out of range"},
		{"bool yes", source.Column{Type: "bool"}, "Yes", true, ""},
		{"bool no", source.Column{Type: "bool"}, "NO", false, ""},
		{"bool true", source.Column{Type: "bool"}, "true", true, ""},
		{"bool false", source.Column{Type: "bool"}, "False", false, ""},
		{"bool 1", source.Column{Type: "bool"}, "1", true, ""},
		{"bool 0", source.Column{Type: "bool"}, "0", false, ""},
		{"bool maybe", source.Column{Type: "bool"}, "maybe", nil, "not a boolean"},
		{"bool 2", source.Column{Type: "bool"}, "2", nil, "not a boolean"},
		{"date", source.Column{Type: "date"}, "2024-02-29", model.MustDate("2024-02-29"), ""},
		{"date not a leap year", source.Column{Type: "date"}, "2023-02-29", nil, "not a valid date in the layout 2006-01-02"},
		{"date wrong layout", source.Column{Type: "date"}, "2024/01/05", nil, "not a valid date"},
		{"date custom layout", source.Column{Type: "date", Format: "02.01.2006"}, "31.12.2025", model.MustDate("2025-12-31"), ""},
		{"date custom layout mismatch", source.Column{Type: "date", Format: "02.01.2006"}, "2025-12-31", nil, "layout 02.01.2006"},
		{"email domain lower-cased", source.Column{Type: "email"}, "Ada.L@Example.COM", "Ada.L@example.com", ""},
		{"email plus", source.Column{Type: "email"}, "a+hr@x.io", "a+hr@x.io", ""},
		{"email display name", source.Column{Type: "email"}, "Ada <ada@x.io>", nil, "must be a bare address"},
		{"email brackets", source.Column{Type: "email"}, "<ada@x.io>", nil, "must be a bare address"},
		{"email double at", source.Column{Type: "email"}, "ada@@x.io", nil, "not a valid email address"},
		{"email no at", source.Column{Type: "email"}, "ada.x.io", nil, "not a valid email address"},
		{"enum", source.Column{Type: "enum", Values: []string{"Sales", "HR"}}, " HR ", "HR", ""},
		{"enum case", source.Column{Type: "enum", Values: []string{"Sales", "HR"}}, "sales", nil, `did you mean "Sales"?`},
		{"enum unknown", source.Column{Type: "enum", Values: []string{"Sales", "HR"}}, "Legal", nil, "allowed: Sales, HR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := oneColumn("csv", tt.col)
			persons, rep := read(t, s, "id,v\nP1,"+quote(tt.in)+"\n")
			if tt.reason != "" {
				require.NotNil(t, rep)
				requireProblems(t, rep, where{2, "v", tt.reason})
				return
			}
			require.Nil(t, rep)
			require.Len(t, persons, 1)
			requireAttr(t, persons[0], tt.want)
		})
	}
}

// quote writes a CSV field that survives any content.
func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func TestCSVEncodings(t *testing.T) {
	t.Run("BOM, CRLF and a quoted newline", func(t *testing.T) {
		s := hrSpec(t, "csv")
		// The BOM and CRLF endings are read as a spreadsheet writes them;
		// the line break inside Ada's quoted name is a control character a
		// target would get, so it is the feed's one problem.
		_, err := s.Load(context.Background(), "testdata/bom_crlf.csv")
		var rep *source.Report
		require.ErrorAs(t, err, &rep)
		requireProblems(t, rep, where{2, "name", "contains a control character, U+000A (line feed), at character 4"})
		require.Contains(t, rep.Error(), `testdata/bom_crlf.csv: 1 bad row, file rejected, nothing imported
  row 2, column "name", value "Ada\nLovelace": contains a control character, U+000A (line feed)`)
	})
	t.Run("rows count a multi-line record once", func(t *testing.T) {
		s := oneColumn("csv", source.Column{Type: "int"})
		// Row 2 spans lines 2-4; row 3 is blank; row 4 is line 6.
		rep := mustReject(t, s, "id,v\r\nP1,\"1\r\n2\r\n\"\r\n\r\nP2,x\r\n")
		requireProblems(t, rep, where{2, "v", "U+000A (line feed)"}, where{4, "v", "not a whole number"})
		require.Equal(t, 2, rep.Problems[0].Line)
		require.Equal(t, 6, rep.Problems[1].Line)
		require.Contains(t, rep.Error(), "  row 4 (line 6), column \"v\"")
	})
	t.Run("semicolons and padding around quotes", func(t *testing.T) {
		s := oneColumn("csv", source.Column{Type: "string"})
		s.Delimiter = ";"
		persons, rep := read(t, s, " id ; v \nP1 ;  \"a;b\"  \nP2;\"x\"\"y\"\n")
		require.Nil(t, rep)
		require.Equal(t, "a;b", persons[0].Attributes["v"])
		require.Equal(t, `x"y`, persons[1].Attributes["v"])
	})
	t.Run("tab delimiter keeps empty tab fields", func(t *testing.T) {
		s := oneColumn("csv", source.Column{Type: "string"})
		s.Delimiter = "\t"
		persons, rep := read(t, s, "id\tv\nP1\t\nP2\t x \n")
		require.Nil(t, rep)
		require.NotContains(t, persons[0].Attributes, "v")
		require.Equal(t, "x", persons[1].Attributes["v"])
	})
	t.Run("stray quote inside an unquoted field", func(t *testing.T) {
		s := oneColumn("csv", source.Column{Type: "string"})
		persons, rep := read(t, s, "id,v\nP1,5'10\"\n")
		require.Nil(t, rep)
		require.Equal(t, `5'10"`, persons[0].Attributes["v"])
	})
	t.Run("no final newline", func(t *testing.T) {
		persons, rep := read(t, oneColumn("csv", source.Column{Type: "string"}), "id,v\nP1,a")
		require.Nil(t, rep)
		require.Equal(t, "a", persons[0].Attributes["v"])
	})
	t.Run("header only", func(t *testing.T) {
		persons, rep := read(t, oneColumn("csv", source.Column{Type: "string"}), "\xef\xbb\xbfid,v\r\n")
		require.Nil(t, rep)
		require.Empty(t, persons)
	})
}

func TestCSVStructure(t *testing.T) {
	runStructure(t, "csv", []structureCase{
		{"empty file", "", "", []where{{1, "", "the file is empty"}}},
		{"blank file", "", "\n\n", []where{{1, "", "the file is empty"}}},
		{"missing column", "", "id\nP1\n", []where{{1, "v", "declared column is missing from the header"}}},
		{"duplicate column", "", "id,v,v\nP1,a,b\n", []where{{1, "v", "appears twice in the header (columns 2 and 3)"}}},
		{"undeclared column", "", "id,v,x\nP1,a,b\n", []where{{1, "x", "not declared in the source"}}},
		{"undeclared column ignored", "ignore", "id,v,x,\nP1,a,b,c\n", nil},
		{"column differing in case", "", "id,V\nP1,a\n", []where{
			{1, "V", `did you mean "v"?`}, {1, "v", "missing from the header"}}},
		{"unnamed column", "", "id,v,\nP1,a,b\n", []where{{1, "", "column 3 has no name"}}},
		{"header with invalid UTF-8", "", "id,v,\xff\nP1,a,b\n", []where{{1, "", "column 3 is not valid UTF-8"}}},
		{"bad quote in header", "", "id,\"v\"x\nP1,a\n", []where{{1, "", `unexpected 'x' after a closing quote`}}},
		{"too few fields", "", "id,v\nP1\nP2,b\n", []where{{2, "", "has 1 fields, the header has 2"}}},
		{"too many fields", "", "id,v\nP1,a,b\n", []where{{2, "", "has 3 fields, the header has 2"}}},
		{"required key empty", "", "id,v\n ,a\n", []where{{2, "id", "required value is empty"}}},
		{"text after a closing quote, then go on", "", "id,v\nP1,\"a\"b\nP2,ok\nP3,\"c\" d\n", []where{
			{2, "", `column 2: unexpected 'b' after a closing quote`}, {4, "", `column 2: unexpected 'd'`}}},
		{"quote never closed", "", "id,v\nP1,a\nP2,\"b\nP3,c\n", []where{{3, "", "quoted field of column 2 is never closed"}}},
	})
}

func TestHeaderProblemsAreNotRepeatedPerRow(t *testing.T) {
	s := oneColumn("csv", source.Column{Type: "string", Required: true})
	rep := mustReject(t, s, "id\nP1\nP2\nP1\n")
	requireProblems(t, rep, where{1, "v", "missing from the header"}, where{4, "id", "duplicate key: also on row 2"})
	require.Equal(t, 1, rep.HeaderProblems)
	require.Equal(t, 1, rep.BadRows)
	require.True(t, strings.HasPrefix(rep.Error(), "t: bad header (1 problem) and 1 bad row, file rejected, nothing imported\n  row 1 (header), column \"v\": "), rep.Error())
}

func TestLongRecords(t *testing.T) {
	s := oneColumn("csv", source.Column{Type: "string"})
	huge := strings.Repeat("x", 1<<20+10)
	rep := mustReject(t, s, "id,v\nP1,"+huge+"\nP2,\""+huge+"\"\nP3,ok\nP4,\"a\n"+huge+"\"\nP5,ok\n")
	requireProblems(t, rep, where{2, "", "longer than"}, where{3, "", "longer than"}, where{5, "", "longer than"})
	require.Equal(t, 5, rep.Problems[2].Line)

	s.Columns[1].MaxLength = 300 << 10
	_, rep = read(t, s, "id,v\nP1,"+strings.Repeat("y", 200<<10)+"\n")
	require.Nil(t, rep, "a long record under the limit is fine")
}

func TestReadCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, format := range []string{"csv", "jsonl"} {
		_, err := hrSpec(t, format).Read(ctx, strings.NewReader("id,v\n"))
		require.ErrorIs(t, err, context.Canceled)
	}
}
