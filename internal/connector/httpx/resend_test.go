package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector/httpx"
)

// A GET whose reused connection the target closes after reading it,
// without an answer: net/http sends it again by itself on a new
// connection, so the target receives it twice for one request of the
// client. Both are audited: the first as failed without an answer, the
// second with the target's answer.
func TestRequestResentByNetHTTPIsAuditedTwice(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 2 {
			conn, _, err := w.(http.Hijacker).Hijack()
			require.NoError(t, err)
			conn.Close()
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	c := newClient(t, httpx.Config{})
	ctx, log := callCtx(t)
	get(t, ctx, c, srv.URL+"/Users/1") // opens the connection the next GET reuses
	resp := get(t, ctx, c, srv.URL+"/Users/2")
	require.Equal(t, http.StatusOK, resp.Status)
	require.EqualValues(t, 3, n.Load(), "the second GET reached the target twice")

	recs := log.Records()
	require.Len(t, recs, 3, "one exchange record per request the target received")
	var got []int
	for _, r := range recs {
		require.Equal(t, audit.KindExchange, r.Kind)
		require.Equal(t, "run-42/7", r.RequestHeaders["X-Correlation-Id"])
		got = append(got, r.Status)
	}
	require.Equal(t, []int{200, 0, 200}, got)
	require.Equal(t, srv.URL+"/Users/2", recs[1].URL)
	require.Equal(t, "failed", recs[1].Outcome)
	require.Equal(t, "unavailable", recs[1].ErrorKind)
	require.Contains(t, recs[1].Message, "sent it again")
}
