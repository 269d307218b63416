package source_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// benchRows is the size of the generated feeds: a large company's HR export.
const benchRows = 100_000

// generated writes benchRows people in the hr.yaml schema.
func generated(format string) []byte {
	var b bytes.Buffer
	depts := []string{"Sales", "Engineering", "HR"}
	if format == "csv" {
		b.WriteString("id,name,email,grade,manager,dept,start,end,previous_id\n")
	}
	for i := range benchRows {
		end, prev := "", ""
		if i%10 == 0 {
			end = fmt.Sprintf("%02d.%02d.2026", i%28+1, i%12+1)
		}
		if i%100 == 0 {
			prev = fmt.Sprintf("C%06d", i)
		}
		start := fmt.Sprintf("20%02d-%02d-%02d", i%25, i%12+1, i%28+1)
		if format == "csv" {
			fmt.Fprintf(&b, "E%06d,\"Person %d, Jr.\",person.%d@Example.com,%d,%s,%s,%s,%s,%s\n",
				i, i, i, i%12, []string{"yes", "no"}[i%2], depts[i%3], start, end, prev)
			continue
		}
		fmt.Fprintf(&b, `{"id":"E%06d","name":"Person %d, Jr.","email":"person.%d@Example.com","grade":%d,"manager":%t,"dept":%q,"start":%q`,
			i, i, i, i%12, i%2 == 0, depts[i%3], start)
		if end != "" {
			fmt.Fprintf(&b, `,"end":%q`, end)
		}
		if prev != "" {
			fmt.Fprintf(&b, `,"previous_id":%q`, prev)
		}
		b.WriteString("}\n")
	}
	return b.Bytes()
}

func benchmarkRead(b *testing.B, format string) {
	s := hrSpec(b, format)
	data := generated(format)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		persons, err := s.Read(context.Background(), bytes.NewReader(data))
		require.NoError(b, err)
		require.Len(b, persons, benchRows)
	}
}

// BenchmarkReadCSV reads a generated 100,000-row CSV feed (one op = the
// whole file).
func BenchmarkReadCSV(b *testing.B) { benchmarkRead(b, "csv") }

// BenchmarkReadJSONL reads the same people as JSON lines.
func BenchmarkReadJSONL(b *testing.B) { benchmarkRead(b, "jsonl") }
