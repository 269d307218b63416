package targetsim

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

// Loopback benchmarks: the simulator is the far end of throughput
// benchmarks, so what matters is requests per second through real HTTP.
//
//	go test -run '^$' -bench . -benchtime 3s ./internal/targetsim/

func benchSim(b *testing.B, opts Options) (*Sim, string, *http.Client) {
	b.Helper()
	s := New(opts)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}, Timeout: time.Minute}
	return s, base, hc
}

func benchDo(b *testing.B, hc *http.Client, method, u string, body []byte, want int) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		b.Error(err)
		return
	}
	req.Header.Set("Content-Type", "application/scim+json")
	req.Header.Set("Authorization", "Bearer bench")
	resp, err := hc.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Errorf("%s %s: status %d, want %d", method, u, resp.StatusCode, want)
	}
}

// parallel runs fn b.N times from 4 goroutines per CPU, like an engine
// with several workers, and reports the rate. fn gets a distinct counter
// value per call, from 0.
func parallel(b *testing.B, fn func(i int64)) {
	var n atomic.Int64
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			fn(n.Add(1) - 1)
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

var benchLogModes = []struct {
	name string
	opts Options
}{
	{"log=off", Options{Token: "bench", DisableLog: true}},
	{"log=last1000", Options{Token: "bench", LogLimit: 1000}},
}

func BenchmarkCreateUser(b *testing.B) {
	for _, mode := range benchLogModes {
		b.Run(mode.name, func(b *testing.B) {
			_, base, hc := benchSim(b, mode.opts)
			parallel(b, func(i int64) {
				body := fmt.Appendf(nil, `{"schemas":["%s"],"userName":"user%d@example.com","name":{"givenName":"U","familyName":"%d"},"active":true,"emails":[{"value":"user%d@example.com","type":"work","primary":true}]}`, SchemaUser, i, i, i)
				benchDo(b, hc, "POST", base+"/scim/v2/Users", body, 201)
			})
		})
	}
}

func BenchmarkGetUser(b *testing.B) {
	for _, mode := range benchLogModes {
		b.Run(mode.name, func(b *testing.B) {
			s, base, hc := benchSim(b, mode.opts)
			ids := make([]string, 1000)
			for i := range ids {
				u, err := s.SCIM().CreateUser(fmt.Sprintf("user%d", i), map[string]any{"active": true, "title": "Benchmarker"})
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = u.ID
			}
			parallel(b, func(i int64) {
				benchDo(b, hc, "GET", base+"/scim/v2/Users/"+ids[i%int64(len(ids))], nil, 200)
			})
		})
	}
}

// BenchmarkFilterUserName is the correlation lookup a connector makes before
// creating: an indexed equality filter among 10,000 users.
func BenchmarkFilterUserName(b *testing.B) {
	s, base, hc := benchSim(b, Options{Token: "bench", DisableLog: true})
	for i := range 10000 {
		if _, err := s.SCIM().CreateUser(fmt.Sprintf("user%d@example.com", i), nil); err != nil {
			b.Fatal(err)
		}
	}
	parallel(b, func(i int64) {
		q := url.Values{"filter": {fmt.Sprintf(`userName eq "USER%d@example.com"`, i%10000)}}
		benchDo(b, hc, "GET", base+"/scim/v2/Users?"+q.Encode(), nil, 200)
	})
}

// BenchmarkAddMember adds users one by one to a group that grows to b.N
// members, the shape of a bulk joiner run.
func BenchmarkAddMember(b *testing.B) {
	s, base, hc := benchSim(b, Options{Token: "bench", DisableLog: true, PatchNoContent: true})
	g, err := s.SCIM().CreateGroup("everyone")
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, b.N)
	for i := range ids {
		u, err := s.SCIM().CreateUser(fmt.Sprintf("m%d", i), nil)
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = u.ID
	}
	parallel(b, func(i int64) {
		body := fmt.Appendf(nil, `{"schemas":["%s"],"Operations":[{"op":"add","path":"members","value":[{"value":"%s"}]}]}`, msgPatch, ids[i])
		benchDo(b, hc, "PATCH", base+"/scim/v2/Groups/"+g.ID, body, 204)
	})
}

// BenchmarkHandler measures the simulator's own cost per request, without
// sockets: what it adds on top of net/http in the loopback figures.
func BenchmarkHandler(b *testing.B) {
	s := New(Options{Token: "bench", DisableLog: true})
	u, err := s.SCIM().CreateUser("handler@example.com", map[string]any{"active": true, "title": "Benchmarker"})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 10000 {
		if _, err := s.SCIM().CreateUser(fmt.Sprintf("user%d@example.com", i), nil); err != nil {
			b.Fatal(err)
		}
	}
	filter := url.Values{"filter": {`userName eq "USER42@example.com"`}}.Encode()
	var n atomic.Int64
	cases := []struct {
		name, method, target string
		body                 func() []byte
		want                 int
	}{
		{"GET user", "GET", "/scim/v2/Users/" + u.ID, nil, 200},
		{"GET filter userName", "GET", "/scim/v2/Users?" + filter, nil, 200},
		{"POST user", "POST", "/scim/v2/Users", func() []byte {
			return fmt.Appendf(nil, `{"schemas":["%s"],"userName":"new%d","active":true,"emails":[{"value":"n@x","type":"work"}]}`, SchemaUser, n.Add(1))
		}, 201},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var body io.Reader
				if tc.body != nil {
					body = bytes.NewReader(tc.body())
				}
				req := httptest.NewRequest(tc.method, tc.target, body)
				req.Header.Set("Authorization", "Bearer bench")
				w := httptest.NewRecorder()
				s.ServeHTTP(w, req)
				if w.Code != tc.want {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
