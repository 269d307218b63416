package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/secret"
)

// pool keeps up to size bound connections; a request takes one (or
// dials and binds a new one), and gives it back unless it broke.
type pool struct {
	set     Settings
	tls     *tls.Config
	sem     chan struct{}
	mu      sync.Mutex
	idle    []*goldap.Conn
	wrapErr func(op, what string, err error) error
}

func newPool(s Settings, wrap func(op, what string, err error) error) (*pool, error) {
	p := &pool{set: s, sem: make(chan struct{}, s.PoolSize), wrapErr: wrap}
	u, err := url.Parse(s.URL)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if u.Scheme == "ldaps" || s.StartTLS {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.Hostname()}
		if s.CAFile != "" {
			if cfg.RootCAs, err = loadCA("ca_file", s.CAFile); err != nil {
				return nil, err
			}
		}
		p.tls = cfg
	}
	return p, nil
}

// loadCA reads the PEM certificates in path (the setting key) as a pool
// of roots.
func loadCA(key, path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s %s: no PEM certificate in it", key, path)
	}
	return roots, nil
}

// dial opens and binds a new connection.
func (p *pool) dial() (*goldap.Conn, error) {
	d := &net.Dialer{Timeout: p.set.Timeout}
	opts := []goldap.DialOpt{goldap.DialWithDialer(d)}
	if p.tls != nil {
		opts = append(opts, goldap.DialWithTLSConfig(p.tls))
	}
	conn, err := goldap.DialURL(p.set.URL, opts...)
	if err != nil {
		return nil, p.wrapErr("connect", "connect to "+p.set.URL, err)
	}
	conn.SetTimeout(p.set.Timeout)
	if p.set.StartTLS {
		if err := conn.StartTLS(p.tls); err != nil {
			_ = conn.Close()
			return nil, p.wrapErr("connect", "StartTLS with "+p.set.URL, err)
		}
	}
	if p.set.BindDN != "" {
		pw, err := p.set.BindPassword.Resolve()
		if err != nil {
			_ = conn.Close()
			return nil, connector.Errorf(connector.Auth, "bind_password: %v", err)
		}
		if err := conn.Bind(p.set.BindDN, pw); err != nil {
			_ = conn.Close()
			return nil, p.wrapErr("bind", "bind as "+p.set.BindDN, err)
		}
	}
	return conn, nil
}

// take returns a bound connection, waiting while size are in use.
func (p *pool) take(ctx context.Context) (*goldap.Conn, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, connector.AsError(ctx.Err())
	}
	p.mu.Lock()
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if !c.IsClosing() {
			p.mu.Unlock()
			return c, nil
		}
		_ = c.Close()
	}
	p.mu.Unlock()
	c, err := p.dial()
	if err != nil {
		<-p.sem
		return nil, err
	}
	return c, nil
}

// give returns a connection; a broken one is closed instead.
func (p *pool) give(c *goldap.Conn, broken bool) {
	if broken || c.IsClosing() {
		_ = c.Close()
	} else {
		p.mu.Lock()
		p.idle = append(p.idle, c)
		p.mu.Unlock()
	}
	<-p.sem
}

func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.idle {
		_ = c.Close()
	}
	p.idle = nil
}

// audit records one request and its outcome as an exchange under the
// call in ctx, as the HTTP connectors do: the operation, what it was
// about (a DN, a filter; never attribute values), the result code and the
// server's words, secrets redacted.
func (c *Conn) audit(ctx context.Context, op, what string, start time.Time, err error) {
	call := audit.CallFrom(ctx)
	rec := call.Base(audit.KindExchange)
	rec.Method = strings.ToUpper(op)
	rec.URL = c.set.URL
	rec.RequestBody = audit.Excerpt(secret.Redact(what))
	rec.DurationMS = time.Since(start).Milliseconds()
	if err != nil {
		ce := connector.AsError(c.wrapError(op, what, err))
		rec.Status = ce.Status
		rec.ErrorKind = string(ce.Kind)
		rec.Message = ce.Error()
		rec.ResponseExcerpt = ce.Reason
		if ce.Status == 0 || ce.Status >= int(goldap.ErrorNetwork) {
			rec.Outcome = "failed"
		}
	}
	call.Sink.Append(ctx, rec)
}

// goldapTimeout is the error go-ldap gives (as a network error, code
// 200) when the server does not answer a request within the connection's
// timeout: the client library's own words, not the server's.
const goldapTimeout = "ldap: connection timed out"

// timedOut reports whether err is a request that got no answer in time.
func timedOut(err error) bool {
	var le *goldap.Error
	if errors.As(err, &le) {
		return le.ResultCode == goldap.LDAPResultTimeout ||
			le.ResultCode == goldap.ErrorNetwork && le.Err != nil && le.Err.Error() == goldapTimeout
	}
	return false
}

// brokenConn reports whether err means the connection is gone (so the
// request may be sent again on a new one).
func brokenConn(err error) bool {
	var le *goldap.Error
	if errors.As(err, &le) {
		return le.ResultCode == goldap.ErrorNetwork || le.ResultCode == goldap.LDAPResultServerDown
	}
	return false
}

// do runs fn on a pooled connection, after the pacing gate in ctx. A
// connection that dropped is replaced and fn sent once more; cancelling
// ctx closes the connection under a request still waiting for its answer.
func (c *Conn) do(ctx context.Context, op, what string, fn func(*goldap.Conn) error) error {
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		if err := connector.GateFrom(ctx)(ctx); err != nil {
			return connector.AsError(err)
		}
		var conn *goldap.Conn
		conn, err = c.pool.take(ctx)
		if err != nil {
			if attempt == 0 && connector.KindOf(err) == connector.Unavailable && ctx.Err() == nil {
				continue
			}
			return err
		}
		stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
		start := time.Now()
		err = fn(conn)
		cancelled := !stop()
		c.audit(ctx, op, what, start, err)
		timedOut := timedOut(err)
		dropped := brokenConn(err) && !timedOut
		// A connection whose request timed out may still get the late
		// answer: it is not used again. The request is not sent again
		// either: the timeout bounds the call, not each attempt.
		c.pool.give(conn, dropped || timedOut || cancelled)
		if cancelled {
			return c.wrapError(op, what, ctx.Err())
		}
		if !dropped {
			return c.wrapError(op, what, err)
		}
	}
	return c.wrapError(op, what, err)
}
