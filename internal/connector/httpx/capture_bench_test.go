package httpx_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector/httpx"
)

// cannedTransport answers every request at once with the same answer,
// reading the request body as a server would: what is measured is the
// client's own side of a request (building it, stamping it, capturing
// it for the audit), with no network.
type cannedTransport struct {
	status int
	body   []byte
}

func (c cannedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return &http.Response{StatusCode: c.status, Header: http.Header{"Content-Type": {"application/scim+json"}},
		ContentLength: int64(len(c.body)), Body: io.NopCloser(bytes.NewReader(c.body)), Request: req}, nil
}

// BenchmarkClientExchange is one SCIM create and one read through the
// client and its audit capture, against an answer that costs nothing:
// CPU and allocations per exchange of accord's side of a request.
//
//	go test -run '^$' -bench ClientExchange -benchmem ./internal/connector/httpx/
func BenchmarkClientExchange(b *testing.B) {
	user := []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],` +
		`"id":"2819c223-7f76-453a-919d-413861904646","userName":"p1234@example.com","displayName":"First Last1234","title":"Engineer","active":true,` +
		`"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"E01234"},` +
		`"groups":[{"value":"6c5bb468-14b2-4183-baf2-06d523e03bd3","display":"all-staff"},{"value":"7c5bb468-14b2-4183-baf2-06d523e03bd3","display":"github"}],` +
		`"meta":{"resourceType":"User","created":"2026-12-05T10:00:00Z","lastModified":"2026-12-05T10:00:00Z","location":"http://127.0.0.1/scim/v2/Users/2819c223-7f76-453a-919d-413861904646"}}`)
	c, err := httpx.New(httpx.Config{Auth: httpx.AuthConfig{Type: "bearer", Token: setSecret(b, "BENCH_CAPTURE_TOKEN", "bench-token-1234")}},
		httpx.WithTransport(cannedTransport{status: 200, body: user}))
	if err != nil {
		b.Fatal(err)
	}
	ctx := audit.WithCall(context.Background(), audit.Call{RunID: "run-42", ActionID: 7, Attempt: 1, PersonKey: "E01234",
		Target: "saas", Operation: "create", Sink: audit.Discard})
	create := []byte(`{"active":true,"displayName":"First Last1234","schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],` +
		`"title":"Engineer","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"E01234"},"userName":"p1234@example.com"}`)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op") }()
	for range b.N {
		h := http.Header{"Accept": {"application/scim+json, application/json"}, "Content-Type": {"application/scim+json"}}
		if _, err := c.Do(ctx, httpx.Request{Method: "POST", URL: "http://127.0.0.1/scim/v2/Users", Header: h, Body: create}); err != nil {
			b.Fatal(err)
		}
		h = http.Header{"Accept": {"application/scim+json, application/json"}}
		if _, err := c.Do(ctx, httpx.Request{Method: "GET", URL: "http://127.0.0.1/scim/v2/Users/2819c223-7f76-453a-919d-413861904646", Header: h}); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime is the CPU time this process has used so far: on a machine
// other work shares, the figure to compare, not the wall time per op.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
