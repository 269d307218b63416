package httpx_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/testkit"
	"github.com/accord-iam/accord/internal/yamlx"
)

func TestCorrelationHeaderAndExchangeRecord(t *testing.T) {
	cases := []struct {
		name, header, want string
		call               *audit.Call
	}{
		{name: "default header", header: "", want: "X-Correlation-Id"},
		{name: "configured header", header: "X-Request-Id", want: "X-Request-Id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got http.Header
			var gotBody string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Header.Clone()
				b, _ := io.ReadAll(r.Body)
				gotBody = string(b)
				w.WriteHeader(http.StatusCreated)
				_, _ = w.Write([]byte(`{"id":"1","password":"pw-echoed-Zq8"}`))
			}))
			defer srv.Close()
			c := newClient(t, httpx.Config{CorrelationHeader: tc.header})
			ctx, rec := callCtx(t)
			body := []byte(`{"userName":"ann","password":"pw-sent-Zq8"}`)
			resp, err := c.Do(ctx, httpx.Request{Method: "POST", URL: srv.URL + "/Users", Body: body,
				Header: http.Header{"Content-Type": {"application/scim+json"}}})
			require.NoError(t, err)
			require.Equal(t, http.StatusCreated, resp.Status)
			require.Equal(t, "run-42/7", got.Get(tc.want))
			require.Equal(t, string(body), gotBody)

			recs := rec.Records()
			require.Len(t, recs, 1)
			r := recs[0]
			require.Equal(t, audit.KindExchange, r.Kind)
			require.Equal(t, "run-42", r.RunID)
			require.EqualValues(t, 7, r.ActionID)
			require.Equal(t, "POST", r.Method)
			require.Equal(t, srv.URL+"/Users", r.URL)
			require.Equal(t, http.StatusCreated, r.Status)
			require.Equal(t, "run-42/7", r.RequestHeaders[tc.want])
			require.Contains(t, r.RequestBody, `"userName":"ann"`)
			require.Contains(t, r.ResponseExcerpt, `"id":"1"`)
			require.GreaterOrEqual(t, r.DurationMS, int64(0))
			testkit.RequireNoSecrets(t, recs, "pw-sent-Zq8", "pw-echoed-Zq8")
		})
	}
}

func TestNoCorrelationWithoutRun(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer srv.Close()
	c := newClient(t, httpx.Config{})
	get(t, context.Background(), c, srv.URL)
	require.Empty(t, got.Get("X-Correlation-ID"))
}

func TestFailureKindsByStatus(t *testing.T) {
	clk := newClock()
	cases := []struct {
		status     int
		retryAfter string
		kind       connector.Kind
		wait       time.Duration
	}{
		{400, "", connector.Validation, 0},
		{401, "", connector.Auth, 0},
		{403, "", connector.Forbidden, 0},
		{404, "", connector.NotFound, 0},
		{409, "", connector.Conflict, 0},
		{412, "", connector.Conflict, 0},
		{422, "", connector.Validation, 0},
		{429, "7", connector.RateLimited, 7 * time.Second},
		{429, clk.Now().Add(90 * time.Second).Format(http.TimeFormat), connector.RateLimited, 90 * time.Second},
		{429, "soon", connector.RateLimited, 0},
		{500, "", connector.Unavailable, 0},
		{502, "", connector.Unavailable, 0},
		{503, "120", connector.Unavailable, 2 * time.Minute},
		{504, "", connector.Timeout, 0},
		{302, "", connector.Unknown, 0},
	}
	for _, tc := range cases {
		t.Run(http.StatusText(tc.status)+" "+tc.retryAfter, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				// The target's clock agrees with the client's: a
				// Retry-After date is read against the answer's Date.
				w.Header().Set("Date", clk.Now().Format(http.TimeFormat))
				if tc.status == 302 {
					w.Header().Set("Location", "https://elsewhere.example/x")
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(`{"detail":"no","token":"tok-echo-Zq8"}`))
			}))
			defer srv.Close()
			c := newClient(t, httpx.Config{}, httpx.WithClock(clk.Now))
			ctx, rec := callCtx(t)
			f := get(t, ctx, c, srv.URL).Failure()
			require.NotNil(t, f)
			require.Equal(t, tc.kind, f.Kind)
			require.Equal(t, tc.status, f.Status)
			require.Equal(t, tc.wait, f.RetryAfter)
			require.Contains(t, f.Excerpt, `"detail":"no"`)
			require.NotContains(t, f.Excerpt, "tok-echo-Zq8")
			require.Equal(t, string(tc.kind), rec.Records()[0].ErrorKind)
		})
	}
}

func TestTransportErrorsClassified(t *testing.T) {
	refused := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())
		return "http://" + addr
	}
	reset := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				buf := make([]byte, 1024)
				_, _ = conn.Read(buf)
				_ = conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
			}
		}()
		return "http://" + l.Addr().String()
	}
	hang := func(t *testing.T) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	cases := []struct {
		name string
		url  func(t *testing.T) string
		kind connector.Kind
	}{
		{"connection refused", refused, connector.Unavailable},
		{"connection reset", reset, connector.Unavailable},
		{"no answer in time", hang, connector.Timeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, httpx.Config{Timeout: 200 * time.Millisecond})
			ctx, rec := callCtx(t)
			_, err := c.Do(ctx, httpx.Request{Method: "GET", URL: tc.url(t) + "/x?key=k-Zq8-in-query"})
			var ce *connector.Error
			require.True(t, errors.As(err, &ce))
			require.Equal(t, tc.kind, ce.Kind, "%v", err)
			recs := rec.Records()
			require.Len(t, recs, 1)
			require.Equal(t, string(tc.kind), recs[0].ErrorKind, recs[0].Message)
			require.NotEmpty(t, recs[0].Message)
			require.NotContains(t, err.Error(), "k-Zq8-in-query")
			testkit.RequireNoSecrets(t, recs, "k-Zq8-in-query")
		})
	}
}

func TestConfigCheck(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"none is fine", "{}", nil},
		{"bearer needs a token", "auth: {type: bearer, username: x}", []string{
			"auth.token (line 1): is required for auth type bearer",
			"auth.username (line 1): does not apply to auth type bearer",
		}},
		{"unknown type", "auth:\n  type: kerberos", []string{"auth.type (line 2): unknown auth type \"kerberos\" (known: none, basic, bearer, api_key, oauth2, session)"}},
		{"api key needs a place", "auth:\n  type: api_key\n  key: ${env:K}", []string{"auth (line 1): api_key needs either header (name of the header) or query (name of the query parameter)"}},
		{"oauth2", "auth:\n  type: oauth2\n  token_url: ftp://x\n  client_id: a\n  auth_style: body", []string{
			"auth.client_secret (line 1): is required for auth type oauth2",
			"auth.token_url (line 3): must be an http:// or https:// URL, got \"ftp://x\"",
			"auth.auth_style (line 5): must be header, params or auto, not \"body\"",
		}},
		{"bad header and timeout", "correlation_header: 'X Bad'\ntimeout: -1s\nidempotency_header: 'Key:'", []string{
			"correlation_header (line 1): \"X Bad\" is not a valid HTTP header name",
			"timeout (line 2): must not be negative",
			"idempotency_header (line 3): \"Key:\" is not a valid HTTP header name",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, checkConfig(t, tc.yaml))
		})
	}
}

// checkConfig decodes settings and returns Check's problems as strings.
func checkConfig(t *testing.T, src string) []string {
	t.Helper()
	node, err := yamlx.Parse([]byte(src))
	require.NoError(t, err)
	var cfg httpx.Config
	require.Empty(t, yamlx.Decode(node, &cfg, ""))
	var got []string
	for _, p := range cfg.Check(node, "") {
		got = append(got, p.String())
	}
	return got
}

func TestConfigSecretsAreReferences(t *testing.T) {
	node, err := yamlx.Parse([]byte("auth: {type: bearer, token: plain-text-token}"))
	require.NoError(t, err)
	var cfg httpx.Config
	ps := yamlx.Decode(node, &cfg, "")
	require.Len(t, ps, 1)
	require.Equal(t, "auth.token", ps[0].Path)
	require.NotContains(t, ps.Error(), "plain-text-token")
}

func TestSpentQuotaHoldsTheTarget(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		header  http.Header
		hold    time.Duration // 0: no hold
		failure time.Duration // the wait Failure reports
	}{
		{"answer spends the window", 200, http.Header{"Ratelimit-Remaining": {"0"}, "Ratelimit-Reset": {"3"}}, 3 * time.Second, 0},
		{"requests left", 200, http.Header{"Ratelimit-Remaining": {"5"}, "Ratelimit-Reset": {"3"}}, 0, 0},
		{"429 with only a reset", 429, http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"5"}}, 5 * time.Second, 5 * time.Second},
		{"429 with Retry-After", 429, http.Header{"Retry-After": {"2"}}, 2 * time.Second, 2 * time.Second},
		{"503 with Retry-After: the engine backs off, no hold", 503, http.Header{"Retry-After": {"2"}}, 0, 2 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header()[k] = v
				}
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			c := newClient(t, httpx.Config{})
			ctx, rec := callCtx(t)
			var held []time.Time
			ctx = connector.WithHold(ctx, func(until time.Time) { held = append(held, until) })
			before := time.Now()
			resp := get(t, ctx, c, srv.URL)
			after := time.Now()
			if f := resp.Failure(); f != nil {
				require.Equal(t, tc.failure, f.RetryAfter)
			}
			msg := rec.Records()[0].Message
			if tc.hold == 0 {
				require.Empty(t, held)
				require.Empty(t, msg)
				return
			}
			require.Len(t, held, 1)
			require.WithinRange(t, held[0], before.Add(tc.hold), after.Add(tc.hold))
			require.Contains(t, msg, "the target takes no more requests for", "the audit says why requests paused")
		})
	}
}

// A request's timeout starts when it is sent, not when it starts waiting
// at the gate: a request held by accord's own pacing for longer than the
// timeout still gets its whole timeout from the target (issue 12: "rate:
// Wait(n=1) would exceed context deadline" failed actions).
func TestTimeoutStartsAfterTheGate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(srv.Close)
	c := newClient(t, httpx.Config{Timeout: 50 * time.Millisecond})
	ctx, rec := callCtx(t)
	open := make(chan struct{})
	time.AfterFunc(200*time.Millisecond, func() { close(open) }) // the gate opens after 4 timeouts
	ctx = connector.WithGate(ctx, func(ctx context.Context) error {
		select {
		case <-open:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	resp, err := c.Do(ctx, httpx.Request{Method: "GET", URL: srv.URL + "/x"})
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, resp.Status)
	require.Len(t, rec.Records(), 1)
	require.Empty(t, rec.Records()[0].ErrorKind)
}
