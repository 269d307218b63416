package source_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/source"
	"github.com/accord-iam/accord/internal/yamlx"
)

func TestDecodeFromYAML(t *testing.T) {
	s := hrSpec(t, "csv")
	require.Equal(t, "hr", s.Name)
	require.Equal(t, time.Hour, s.Schedule)
	require.Equal(t, "previous_id", s.PreviousKey)
	require.Equal(t, []string{"Sales", "Engineering", "HR"}, s.Columns[5].Values)
	require.Equal(t, "02.01.2006", s.Columns[7].Format)
}

func TestCheck(t *testing.T) {
	valid := func() *source.Spec {
		return &source.Spec{
			Name: "hr", Format: "csv", Key: "id", Start: "from", End: "to", PreviousKey: "old",
			Columns: []source.Column{
				{Name: "id", Type: "string"},
				{Name: "from", Type: "date"},
				{Name: "to", Type: "date", Format: "02/01/2006"},
				{Name: "old", Type: "string"},
				{Name: "kind", Type: "enum", Values: []string{"employee", "contractor"}},
			},
		}
	}
	tests := []struct {
		name   string
		change func(s *source.Spec)
		want   []yamlx.Problem // Msg is a substring
	}{
		{"valid", func(*source.Spec) {}, nil},
		{"jsonl without delimiter", func(s *source.Spec) { s.Format = "jsonl" }, nil},
		{"tab delimiter", func(s *source.Spec) { s.Delimiter = "\t" }, nil},
		{"no format", func(s *source.Spec) { s.Format = "" }, []yamlx.Problem{{Path: "format", Msg: "needs a format"}}},
		{"unknown format", func(s *source.Spec) { s.Format = "xlsx" }, []yamlx.Problem{{Path: "format", Msg: `unknown format "xlsx"`}}},
		{"negative schedule", func(s *source.Spec) { s.Schedule = -time.Second }, []yamlx.Problem{{Path: "schedule", Msg: "negative"}}},
		{"long delimiter", func(s *source.Spec) { s.Delimiter = ";;" }, []yamlx.Problem{{Path: "delimiter", Msg: "single ASCII character"}}},
		{"non-ASCII delimiter", func(s *source.Spec) { s.Delimiter = "§" }, []yamlx.Problem{{Path: "delimiter", Msg: "single ASCII character"}}},
		{"quote delimiter", func(s *source.Spec) { s.Delimiter = `"` }, []yamlx.Problem{{Path: "delimiter", Msg: "cannot be a delimiter"}}},
		{"delimiter on jsonl", func(s *source.Spec) { s.Format, s.Delimiter = "jsonl", ";" }, []yamlx.Problem{{Path: "delimiter", Msg: "only csv"}}},
		{"extra columns", func(s *source.Spec) { s.ExtraColumns = "warn" }, []yamlx.Problem{{Path: "extra_columns", Msg: "error or ignore"}}},
		{"no columns", func(s *source.Spec) { s.Columns, s.Start, s.End, s.PreviousKey = nil, "", "", "" }, []yamlx.Problem{
			{Path: "columns", Msg: "at least its key column"}, {Path: "key", Msg: `"id" is not declared`}}},
		{"no key", func(s *source.Spec) { s.Key = "" }, []yamlx.Problem{{Path: "key", Msg: "needs a key column"}}},
		{"undeclared key", func(s *source.Spec) { s.Key = "emp" }, []yamlx.Problem{{Path: "key", Msg: `"emp" is not declared`}}},
		{"bool key", func(s *source.Spec) { s.Columns[0].Type = "bool" }, []yamlx.Problem{{Path: "key", Msg: "string or int or email"}}},
		{"start not a date", func(s *source.Spec) { s.Columns[1].Type = "string" }, []yamlx.Problem{{Path: "start", Msg: "must be of type date"}}},
		{"undeclared end", func(s *source.Spec) { s.End = "until" }, []yamlx.Problem{{Path: "end", Msg: `"until" is not declared`}}},
		{"start is end", func(s *source.Spec) { s.End = "from" }, []yamlx.Problem{{Path: "end", Msg: "different columns"}}},
		{"previous key not a string", func(s *source.Spec) { s.PreviousKey = "from" }, []yamlx.Problem{{Path: "previous_key", Msg: "must be of type string"}}},
		{"previous key is key", func(s *source.Spec) { s.PreviousKey = "id" }, []yamlx.Problem{{Path: "previous_key", Msg: "different column from key"}}},
		{"duplicate column", func(s *source.Spec) { s.Columns = append(s.Columns, source.Column{Name: "from", Type: "date"}) }, []yamlx.Problem{
			{Path: "columns[5].name", Msg: `duplicate column name "from" (also columns[1])`}}},
		{"unnamed column", func(s *source.Spec) { s.Columns[4].Name = "" }, []yamlx.Problem{{Path: "columns[4].name", Msg: "needs a name"}}},
		{"padded name", func(s *source.Spec) { s.Columns[4].Name = " kind" }, []yamlx.Problem{{Path: "columns[4].name", Msg: "whitespace"}}},
		{"no type", func(s *source.Spec) { s.Columns[3].Type = "" }, []yamlx.Problem{
			{Path: "columns[3].type", Msg: "needs a type"}, {Path: "previous_key", Msg: "must be of type string"}}},
		{"unknown type", func(s *source.Spec) { s.Columns[3].Type = "text" }, []yamlx.Problem{
			{Path: "columns[3].type", Msg: `unknown type "text"`}, {Path: "previous_key", Msg: "must be of type string"}}},
		{"enum without values", func(s *source.Spec) { s.Columns[4].Values = nil }, []yamlx.Problem{{Path: "columns[4].values", Msg: "needs its allowed values"}}},
		{"bad enum values", func(s *source.Spec) { s.Columns[4].Values = []string{"a", "a", "", " b"} }, []yamlx.Problem{
			{Path: "columns[4].values[1]", Msg: "duplicate"}, {Path: "columns[4].values[2]", Msg: "cannot be empty"}, {Path: "columns[4].values[3]", Msg: "whitespace"}}},
		{"values on a string", func(s *source.Spec) { s.Columns[3].Values = []string{"x"} }, []yamlx.Problem{{Path: "columns[3].values", Msg: "only enum"}}},
		{"format on a string", func(s *source.Spec) { s.Columns[3].Format = "2006" }, []yamlx.Problem{{Path: "columns[3].format", Msg: "only date"}}},
		{"layout without day", func(s *source.Spec) { s.Columns[2].Format = "2006-01" }, []yamlx.Problem{{Path: "columns[2].format", Msg: "not a Go date layout"}}},
		{"layout nonsense", func(s *source.Spec) { s.Columns[2].Format = "YYYY-MM-DD" }, []yamlx.Problem{{Path: "columns[2].format", Msg: "not a Go date layout"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid()
			tt.change(s)
			got := s.Check()
			require.Len(t, got, len(tt.want), "got %v", got)
			for i, w := range tt.want {
				require.Equal(t, w.Path, got[i].Path, "got %v", got)
				require.Contains(t, got[i].Msg, w.Msg)
			}
		})
	}
}

func TestCheckForcesKeyRequired(t *testing.T) {
	s := &source.Spec{Format: "csv", Key: "id", Columns: []source.Column{{Name: "id", Type: "int"}}}
	require.Empty(t, s.Check())
	require.True(t, s.Columns[0].Required)
}

func TestAttributeTypes(t *testing.T) {
	s := hrSpec(t, "csv")
	require.Equal(t, map[string]source.Type{
		"id": source.String, "name": source.String, "email": source.Email, "grade": source.Int, "manager": source.Bool,
		"dept": source.Enum, "start": source.Date, "end": source.Date, "previous_id": source.String,
	}, s.AttributeTypes())
	attrs := s.Attributes()
	require.Equal(t, source.Attribute{Name: "dept", Type: source.Enum, Values: []string{"Sales", "Engineering", "HR"}}, attrs[5])
	require.Equal(t, source.Attribute{Name: "id", Type: source.String, Required: true}, attrs[0])
	attrs[5].Values[0] = "changed"
	require.Equal(t, "Sales", s.Columns[5].Values[0], "Attributes must not expose the spec's slices")

	for _, ty := range []source.Type{source.String, source.Int, source.Bool, source.Date, source.Email, source.Enum} {
		back, ok := source.ParseType(ty.String())
		require.True(t, ok)
		require.Equal(t, ty, back)
	}
	_, ok := source.ParseType("float")
	require.False(t, ok)
}

func TestMisconfiguredSpecIsNotAReport(t *testing.T) {
	s := &source.Spec{Name: "hr", Format: "xml"}
	_, err := s.Read(t.Context(), nil)
	require.ErrorContains(t, err, "misconfigured")
	var rep *source.Report
	require.False(t, errors.As(err, &rep))
	_, fps := s.ParseRecord(map[string]any{})
	require.Len(t, fps, 1)
	require.Contains(t, fps[0].Reason, "misconfigured")
}
