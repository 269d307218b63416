package targetsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type hrPage struct {
	Employees  []map[string]any `json:"employees"`
	Total      int              `json:"total"`
	NextCursor string           `json:"next_cursor"`
	Links      struct {
		Next string `json:"next"`
	} `json:"links"`
}

func hrGet(t *testing.T, base, query string, header http.Header) (*http.Response, hrPage) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/hr/v1/employees?"+query, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var p hrPage
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.Unmarshal(body, &p), string(body))
	}
	return resp, p
}

func ids(p hrPage) []string {
	var out []string
	for _, e := range p.Employees {
		out = append(out, e["id"].(string))
	}
	return out
}

func seedHR(s *Sim, n int) {
	for i := 0; i < n; i++ {
		s.HR().Put(map[string]any{"id": fmt.Sprintf("E%02d", i), "name": fmt.Sprint("P", i)})
	}
}

func TestHRPagesInEveryStyle(t *testing.T) {
	s, c := startSim(t, Options{})
	seedHR(s, 7)
	_, p := hrGet(t, c.base, "offset=2&limit=3", nil)
	require.Equal(t, []string{"E02", "E03", "E04"}, ids(p))
	require.Equal(t, 7, p.Total)
	_, p = hrGet(t, c.base, "page=3&page_size=3", nil)
	require.Equal(t, []string{"E06"}, ids(p))

	var got []string
	q := "style=cursor&limit=3"
	for {
		resp, p := hrGet(t, c.base, q, nil)
		got = append(got, ids(p)...)
		if p.NextCursor == "" {
			require.Empty(t, resp.Header.Get("Link"))
			break
		}
		require.Contains(t, resp.Header.Get("Link"), `rel="next"`)
		require.Contains(t, p.Links.Next, "cursor="+url.QueryEscape(p.NextCursor))
		q = "style=cursor&limit=3&cursor=" + url.QueryEscape(p.NextCursor)
	}
	require.Equal(t, []string{"E00", "E01", "E02", "E03", "E04", "E05", "E06"}, got)

	resp, _ := hrGet(t, c.base, "cursor=bm90LW1pbmU", nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "a cursor the API did not give")
}

func TestHRETagAndUpdatedSince(t *testing.T) {
	clock := NewManualClock(t0)
	s, c := startSim(t, Options{Now: clock.Now})
	seedHR(s, 3)
	resp, _ := hrGet(t, c.base, "", nil)
	tag := resp.Header.Get("ETag")
	require.NotEmpty(t, tag)
	resp, _ = hrGet(t, c.base, "", http.Header{"If-None-Match": {tag}})
	require.Equal(t, http.StatusNotModified, resp.StatusCode)

	clock.Advance(time.Hour)
	s.HR().Put(map[string]any{"id": "E01", "name": "changed"})
	resp, _ = hrGet(t, c.base, "", http.Header{"If-None-Match": {tag}})
	require.Equal(t, http.StatusOK, resp.StatusCode, "a change makes a new version")
	require.NotEqual(t, tag, resp.Header.Get("ETag"))

	_, p := hrGet(t, c.base, "updated_since="+url.QueryEscape(t0.Add(time.Minute).Format(time.RFC3339)), nil)
	require.Equal(t, []string{"E01"}, ids(p))
	require.Equal(t, 1, p.Total)
	require.Equal(t, t0.Add(time.Hour).Format(time.RFC3339), p.Employees[0]["updated"])

	s.HR().Remove("E00")
	_, p = hrGet(t, c.base, "", nil)
	require.Equal(t, []string{"E01", "E02"}, ids(p))
}

func TestHRFaultsAndAuth(t *testing.T) {
	s, c := startSim(t, Options{})
	seedHR(s, 6)
	s.HR().FailPage(2, http.StatusInternalServerError)
	resp, _ := hrGet(t, c.base, "offset=0&limit=3", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, _ = hrGet(t, c.base, "offset=3&limit=3", nil)
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	s.HR().FailPage(2, 0)
	resp, _ = hrGet(t, c.base, "offset=3&limit=3", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	_, err := s.AddFault(Rule{Kind: FaultRateLimit, Path: hrPrefix, Times: 1, RetryAfter: Duration(2 * time.Second)})
	require.NoError(t, err)
	resp, _ = hrGet(t, c.base, "", nil)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "2", resp.Header.Get("Retry-After"))

	s.HR().SetOptions(HROptions{Username: "u", Password: "p"})
	resp, _ = hrGet(t, c.base, "", nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestHRAdmin(t *testing.T) {
	s, c := startSim(t, Options{})
	do := func(method, path, body string) int {
		req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp.StatusCode
	}
	require.Equal(t, http.StatusNoContent, do(http.MethodPost, "/_sim/hr/employees", `[{"id": "E1", "name": "A"}, {"id": "E2"}]`))
	require.Equal(t, 2, s.HR().Len())
	require.Equal(t, http.StatusBadRequest, do(http.MethodPost, "/_sim/hr/employees", `[{"name": "no id"}]`))
	require.Equal(t, http.StatusNoContent, do(http.MethodDelete, "/_sim/hr/employees/E1", ""))
	require.Equal(t, 1, s.HR().Len())

	require.Equal(t, http.StatusNoContent, do(http.MethodPut, "/_sim/hr/pages/1", `{"status": 503}`))
	resp, _ := hrGet(t, c.base, "", nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, http.StatusBadRequest, do(http.MethodPut, "/_sim/hr/pages/1", `{"status": 200}`))
	require.Equal(t, http.StatusNoContent, do(http.MethodDelete, "/_sim/hr/pages/1", ""))
	resp, _ = hrGet(t, c.base, "", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
