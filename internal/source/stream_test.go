package source_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/source"
)

// writeFeed writes content to a file of its own and returns the path.
func writeFeed(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "feed")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// convRows are n persons E0.., the last converted from C1.
func convRows(n int) [][4]string {
	rows := make([][4]string, n)
	for i := range rows {
		rows[i] = [4]string{fmt.Sprintf("E%d", i), "2024-01-01", "", ""}
	}
	rows[n-1][3] = "C1"
	return rows
}

func collect(t *testing.T, fd *source.Feed) []model.Person {
	t.Helper()
	var got []model.Person
	require.NoError(t, fd.Each(context.Background(), func(p model.Person) error {
		got = append(got, p)
		return nil
	}))
	return got
}

func TestFeedStreamsWhatLoadReads(t *testing.T) {
	for _, format := range []string{"csv", "jsonl"} {
		t.Run(format, func(t *testing.T) {
			s := convSpec(format)
			path := writeFeed(t, feed(format, convRows(5000)...))
			whole, err := s.Load(context.Background(), path)
			require.NoError(t, err)
			wantRekeys, err := source.Rekeys(whole, s)
			require.NoError(t, err)

			fd, err := s.CheckFeed(context.Background(), path)
			require.NoError(t, err)
			require.Equal(t, 5000, fd.Count)
			require.Equal(t, wantRekeys, fd.Rekeys)
			require.Equal(t, whole, collect(t, fd), "the same persons in the same order")
			require.Equal(t, whole, collect(t, fd), "and again: a feed can be read more than once")
		})
	}
}

func TestCheckFeedRejectsABadRowAnywhere(t *testing.T) {
	for _, format := range []string{"csv", "jsonl"} {
		t.Run(format, func(t *testing.T) {
			s := convSpec(format)
			recs := convRows(5000)
			recs = append(recs, [4]string{"E17", "2024-01-01", "", ""}, [4]string{"E9", "not-a-date", "", ""})
			path := writeFeed(t, feed(format, recs...))
			fd, err := s.CheckFeed(context.Background(), path)
			require.Nil(t, fd, "nothing to apply")
			var rep *source.Report
			require.ErrorAs(t, err, &rep)
			row := func(i int) int { // the record's row: CSV has a header
				if format == "csv" {
					return i + 2
				}
				return i + 1
			}
			require.Equal(t, []int{row(5000), row(5001)}, rows(rep), "the duplicate key and the bad date, named by row")
			require.Contains(t, rep.Error(), "duplicate key")
			require.Contains(t, rep.Error(), "not-a-date")
		})
	}
}

func TestFeedRefusesAFileChangedAfterTheCheck(t *testing.T) {
	s := convSpec("csv")
	good := feed("csv", convRows(3000)...)
	for name, tc := range map[string]struct {
		now, want string
	}{
		"a value changed, still valid": {strings.Replace(good, "E2999,2024-01-01", "E2999,2024-02-01", 1), "changed during the import"},
		"a row became invalid":         {strings.Replace(good, "E2999,2024-01-01", "E2999,yesterday", 1), "the file changed during the import"},
		"a row was added":              {good + "E3000,2024-01-01,,\n", "changed during the import"},
	} {
		t.Run(name, func(t *testing.T) {
			path := writeFeed(t, good)
			fd, err := s.CheckFeed(context.Background(), path)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, []byte(tc.now), 0o600))
			err = fd.Each(context.Background(), func(model.Person) error { return nil })
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, path, "names the file")
		})
	}
}

func TestFeedEachStopsAtTheCallersError(t *testing.T) {
	s := convSpec("jsonl")
	fd, err := s.CheckFeed(context.Background(), writeFeed(t, feed("jsonl", convRows(3000)...)))
	require.NoError(t, err)
	stop := errors.New("store refused")
	n := 0
	err = fd.Each(context.Background(), func(model.Person) error {
		n++
		if n == 1000 {
			return stop
		}
		return nil
	})
	require.Same(t, stop, err, "the caller's error comes back as it was")
	require.Equal(t, 1000, n, "no person after it")
}
