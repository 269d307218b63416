package httpx

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"time"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/secret"
)

// WithSessionStore keeps a session auth's login in st under target, so a
// restarted accord reuses the session the target still holds instead of
// being refused a second one. It takes effect only with auth.session_key,
// the secret the session is sealed with: st never sees it in clear. log
// hears of sessions that could not be kept or read back.
func WithSessionStore(st connector.SessionStore, target string, log *slog.Logger) Option {
	return func(o *options) {
		if st != nil {
			o.keep = &keepSpec{st: st, target: target, log: log}
		}
	}
}

type keepSpec struct {
	st     connector.SessionStore
	target string
	log    *slog.Logger
}

// keeper seals sessions with AES-256-GCM under a key derived from the
// configured secret. The target, the user and the base URL are bound in
// as additional data: a sealed session opens only for the target and
// account it was made for.
type keeper struct {
	keepSpec
	aead cipher.AEAD
	aad  []byte
}

// kept is what is sealed: enough to rebuild the cookie jar or token.
type kept struct {
	Cookies []keptCookie `json:"cookies,omitempty"`
	Names   []string     `json:"names,omitempty"`
	Token   string       `json:"token,omitempty"`
}

type keptCookie struct {
	URL     string    `json:"url"` // the answer that set it, for the jar's domain and path rules
	Name    string    `json:"name"`
	Value   string    `json:"value"`
	Path    string    `json:"path,omitempty"`
	Domain  string    `json:"domain,omitempty"`
	Secure  bool      `json:"secure,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
}

func newKeeper(s *keepSpec, key, username, base string) (*keeper, error) {
	if s == nil || key == "" {
		return nil, nil
	}
	if len(key) < 16 {
		return nil, errors.New("auth.session_key: the secret must be at least 16 characters")
	}
	k, err := hkdf.Key(sha256.New, []byte(key), nil, "accord session seal v1", 32)
	if err != nil {
		return nil, fmt.Errorf("auth.session_key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("auth.session_key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("auth.session_key: %w", err)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return &keeper{keepSpec: *s, aead: aead, aad: []byte(s.target + "\x00" + username + "\x00" + base)}, nil
}

func (k *keeper) seal(v kept) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return k.aead.Seal(nonce, nonce, plain, k.aad), nil
}

func (k *keeper) open(b []byte) (kept, error) {
	var v kept
	n := k.aead.NonceSize()
	if len(b) < n {
		return v, errors.New("too short")
	}
	plain, err := k.aead.Open(nil, b[:n], b[n:], k.aad)
	if err != nil {
		return v, errors.New("it does not open with auth.session_key (changed key, or made for another target or user)")
	}
	return v, json.Unmarshal(plain, &v)
}

// save keeps the session; a failure costs only the reuse after a crash,
// so it is logged, not returned.
func (k *keeper) save(ctx context.Context, v kept) {
	b, err := k.seal(v)
	if err == nil {
		err = k.st.SaveSession(ctx, k.target, b)
	}
	if err != nil {
		k.log.Warn("session not kept: after a crash, the target may refuse a new login until this session expires",
			"target", k.target, "error", err)
	}
}

// load returns the session kept by an earlier process, if any.
func (k *keeper) load(ctx context.Context) (kept, bool) {
	b, err := k.st.LoadSession(ctx, k.target)
	if err != nil {
		k.log.Warn("kept session not read; logging in anew", "target", k.target, "error", err)
		return kept{}, false
	}
	if b == nil {
		return kept{}, false
	}
	v, err := k.open(b)
	if err != nil {
		k.log.Warn("kept session not usable; logging in anew", "target", k.target, "error", err)
		k.forget(ctx)
		return kept{}, false
	}
	return v, true
}

func (k *keeper) forget(ctx context.Context) {
	if err := k.st.DeleteSession(ctx, k.target); err != nil {
		k.log.Warn("kept session not deleted", "target", k.target, "error", err)
	}
}

// snapshotLocked is the open session as it is kept. Must hold a.mu.
func (a *sessionAuth) snapshotLocked() kept {
	v := kept{Names: a.names, Token: a.tok}
	for _, c := range a.cookies {
		v.Cookies = append(v.Cookies, c)
	}
	return v
}

// noteCookiesLocked remembers the session cookies an answer set, for the
// next snapshot. Must hold a.mu.
func (a *sessionAuth) noteCookiesLocked(u *url.URL, cookies []*http.Cookie) {
	if a.cookies == nil {
		a.cookies = map[string]keptCookie{}
	}
	for _, c := range cookies {
		a.cookies[c.Name] = keptCookie{URL: u.String(), Name: c.Name, Value: c.Value, Path: c.Path, Domain: c.Domain,
			Secure: c.Secure, Expires: c.Expires}
	}
}

// restoreLocked takes up the session an earlier process kept. Whether the
// target still honours it shows at the first request: a 401 logs in anew.
// Must hold a.mu.
func (a *sessionAuth) restoreLocked(ctx context.Context) {
	v, ok := a.keep.load(ctx)
	if !ok || (v.Token == "" && len(v.Cookies) == 0) {
		return
	}
	jar, _ := cookiejar.New(nil)
	a.cookies = nil
	var all []*http.Cookie
	for _, c := range v.Cookies {
		u, err := url.Parse(c.URL)
		if err != nil {
			continue
		}
		hc := &http.Cookie{Name: c.Name, Value: c.Value, Path: c.Path, Domain: c.Domain, Secure: c.Secure, Expires: c.Expires}
		jar.SetCookies(u, []*http.Cookie{hc})
		a.noteCookiesLocked(u, []*http.Cookie{hc})
		all = append(all, hc)
	}
	a.jar, a.names, a.tok, a.open = jar, v.Names, v.Token, true
	a.cred = a.fingerprint(all)
	if a.token != nil {
		a.cred = a.prefix + v.Token
	}
	a.registerSecretsLocked()
}

// registerSecretsLocked makes the session's values redacted wherever
// they might show. Must hold a.mu.
func (a *sessionAuth) registerSecretsLocked() {
	for _, c := range a.cookies {
		if slices.Contains(a.names, c.Name) && c.Value != "" {
			secret.Register(c.Value)
		}
	}
	if a.tok != "" {
		secret.Register(a.tok)
	}
}
