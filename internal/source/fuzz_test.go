package source

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/textsafe"
)

// fuzzSpec has a column of every type, and every role.
func fuzzSpec(format string) *Spec {
	s := &Spec{
		Name: "fuzz", Format: format, Key: "id", Start: "start", End: "end", PreviousKey: "prev",
		Columns: []Column{
			{Name: "id", Type: "string"},
			{Name: "n", Type: "int"},
			{Name: "b", Type: "bool"},
			{Name: "e", Type: "email"},
			{Name: "k", Type: "enum", Values: []string{"x", "y"}},
			{Name: "start", Type: "date"},
			{Name: "end", Type: "date", Format: "02.01.2006"},
			{Name: "prev", Type: "string"},
		},
	}
	for i := range s.Columns {
		s.Columns[i].MaxLength = fuzzMaxLength
	}
	return s
}

func addSeeds(f *testing.F, ext string, extra ...string) {
	files, err := filepath.Glob("testdata/*." + ext)
	require.NoError(f, err)
	for _, name := range files {
		data, err := os.ReadFile(name)
		require.NoError(f, err)
		f.Add(data)
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

// requireWellFormed checks what every outcome of Read promises.
func requireWellFormed(t *testing.T, s *Spec, data []byte) {
	t.Helper()
	persons, err := s.Read(context.Background(), bytes.NewReader(data))
	var rep *Report
	if err != nil {
		require.ErrorAs(t, err, &rep)
		require.Nil(t, persons)
		require.NotEmpty(t, rep.Problems)
		require.True(t, slices.IsSortedFunc(rep.Problems, func(a, b Problem) int { return a.Row - b.Row }))
		require.NotEmpty(t, rep.Error())
		return
	}
	require.NotNil(t, persons)
	keys := map[string]bool{}
	for _, p := range persons {
		require.NotEmpty(t, p.Key)
		require.False(t, keys[p.Key], "duplicate key %q", p.Key)
		keys[p.Key] = true
		_, encErr := json.Marshal(p.Attributes)
		require.NoError(t, encErr)
		// Input hygiene: nothing accepted carries a control or bidi
		// character (a tab only in free text), or is over its length.
		_, clean := textsafe.Check(p.Key, false)
		require.True(t, clean, "key %q", p.Key)
		for name, v := range p.Attributes {
			str, ok := v.(string)
			if !ok {
				continue
			}
			_, clean := textsafe.Check(str, name != s.Key && name != s.PreviousKey)
			require.True(t, clean, "%s = %q", name, str)
			require.LessOrEqual(t, utf8.RuneCountInString(str), fuzzMaxLength, "%s", name)
		}
	}
}

// fuzzMaxLength is every fuzzSpec column's max_length: short, so that
// the fuzzer reaches it.
const fuzzMaxLength = 16

func FuzzReadCSV(f *testing.F) {
	addSeeds(f, "csv",
		"id,n,b,e,k,start,end,prev\nP1,1,yes,a@b.c,x,2020-01-01,01.02.2021,C1\n",
		"id,n\n\"P1\n\",\"2\"\"\"\n",
		"id;n\nP1;1\n",
		"\"",
		"id,\"",
		"id,n,b,e,k,start,end,prev\n,,,,,,,\n \" a\" ,\"b\"x,,,,,,\n",
		"id,prev\nP\x001,C\u202e1\nP2,\"C\t2\"\nP3,\x85\n",
		"id,prev\nP1,"+strings.Repeat("é", fuzzMaxLength+1)+"\n",
	)
	s := fuzzSpec("csv")
	f.Fuzz(func(t *testing.T, data []byte) {
		requireWellFormed(t, s, data)
	})
}

func FuzzReadJSONL(f *testing.F) {
	addSeeds(f, "jsonl",
		`{"id":"P1","n":1,"b":true,"e":"a@b.c","k":"x","start":"2020-01-01","end":"01.02.2021","prev":"C1"}`,
		`{"id":"P\u00e9\ud83d\ude00","n":1e3,"x":{"a":[1,{"b":"]"}]}}`,
		`{"id":"P1","id":"P2"}`,
		`{"id":"P\u0000","prev":"\u2066x\u2069"}`,
		`{"id":"P1\t","prev":"a\u001bb"}`,
		`{`,
		`{"id":`,
	)
	s := fuzzSpec("jsonl")
	f.Fuzz(func(t *testing.T, data []byte) {
		requireWellFormed(t, s, data)
	})
}

// FuzzCSVLikeEncodingCSV checks our CSV parser against encoding/csv on
// every input the standard parser accepts: same fields (we trim them),
// same starting lines.
func FuzzCSVLikeEncodingCSV(f *testing.F) {
	addSeeds(f, "csv", "a,b\n\"c\r\nd\",e\r\n\r\n f , g \n", "\"a\"\"b\",c\n\n\n\"\n\"\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		std := csv.NewReader(bytes.NewReader(data))
		std.FieldsPerRecord = -1
		type record struct {
			line   int
			fields []string
		}
		var want []record
		for {
			fields, err := std.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return // only inputs encoding/csv accepts are compared
			}
			if len(fields) == 1 && strings.TrimSpace(fields[0]) == "" {
				continue // we skip blank lines that hold spaces, too
			}
			line, _ := std.FieldPos(0)
			for i := range fields {
				fields[i] = strings.TrimSpace(fields[i])
			}
			want = append(want, record{line, fields})
		}
		var got []record
		r := newCSVReader(bytes.NewReader(data), ',')
		for {
			rec, err := r.next()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			require.Empty(t, rec.problem)
			fields := make([]string, len(rec.fields))
			for i, f := range rec.fields {
				fields[i] = strings.TrimSpace(f)
			}
			if len(fields) == 1 && fields[0] == "" {
				continue // a lone "" (as the other side skips lone blanks)
			}
			got = append(got, record{rec.line, fields})
		}
		require.Equal(t, want, got)
	})
}

// FuzzJSONObjectLikeEncodingJSON checks our object scanner against
// encoding/json: it accepts exactly the lines that are JSON objects, and
// reads the same values from them.
func FuzzJSONObjectLikeEncodingJSON(f *testing.F) {
	addSeeds(f, "jsonl", `{"a":"\u00e9\"","b":-0.5e+3,"c":[{"d":"}"}],"e":null,"f":false}`, ` { } `, `{"a":1,}`, `{"a":01}`)
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.ContainsAny(line, "\n") {
			return
		}
		o := objectScanner{s: string(line)}
		got := map[string]cell{}
		var bad string
		for {
			key, v, done, why := o.next()
			if why != "" || done {
				bad = why
				break
			}
			got[key] = v
		}
		trimmed := bytes.TrimLeft(line, " \t\r")
		isObject := json.Valid(line) && len(trimmed) > 0 && trimmed[0] == '{'
		if !utf8.Valid(line) {
			// We refuse keys that are not UTF-8; encoding/json accepts them.
			if bad == "" {
				require.True(t, isObject)
			}
			return
		}
		require.Equal(t, isObject, bad == "", "scanner said %q", bad)
		if !isObject {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var want map[string]any
		require.NoError(t, dec.Decode(&want))
		require.Len(t, got, len(want))
		for k, w := range want {
			c := got[k]
			switch w := w.(type) {
			case string:
				require.Equal(t, cell{kind: jsonString, text: w}, c)
			case json.Number:
				require.Equal(t, cell{kind: jsonNumber, text: w.String()}, c)
			case bool:
				require.Equal(t, jsonBool, c.kind)
			case nil:
				require.Equal(t, jsonNull, c.kind)
			case map[string]any:
				require.Equal(t, jsonObject, c.kind)
			case []any:
				require.Equal(t, jsonArray, c.kind)
			}
		}
	})
}

// FuzzPlainAddress checks that the email fast path only accepts what
// net/mail accepts as a bare address, unchanged.
func FuzzPlainAddress(f *testing.F) {
	for _, s := range []string{"a@b.c", "a.b+c@x-y.example", "a..b@c", ".a@b", "a@b.", "a@-b", "a@@b", "a b@c", "é@x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !plainAddress(s) {
			return
		}
		a, err := mail.ParseAddress(s)
		require.NoError(t, err)
		require.Empty(t, a.Name)
		require.Equal(t, s, a.Address)
	})
}
