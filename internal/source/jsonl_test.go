package source_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/source"
)

func TestLoadJSONL(t *testing.T) {
	csv, err := hrSpec(t, "csv").Load(context.Background(), "testdata/people.csv")
	require.NoError(t, err)
	jsonl, err := hrSpec(t, "jsonl").Load(context.Background(), "testdata/people.jsonl")
	require.NoError(t, err)
	require.Equal(t, csv, jsonl, "the same people in both formats")
}

// jsonTypes are the cases shared by JSONL lines and ParseRecord: a raw
// JSON value for column "v", and the attribute or the problem it gives.
var jsonTypes = []struct {
	name   string
	col    source.Column
	in     string
	want   any
	reason string
}{
	{"string", source.Column{Type: "string"}, `" Ada "`, "Ada", ""},
	{"string escapes", source.Column{Type: "string"}, `"caf\u00e9 \"x\"\n"`, `café "x"`, ""},
	{"string with an escaped NUL", source.Column{Type: "string"}, `"a\u0000b"`, nil, "contains a control character, U+0000 (NUL), at character 2"},
	{"string with a bidi override", source.Column{Type: "string"}, `"adm\u202ein"`, nil, "U+202E (right-to-left override), at character 4"},
	{"string with a raw C1 control", source.Column{Type: "string"}, "\"a\u0085b\"", nil, "U+0085"},
	{"string with a tab", source.Column{Type: "string"}, `"a\tb"`, "a\tb", ""},
	{"string over max_length", source.Column{Type: "string", MaxLength: 3}, `"abcd"`, nil, "is 4 characters long; the column allows at most 3 (max_length)"},
	{"string at max_length in characters", source.Column{Type: "string", MaxLength: 3}, `"äöü"`, "äöü", ""},
	{"string blank", source.Column{Type: "string"}, `"  "`, nil, ""},
	{"string null", source.Column{Type: "string"}, `null`, nil, ""},
	{"string required null", source.Column{Type: "string", Required: true}, `null`, nil, "required value is empty"},
	{"string from number", source.Column{Type: "string"}, `12`, nil, "a JSON number does not fit a string column; expected a JSON string"},
	{"string from bool", source.Column{Type: "string"}, `true`, nil, "a JSON boolean does not fit a string column"},
	{"string from object", source.Column{Type: "string"}, `{"a": [1, "}"]}`, nil, "a JSON object does not fit a string column"},
	{"string from list", source.Column{Type: "string"}, `["a"]`, nil, "a JSON list does not fit a string column"},
	{"int", source.Column{Type: "int"}, `42`, int64(42), ""},
	{"int negative", source.Column{Type: "int"}, `-7`, int64(-7), ""},
	{"int fraction", source.Column{Type: "int"}, `4.5`, nil, "not a whole number"},
	{"int exponent", source.Column{Type: "int"}, `1e3`, int64(1000), ""},
	{"int point zero", source.Column{Type: "int"}, `-2.0`, int64(-2), ""},
	{"int fraction exponent", source.Column{Type: "int"}, `1.5e-1`, nil, "not a whole number"},
	{"int too big", source.Column{Type: "int"}, `99999999999999999999`, nil, "out of range"},
	{"int from string", source.Column{Type: "int"}, `"42"`, nil, "a JSON string does not fit an int column; expected a JSON number"},
	{"bool", source.Column{Type: "bool"}, `false`, false, ""},
	{"bool from string", source.Column{Type: "bool"}, `"yes"`, nil, "expected a JSON boolean"},
	{"bool from number", source.Column{Type: "bool"}, `1`, nil, "expected a JSON boolean"},
	{"date", source.Column{Type: "date"}, `"2024-02-29"`, model.MustDate("2024-02-29"), ""},
	{"date bad", source.Column{Type: "date"}, `"2024-02-30"`, nil, "not a valid date"},
	{"date from number", source.Column{Type: "date"}, `20240101`, nil, "expected a JSON string"},
	{"email", source.Column{Type: "email"}, `"Ada@Example.Com"`, "Ada@example.com", ""},
	{"email bad", source.Column{Type: "email"}, `"Ada <ada@example.com>"`, nil, "bare address"},
	{"enum", source.Column{Type: "enum", Values: []string{"a", "b"}}, `"b"`, "b", ""},
	{"enum bad", source.Column{Type: "enum", Values: []string{"a", "b"}}, `"c"`, nil, "allowed: a, b"},
}

func TestJSONLTypes(t *testing.T) {
	for _, tt := range jsonTypes {
		t.Run(tt.name, func(t *testing.T) {
			persons, rep := read(t, oneColumn("jsonl", tt.col), `{"id": "P1", "v": `+tt.in+"}\n")
			if tt.reason != "" {
				require.NotNil(t, rep)
				requireProblems(t, rep, where{1, "v", tt.reason})
				return
			}
			require.Nil(t, rep)
			requireAttr(t, persons[0], tt.want)
		})
	}
}

func TestParseRecordTypes(t *testing.T) {
	for _, tt := range jsonTypes {
		for _, useNumber := range []bool{false, true} {
			t.Run(tt.name, func(t *testing.T) {
				dec := json.NewDecoder(bytes.NewReader([]byte(`{"id": "P1", "v": ` + tt.in + "}")))
				if useNumber {
					dec.UseNumber()
				}
				var values map[string]any
				require.NoError(t, dec.Decode(&values))
				p, fps := oneColumn("jsonl", tt.col).ParseRecord(values)
				if tt.reason != "" {
					require.Len(t, fps, 1, "%v", fps)
					require.Equal(t, "v", fps[0].Field)
					require.Contains(t, fps[0].Reason, tt.reason)
					require.Equal(t, model.Person{}, p)
					return
				}
				require.Empty(t, fps)
				require.Equal(t, "P1", p.Key)
				require.Equal(t, "t", p.Source)
				requireAttr(t, p, tt.want)
			})
		}
	}
}

func TestParseRecord(t *testing.T) {
	s := hrSpec(t, "jsonl")
	tests := []struct {
		name   string
		values map[string]any
		want   []source.FieldProblem // Reason is a substring
	}{
		{"good", map[string]any{"id": "E9", "name": "Ada", "email": "ada@x.io", "grade": 3.0, "start": "2024-01-01", "end": "31.12.2024", "previous_id": "C9"}, nil},
		{"every problem at once", map[string]any{
			"id": nil, "name": "", "email": 5, "grade": 1.5, "manager": "no", "dept": "sales", "colour": "red",
		}, []source.FieldProblem{
			{Field: "colour", Reason: "not declared in the source"},
			{Field: "id", Reason: "required value is empty"},
			{Field: "name", Reason: "required value is empty"},
			{Field: "email", Reason: "a JSON number does not fit an email column"},
			{Field: "grade", Reason: "not a whole number"},
			{Field: "manager", Reason: "expected a JSON boolean"},
			{Field: "dept", Reason: `did you mean "Sales"?`},
		}},
		{"missing required", map[string]any{"id": "E9"}, []source.FieldProblem{
			{Field: "name", Reason: "required value is missing"}, {Field: "email", Reason: "required value is missing"}}},
		{"end before start", map[string]any{"id": "E9", "name": "A", "email": "a@x.io", "start": "2024-05-01", "end": "30.04.2024"},
			[]source.FieldProblem{{Field: "end", Reason: "end is before start 2024-05-01"}}},
		{"previous key is own key", map[string]any{"id": "E9", "name": "A", "email": "a@x.io", "previous_id": "E9"},
			[]source.FieldProblem{{Field: "previous_id", Reason: "previous key is the person's own key"}}},
		{"nested", map[string]any{"id": "E9", "name": map[string]any{"first": "A"}, "email": []any{"a@x.io"}},
			[]source.FieldProblem{{Field: "name", Reason: "a JSON object does not fit"}, {Field: "email", Reason: "a JSON list does not fit"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, fps := s.ParseRecord(tt.values)
			require.Len(t, fps, len(tt.want), "%v", fps)
			for i, w := range tt.want {
				require.Equal(t, w.Field, fps[i].Field, "%v", fps)
				require.Contains(t, fps[i].Reason, w.Reason)
			}
			if tt.want == nil {
				require.Equal(t, "E9", p.Key)
				require.Equal(t, int64(3), p.Attributes["grade"])
				require.Equal(t, model.MustDate("2024-12-31"), p.End)
			}
		})
	}
	ignoring := hrSpec(t, "jsonl")
	ignoring.ExtraColumns = "ignore"
	_, fps := ignoring.ParseRecord(map[string]any{"id": "E9", "name": "A", "email": "a@x.io", "colour": "red"})
	require.Empty(t, fps)
	require.Equal(t, "name: required value is missing", source.FieldProblem{Field: "name", Reason: "required value is missing"}.String())
}

func TestJSONLStructure(t *testing.T) {
	runStructure(t, "jsonl", []structureCase{
		{"empty file", "", "", nil},
		{"blank lines, BOM and CRLF", "", "\xef\xbb\xbf{\"id\":\"P1\"}\r\n\r\n  \r\n{\"id\":\"P2\"}", nil},
		{"unknown key", "", `{"id":"P1","x":1}`, []where{{1, "x", "key is not declared"}}},
		{"unknown key in other case", "", `{"id":"P1","V":1}`, []where{{1, "V", `did you mean "v"?`}}},
		{"unknown key ignored", "ignore", `{"id":"P1","x":{"deep":[1]}}`, nil},
		{"repeated key", "", `{"id":"P1","v":"a","v":"b"}`, []where{{1, "v", "appears more than once"}}},
		{"missing key", "", `{"v":"a"}`, []where{{1, "id", "required value is missing"}}},
		{"not an object", "", `["P1"]`, []where{{1, "", "not a valid JSON object: expected { at byte 1"}}},
		{"truncated", "", `{"id":"P1",`, []where{{1, "", "expected a key in double quotes"}}},
		{"missing colon", "", `{"id" "P1"}`, []where{{1, "", "expected : after the key"}}},
		{"missing comma", "", `{"id":"P1" "v":"a"}`, []where{{1, "", "expected , or }"}}},
		{"trailing text", "", `{"id":"P1"} x`, []where{{1, "", "unexpected text after the object"}}},
		{"two objects", "", `{"id":"P1"}{"id":"P2"}`, []where{{1, "", "unexpected text after the object"}}},
		{"bad literal", "", `{"id":"P1","v":nul}`, []where{{1, "", "expected a value"}}},
		{"bad number", "", `{"id":"P1","v":01}`, []where{{1, "", "expected , or }"}}},
		{"control character", "", "{\"id\":\"P\t1\"}", []where{{1, "", "bad string"}}},
		{"bad escape", "", `{"id":"P\x1"}`, []where{{1, "", "bad string"}}},
		{"invalid UTF-8 value", "", "{\"id\":\"P1\",\"v\":\"caf\xe9\"}", []where{{1, "v", "not valid UTF-8"}}},
		{"invalid UTF-8 escaped value", "", "{\"id\":\"P1\",\"v\":\"\\n\xe9\"}", []where{{1, "v", "not valid UTF-8"}}},
		{"unclosed nested", "", `{"id":"P1","v":[1,2}`, []where{{1, "", "malformed object or list"}}},
		{"problems on several lines", "", "{\"id\":\"P1\"}\n\n{\"id\":\"P1\"}\n{\"id\":5}\n", []where{
			{3, "id", "duplicate key: also on line 1"}, {4, "id", "a JSON number does not fit a string column"}}},
	})
}
