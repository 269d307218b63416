package httpx_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/testkit"
)

// Answers are read whole whatever their size, with or without a
// Content-Length, and the audit keeps their start.
func TestAnswersAreReadWhole(t *testing.T) {
	for _, size := range []int{0, 1, 511, 512, 513, 4096, 100_000} {
		for _, chunked := range []bool{false, true} {
			body := bytes.Repeat([]byte("abcdefghij"), size/10+1)[:size]
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !chunked {
					w.Header().Set("Content-Length", strconv.Itoa(size))
				}
				for b := body; len(b) > 0; b = b[min(len(b), 1000):] {
					_, _ = w.Write(b[:min(len(b), 1000)])
					if chunked {
						w.(http.Flusher).Flush()
					}
				}
			}))
			c := newClient(t, httpx.Config{})
			ctx, log := callCtx(t)
			resp := get(t, ctx, c, srv.URL+"/Users")
			srv.Close()
			require.Equal(t, body, resp.Body, "size %d, chunked %v", size, chunked)
			recs := log.Records()
			require.Len(t, recs, 1)
			require.Equal(t, audit.Excerpt(string(body)), recs[0].ResponseExcerpt)
		}
	}
}

// An answer larger than MaxBody is a failure, not a truncated body.
func TestAnswerLargerThanMaxBodyFails(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		for sent := 0; sent <= httpx.MaxBody; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c := newClient(t, httpx.Config{})
	ctx, log := callCtx(t)
	_, err := c.Do(ctx, httpx.Request{Method: "GET", URL: srv.URL + "/Users"})
	require.ErrorContains(t, err, "answer larger than")
	recs := log.Records()
	require.Len(t, recs, 1)
	require.Equal(t, "failed", recs[0].Outcome)
}

// A redirect is answered to the caller, not followed: following would
// send the credentials elsewhere or turn a POST into a GET.
func TestRedirectIsNotFollowed(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	defer srv.Close()
	c := newClient(t, httpx.Config{})
	ctx, _ := callCtx(t)
	resp, err := c.Do(ctx, httpx.Request{Method: "POST", URL: srv.URL + "/Users", Body: []byte(`{}`)})
	require.NoError(t, err)
	require.Equal(t, http.StatusFound, resp.Status)
	require.EqualValues(t, 1, hits.Load())
	require.Contains(t, resp.Failure().Message, "redirected to /elsewhere")
}

// The caller's header is the caller's: what the client adds (the
// correlation ID, credentials) goes on its own copy.
func TestCallerHeaderIsNotWritten(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	c := newClient(t, httpx.Config{Auth: httpx.AuthConfig{Type: "bearer", Token: setSecret(t, "HDR_TOKEN", "hdr-token-Zq8")}})
	ctx, log := callCtx(t)
	accept := make([]string, 1, 4)
	accept[0] = "application/json"
	h := http.Header{"Accept": accept, "X-Trace": {"a", "b"}}
	want := http.Header{"Accept": {"application/json"}, "X-Trace": {"a", "b"}}
	_, err := c.Do(ctx, httpx.Request{Method: "GET", URL: srv.URL + "/Users", Header: h})
	require.NoError(t, err)
	require.Equal(t, want, h)
	recs := log.Records()
	require.Len(t, recs, 1)
	require.Equal(t, "a, b", recs[0].RequestHeaders["X-Trace"])
	require.Equal(t, "run-42/7", recs[0].RequestHeaders["X-Correlation-Id"])
	testkit.RequireNoSecrets(t, recs, "hdr-token-Zq8")
}

// A POST with an idempotency key whose reused connection breaks after
// it was written is sent again by net/http with its whole body, and
// both writes are audited with it.
func TestResentPOSTCarriesItsBody(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		n := len(bodies)
		mu.Unlock()
		if n == 2 {
			conn, _, err := w.(http.Hijacker).Hijack()
			require.NoError(t, err)
			conn.Close()
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	c := newClient(t, httpx.Config{})
	ctx, log := callCtx(t)
	get(t, ctx, c, srv.URL+"/Users/1") // opens the connection the POST reuses
	body := `{"userName":"ann","displayName":"Ann"}`
	resp, err := c.Do(ctx, httpx.Request{Method: "POST", URL: srv.URL + "/Users", Body: []byte(body),
		Header: http.Header{"Idempotency-Key": {"run-42/7"}, "Content-Type": {"application/json"}}})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.Status)
	require.Equal(t, []string{"", body, body}, bodies)
	recs := log.Records()
	require.Len(t, recs, 3)
	for _, r := range recs[1:] {
		require.Equal(t, body, r.RequestBody)
	}
	require.Equal(t, "failed", recs[1].Outcome)
}

// A form body sent through the client is audited with its credentials
// masked, as a token request's is.
func TestFormBodyIsRedacted(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
	}))
	defer srv.Close()
	c := newClient(t, httpx.Config{})
	ctx, log := callCtx(t)
	body := "username=ann&password=form-pw-Zq8&scope=users"
	_, err := c.Do(ctx, httpx.Request{Method: "POST", URL: srv.URL + "/login", Body: []byte(body),
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	require.NoError(t, err)
	require.Equal(t, body, got)
	recs := log.Records()
	require.Len(t, recs, 1)
	require.True(t, strings.HasPrefix(recs[0].RequestBody, "username=ann&password="), recs[0].RequestBody)
	testkit.RequireNoSecrets(t, recs, "form-pw-Zq8")
}
