package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Headers of a webhook delivery. The signature is
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)): a receiver
// recomputes it over the raw body and rejects stale timestamps, so a
// captured delivery cannot be replayed later or altered.
const (
	HeaderEvent     = "X-Accord-Event"
	HeaderDelivery  = "X-Accord-Delivery"
	HeaderTimestamp = "X-Accord-Timestamp"
	HeaderSignature = "X-Accord-Signature"
)

// Sign returns the signature header value of a delivery.
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks a delivery's signature in constant time.
func VerifySignature(secret []byte, timestamp string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature))
}

// WebhookOptions configure a Webhook.
type WebhookOptions struct {
	URL    string
	Secret string
	// Timeout bounds one attempt (default 10s).
	Timeout time.Duration
	// QueueSize bounds events waiting for delivery (default 256).
	QueueSize int
	// MaxAttempts per event (default 5).
	MaxAttempts int
	// Backoff is the first delay between attempts, doubled each time up
	// to MaxBackoff (defaults 1s and 1m).
	Backoff    time.Duration
	MaxBackoff time.Duration
	Client     *http.Client
	Logger     *slog.Logger
}

// WebhookStats counts what a Webhook did.
type WebhookStats struct {
	Delivered int64 // accepted by the receiver (2xx)
	Failed    int64 // given up after retries or refused outright
	Dropped   int64 // not queued: the queue was full or closed
	Retries   int64 // attempts after the first
}

// Webhook delivers events as signed JSON POSTs from a bounded queue, in
// order, on its own goroutine: Notify never waits on the receiver. Events
// that do not fit in the queue are dropped and logged, because slowing the
// engine down for an alert would be worse than losing the alert (the log
// keeps it).
type Webhook struct {
	o       WebhookOptions
	secret  []byte
	queue   chan queued
	mu      sync.RWMutex // guards sends on queue against its close
	closed  bool
	done    chan struct{}
	abort   context.Context
	cancel  context.CancelFunc
	stopped sync.Once

	delivered, failed, dropped, retries atomic.Int64
}

type queued struct {
	kind Kind
	body []byte
}

// NewWebhook starts a webhook sender; Close stops it.
func NewWebhook(o WebhookOptions) *Webhook {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 256
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = max(o.Backoff, time.Minute)
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	w := &Webhook{o: o, secret: []byte(o.Secret), queue: make(chan queued, o.QueueSize), done: make(chan struct{})}
	w.abort, w.cancel = context.WithCancel(context.Background())
	go w.loop()
	return w
}

// Notify queues the event for delivery, or drops it when the queue is full.
func (w *Webhook) Notify(_ context.Context, ev Event) {
	body, err := json.Marshal(ev)
	if err != nil {
		w.o.Logger.Error("webhook: cannot encode event", "kind", ev.Kind, "error", err)
		w.dropped.Add(1)
		return
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		w.dropped.Add(1)
		return
	}
	select {
	case w.queue <- queued{kind: ev.Kind, body: body}:
	default:
		w.dropped.Add(1)
		w.o.Logger.Warn("webhook: queue full, alert dropped (it is in the log)", "kind", ev.Kind, "queue_size", w.o.QueueSize)
	}
}

// Close stops accepting events and delivers what is queued until ctx is
// done; then pending deliveries are abandoned.
func (w *Webhook) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		w.cancel()
		<-w.done
		return fmt.Errorf("webhook: undelivered alerts abandoned at shutdown: %w", ctx.Err())
	}
}

// Stats returns the counts so far.
func (w *Webhook) Stats() WebhookStats {
	return WebhookStats{Delivered: w.delivered.Load(), Failed: w.failed.Load(), Dropped: w.dropped.Load(), Retries: w.retries.Load()}
}

func (w *Webhook) loop() {
	defer close(w.done)
	defer w.cancel()
	for q := range w.queue {
		if w.abort.Err() != nil {
			w.failed.Add(1)
			continue
		}
		w.deliver(q)
	}
}

// deliver tries one event up to MaxAttempts times. A delivery ID stays
// the same across attempts so that a receiver can drop duplicates.
func (w *Webhook) deliver(q queued) {
	id := uuid.NewString()
	delay := w.o.Backoff
	for attempt := 1; ; attempt++ {
		retryAfter, err := w.attempt(q, id)
		if err == nil {
			w.delivered.Add(1)
			return
		}
		var permanent *permanentError
		if errors.As(err, &permanent) || attempt >= w.o.MaxAttempts {
			w.failed.Add(1)
			w.o.Logger.Error("webhook: alert not delivered", "kind", q.kind, "delivery", id, "attempts", attempt, "error", err)
			return
		}
		wait := max(delay, min(retryAfter, w.o.MaxBackoff))
		delay = min(2*delay, w.o.MaxBackoff)
		w.o.Logger.Warn("webhook: delivery failed, will retry", "kind", q.kind, "delivery", id, "attempt", attempt, "retry_in", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-w.abort.Done():
			t.Stop()
			w.failed.Add(1)
			return
		}
		w.retries.Add(1)
	}
}

type permanentError struct{ status int }

func (e *permanentError) Error() string {
	return fmt.Sprintf("receiver refused the delivery with status %d", e.status)
}

// attempt posts once. It returns how long the receiver asked to wait, if
// it did, and an error unless the receiver accepted the event.
func (w *Webhook) attempt(q queued, id string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(w.abort, w.o.Timeout)
	defer cancel()
	return post(ctx, w.o.Client, w.o.URL, w.secret, q.kind, id, q.body)
}

// Send posts one event to a receiver now and waits for its answer, for
// what must have reached the receiver before the caller goes on (an
// initial password, before the account is enabled), unlike Webhook's
// queued alerts: one attempt, signed as Webhook signs, bounded by
// o.Timeout (default 10s) and ctx. It returns the delivery ID. Its error
// says what went wrong (the receiver's status, the transport's error)
// and never carries the event, nor the URL, whose query may hold a
// token.
func Send(ctx context.Context, o WebhookOptions, ev Event) (string, error) {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return "", fmt.Errorf("encode %s event: %w", ev.Kind, err)
	}
	id := uuid.NewString()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	_, err = post(ctx, o.Client, o.URL, []byte(o.Secret), ev.Kind, id, body)
	return id, err
}

// post sends one signed delivery.
func post(ctx context.Context, client *http.Client, to string, secret []byte, kind Kind, id string, body []byte) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, to, bytes.NewReader(body))
	if err != nil {
		return 0, &permanentError{}
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "accord-webhook")
	req.Header.Set(HeaderEvent, string(kind))
	req.Header.Set(HeaderDelivery, id)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(secret, ts, body))
	resp, err := client.Do(req)
	if err != nil {
		// The URL may carry a token in its query: never log it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("post to webhook: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return 0, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		var after time.Duration
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			after = time.Duration(s) * time.Second
		}
		return after, fmt.Errorf("receiver answered %d", resp.StatusCode)
	default:
		return 0, &permanentError{status: resp.StatusCode}
	}
}
