package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/notify"
)

// receiver is a webhook endpoint that checks signatures and answers with
// the statuses it is given, in order (then 204).
type receiver struct {
	t        *testing.T
	secret   []byte
	mu       sync.Mutex
	statuses []int
	got      chan delivery
	release  chan struct{} // when set, each request waits for a value
}

type delivery struct {
	event     notify.Event
	id        string
	kind      string
	validSig  bool
	timestamp time.Time
	status    int
}

func newReceiver(t *testing.T, secret string, statuses ...int) (*receiver, *httptest.Server) {
	r := &receiver{t: t, secret: []byte(secret), statuses: statuses, got: make(chan delivery, 100)}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

// ServeHTTP runs on the server's goroutines, where a test may not stop
// (require's FailNow): a bad delivery is reported with Errorf and
// answered 400.
func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.release != nil {
		select {
		case <-r.release:
		case <-req.Context().Done():
			return
		}
	}
	bad := func(format string, args ...any) {
		r.t.Errorf("webhook receiver: "+format, args...)
		http.Error(w, "bad delivery", http.StatusBadRequest)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		bad("read body: %v", err)
		return
	}
	ts := req.Header.Get(notify.HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		bad("timestamp header %q: %v", ts, err)
		return
	}
	d := delivery{
		id: req.Header.Get(notify.HeaderDelivery), kind: req.Header.Get(notify.HeaderEvent),
		validSig:  notify.VerifySignature(r.secret, ts, body, req.Header.Get(notify.HeaderSignature)),
		timestamp: time.Unix(sec, 0), status: http.StatusNoContent,
	}
	if err := json.Unmarshal(body, &d.event); err != nil {
		bad("body %q: %v", body, err)
		return
	}
	r.mu.Lock()
	if len(r.statuses) > 0 {
		d.status, r.statuses = r.statuses[0], r.statuses[1:]
	}
	r.mu.Unlock()
	w.WriteHeader(d.status)
	r.got <- d
}

// next waits for the next delivery, for a while: a webhook that never
// delivers fails the test instead of hanging it.
func (r *receiver) next(t *testing.T) delivery {
	t.Helper()
	select {
	case d := <-r.got:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery within 10s")
		return delivery{}
	}
}

// within is a context for waiting on the webhook (Close waits for its
// deliveries): a hang fails the test when it ends.
func within(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func newWebhook(t *testing.T, url, secret string, o notify.WebhookOptions) *notify.Webhook {
	o.URL, o.Secret = url, secret
	if o.Backoff == 0 {
		o.Backoff = time.Millisecond
	}
	w := notify.NewWebhook(o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.Close(ctx)
	})
	return w
}

func TestWebhookSignsEveryDelivery(t *testing.T) {
	t.Parallel()
	rcv, srv := newReceiver(t, "s3cret-hmac-key")
	w := newWebhook(t, srv.URL, "s3cret-hmac-key", notify.WebhookOptions{})
	ev := notify.Event{Kind: notify.RunHeld, Time: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), RunID: "run-1",
		Message: "run run-1 is held", Details: map[string]any{"scope": "all"}}
	before := time.Now().Add(-time.Second)
	w.Notify(context.Background(), ev)
	d := rcv.next(t)
	require.True(t, d.validSig, "the signature verifies with the shared secret")
	require.Equal(t, "run.held", d.kind)
	require.NotEmpty(t, d.id)
	require.False(t, d.timestamp.Before(before.Truncate(time.Second)), "the timestamp is current")
	require.Equal(t, ev, d.event)
	require.NoError(t, w.Close(within(t, 10*time.Second)))
	require.Equal(t, notify.WebhookStats{Delivered: 1}, w.Stats())
}

func TestSignatureRejectsTampering(t *testing.T) {
	t.Parallel()
	secret := []byte("k3y-for-signing")
	body := []byte(`{"kind":"target.down"}`)
	sig := notify.Sign(secret, "1700000000", body)
	require.True(t, notify.VerifySignature(secret, "1700000000", body, sig))
	cases := map[string]func() bool{
		"other body": func() bool {
			return notify.VerifySignature(secret, "1700000000", []byte(`{"kind":"target.back"}`), sig)
		},
		"other timestamp": func() bool { return notify.VerifySignature(secret, "1700000001", body, sig) },
		"other secret":    func() bool { return notify.VerifySignature([]byte("other-key"), "1700000000", body, sig) },
		"empty signature": func() bool { return notify.VerifySignature(secret, "1700000000", body, "") },
	}
	for name, verify := range cases {
		require.False(t, verify(), name)
	}
}

func TestWebhookRetriesTransientFailuresWithTheSameDeliveryID(t *testing.T) {
	t.Parallel()
	rcv, srv := newReceiver(t, "s3cret-hmac-key", 500, 429, 204)
	w := newWebhook(t, srv.URL, "s3cret-hmac-key", notify.WebhookOptions{MaxAttempts: 5})
	w.Notify(context.Background(), notify.Event{Kind: notify.TargetDown, Target: "crm", Message: "crm is down"})
	first := rcv.next(t)
	second := rcv.next(t)
	third := rcv.next(t)
	require.Equal(t, []int{500, 429, 204}, []int{first.status, second.status, third.status})
	require.Equal(t, first.id, second.id)
	require.Equal(t, first.id, third.id)
	require.True(t, third.validSig, "every attempt is signed afresh")
	require.NoError(t, w.Close(within(t, 10*time.Second)))
	require.Equal(t, notify.WebhookStats{Delivered: 1, Retries: 2}, w.Stats())
}

func TestWebhookGivesUp(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		statuses []int
		attempts int
	}{
		{"a refusal is not retried", []int{400}, 1},
		{"retries are bounded", []int{503, 503, 503, 503}, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rcv, srv := newReceiver(t, "s3cret-hmac-key", c.statuses...)
			w := newWebhook(t, srv.URL, "s3cret-hmac-key", notify.WebhookOptions{MaxAttempts: 3})
			w.Notify(context.Background(), notify.Event{Kind: notify.ActionFailed, Message: "x"})
			require.NoError(t, w.Close(within(t, 10*time.Second)))
			require.Len(t, rcv.got, c.attempts)
			require.Equal(t, int64(1), w.Stats().Failed)
			require.Zero(t, w.Stats().Delivered)
		})
	}
}

func TestWebhookNeverBlocksTheCaller(t *testing.T) {
	t.Parallel()
	rcv, srv := newReceiver(t, "s3cret-hmac-key")
	rcv.release = make(chan struct{})
	w := newWebhook(t, srv.URL, "s3cret-hmac-key", notify.WebhookOptions{QueueSize: 2})
	// The receiver holds the first delivery; two more fill the queue; the
	// rest are dropped at once instead of waiting.
	for i := 0; i < 10; i++ {
		w.Notify(context.Background(), notify.Event{Kind: notify.TargetIncident, Message: strconv.Itoa(i)})
	}
	dropped := w.Stats().Dropped
	require.GreaterOrEqual(t, dropped, int64(7))
	close(rcv.release)
	require.NoError(t, w.Close(within(t, 10*time.Second)))
	st := w.Stats()
	require.Equal(t, int64(10), st.Delivered+st.Dropped, "every alert is delivered or counted as dropped")

	w.Notify(context.Background(), notify.Event{Kind: notify.TargetBack, Message: "after close"})
	require.Equal(t, st.Dropped+1, w.Stats().Dropped, "after Close alerts are dropped, not sent")
}

func TestWebhookCloseAbandonsAtDeadline(t *testing.T) {
	t.Parallel()
	rcv, srv := newReceiver(t, "s3cret-hmac-key")
	rcv.release = make(chan struct{})
	defer close(rcv.release)
	w := newWebhook(t, srv.URL, "s3cret-hmac-key", notify.WebhookOptions{})
	w.Notify(context.Background(), notify.Event{Kind: notify.TargetDown, Message: "stuck"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, w.Close(ctx), context.Canceled)
}

// Send delivers now and says what the receiver answered: one signed
// attempt, its delivery ID returned; a refusal or a transient failure is
// an error that carries neither the event nor the URL's query.
func TestSendWaitsForTheReceiver(t *testing.T) {
	t.Parallel()
	rcv, srv := newReceiver(t, "k", http.StatusOK, http.StatusServiceUnavailable, http.StatusForbidden)
	ev := notify.Event{Kind: notify.InitialPassword, Time: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), Target: "ad",
		Message: "initial password", Details: map[string]any{"password": "Pw-very-secret-1"}}
	o := notify.WebhookOptions{URL: srv.URL + "/hook?token=tok-in-query", Secret: "k"}
	id, err := notify.Send(context.Background(), o, ev)
	require.NoError(t, err)
	d := rcv.next(t)
	require.True(t, d.validSig)
	require.Equal(t, id, d.id)
	require.Equal(t, "account.initial_password", d.kind)
	require.Equal(t, ev, d.event)

	for _, want := range []string{"503", "403"} {
		_, err = notify.Send(context.Background(), o, ev)
		require.Error(t, err)
		require.Contains(t, err.Error(), want)
		require.NotContains(t, err.Error(), "Pw-very-secret-1")
		require.NotContains(t, err.Error(), "tok-in-query")
		rcv.next(t)
	}

	// No receiver: the transport's error, without the URL.
	srv.Close()
	_, err = notify.Send(context.Background(), o, ev)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "tok-in-query")

	// A receiver that does not answer is given up at the timeout.
	slow := &receiver{t: t, secret: []byte("k"), got: make(chan delivery, 1), release: make(chan struct{})}
	ss := httptest.NewServer(slow)
	t.Cleanup(ss.Close)
	t.Cleanup(func() { close(slow.release) })
	_, err = notify.Send(context.Background(), notify.WebhookOptions{URL: ss.URL, Secret: "k", Timeout: 50 * time.Millisecond}, ev)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
