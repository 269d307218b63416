package targetsim

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRequestLogKeepsWhatWasSent(t *testing.T) {
	clk := NewManualClock(t0)
	s, c := startSim(t, Options{Now: clk.Now, Token: "tok"})
	body := `{"schemas":["` + SchemaUser + `"],"userName":"xena"}`
	r := c.do("POST", "/scim/v2/Users?attributes=userName", body, "X-Correlation-Id", "run-1/action-2")
	require.Equal(t, 201, r.status)
	c.do("GET", "/scim/v2/Users/"+r.str("id"), nil, "Authorization", "Bearer bad")

	log := s.Requests()
	require.Len(t, log, 2)
	first := log[0]
	require.Equal(t, uint64(1), first.Seq)
	require.Equal(t, t0, first.Time)
	require.Equal(t, "POST", first.Method)
	require.Equal(t, "/scim/v2/Users", first.Path)
	require.Equal(t, "attributes=userName", first.RawQuery)
	require.Equal(t, "userName", first.Query().Get("attributes"))
	require.Equal(t, body, first.Body)
	require.Equal(t, "run-1/action-2", first.Header.Get("X-Correlation-Id"))
	require.Equal(t, "Bearer tok", first.Header.Get("Authorization"))
	require.Equal(t, 201, first.Status)
	var sent map[string]any
	require.NoError(t, first.DecodeBody(&sent))
	require.Equal(t, "xena", sent["userName"])
	require.Equal(t, 401, log[1].Status)

	last, ok := s.LastRequest()
	require.True(t, ok)
	require.Equal(t, log[1], last)
	require.Len(t, s.RequestsTo("GET", "/scim/v2/Users/"), 1)
	require.Len(t, s.RequestsTo("", "/scim/v2/Users"), 2)
	require.Equal(t, log[1:], s.RequestsSince(first.Seq))

	s.ResetLog()
	require.Empty(t, s.Requests())
	c.do("GET", "/scim/v2/Users", nil)
	require.Equal(t, uint64(3), s.Requests()[0].Seq, "sequence numbers go on after a reset")
}

func TestRequestLogLimitAndDisable(t *testing.T) {
	s, c := startSim(t, Options{LogLimit: 3})
	for i := range 10 {
		c.do("GET", fmt.Sprintf("/scim/v2/Users?n=%d", i), nil)
	}
	log := s.Requests()
	require.Len(t, log, 3)
	require.Equal(t, []uint64{8, 9, 10}, []uint64{log[0].Seq, log[1].Seq, log[2].Seq})
	require.Len(t, s.RequestsSince(9), 1)

	off, c2 := startSim(t, Options{DisableLog: true})
	c2.createUser("yuri", nil)
	require.Empty(t, off.Requests())
	require.Equal(t, uint64(1), off.Stats().Requests)
}

func TestConcurrentClientsLogInArrivalOrder(t *testing.T) {
	s, c := startSim(t, Options{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				name := fmt.Sprintf("w%d-u%d", w, i)
				resp, err := c.send("POST", "/scim/v2/Users", userBody(name, nil))
				if err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	log := s.Requests()
	require.Len(t, log, 160)
	for i, r := range log {
		require.Equal(t, uint64(i+1), r.Seq)
		require.Equal(t, 201, r.Status)
	}
	require.Len(t, s.SCIM().Users(), 160)
	require.Equal(t, uint64(160), s.Stats().ByStatus[201])
}

// MostInFlight counts overlapping requests: back to back is one at a
// time, a request arriving before another is done overlaps it, and one
// still handled overlaps everything after it.
func TestMostInFlight(t *testing.T) {
	at := func(from, to int) Request {
		r := Request{Time: t0.Add(time.Duration(from) * time.Second)}
		if to >= 0 {
			r.Done = t0.Add(time.Duration(to) * time.Second)
		}
		return r
	}
	require.Zero(t, MostInFlight(nil))
	require.Equal(t, 1, MostInFlight([]Request{at(0, 1), at(1, 2), at(2, 3)}), "back to back")
	require.Equal(t, 2, MostInFlight([]Request{at(0, 2), at(1, 3), at(3, 4)}))
	require.Equal(t, 3, MostInFlight([]Request{at(0, -1), at(1, 2), at(5, 6), at(5, 7)}), "the first is never done")
}
