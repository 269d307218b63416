package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/store"
)

const (
	sessionCookie = "accord_session"
	flashCookie   = "accord_flash"
	csrfField     = "csrf"
	csrfHeader    = "X-CSRF-Token"
	// touchEvery bounds how often a session's last request is written:
	// the idle timeout does not need a write per page.
	touchEvery = 30 * time.Second
)

// newToken returns 32 random bytes, URL-safe.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// csrfToken is the session's anti-forgery token: derived from the session
// token, so that it needs no storage, and useless without the cookie.
func csrfToken(sessionToken string) string {
	m := hmac.New(sha256.New, []byte(sessionToken))
	m.Write([]byte("accord console csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sameOrigin refuses cross-site requests that change something. A
// browser's Sec-Fetch-Site (which no page can set) decides when sent: a
// reverse proxy that rewrites Host does not change it. Otherwise Origin,
// when sent, must name this host.
func sameOrigin(r *http.Request) string {
	switch s := r.Header.Get("Sec-Fetch-Site"); s {
	case "same-origin", "none":
		return ""
	case "":
	default:
		return "the request came from another site (Sec-Fetch-Site: " + s + ")"
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return "the request's Origin " + o + " is not this site"
		}
	}
	return ""
}

// setCookie sets one of the console's cookies: HttpOnly, SameSite=Strict,
// and Secure over TLS or when api.console.secure_cookie says so.
func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil || c.cfg.SecureCookie, SameSite: http.SameSiteStrictMode})
}

func (c *Console) setSessionCookie(w http.ResponseWriter, r *http.Request, token string, maxAge int) {
	c.setCookie(w, r, sessionCookie, token, maxAge)
}

// setFlash leaves a message for the next page shown (after a redirect).
func (c *Console) setFlash(w http.ResponseWriter, r *http.Request, msg string) {
	c.setCookie(w, r, flashCookie, base64.RawURLEncoding.EncodeToString([]byte(msg)), 60)
}

// takeFlash returns the message left for this page, and clears it.
func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	c.setCookie(w, r, flashCookie, "", -1)
	b, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil || len(b) > 2000 {
		return ""
	}
	return string(b)
}

// session is a signed-in browser, checked for this request.
type session struct {
	token string
	hash  string
	key   *store.APIKey
}

// errSignedOut: no valid session; why says what to tell the person.
type errSignedOut struct{ why string }

func (e *errSignedOut) Error() string { return e.why }

// load returns the request's session, or *errSignedOut. A session past
// its idle or absolute timeout, or whose key was revoked or expired, is
// deleted.
func (c *Console) load(r *http.Request) (*session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, &errSignedOut{"Sign in to continue."}
	}
	ctx := r.Context()
	hash := hashToken(ck.Value)
	cs, err := c.sessions.GetConsoleSession(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &errSignedOut{"Your session has ended; sign in again."}
	}
	if err != nil {
		return nil, err
	}
	now := c.now()
	end := func(why string) (*session, error) {
		if err := c.sessions.DeleteConsoleSessions(ctx, hash, now.Add(-c.cfg.IdleTimeout), now); err != nil {
			return nil, err
		}
		return nil, &errSignedOut{why}
	}
	switch {
	case !now.Before(cs.ExpiresAt):
		return end("Your session reached its time limit; sign in again.")
	case now.Sub(cs.LastSeen) >= c.cfg.IdleTimeout:
		return end("Your session ended after " + c.cfg.IdleTimeout.String() + " without activity; sign in again.")
	}
	key, err := c.api.ActiveKey(ctx, cs.KeyID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, api.ErrKeyNotValid) {
			if derr := c.sessions.DeleteConsoleSessionsOfKey(ctx, cs.KeyID); derr != nil {
				return nil, derr
			}
			return nil, &errSignedOut{"Your session ended: " + err.Error() + "."}
		}
		return nil, err
	}
	if now.Sub(cs.LastSeen) >= touchEvery {
		if err := c.sessions.TouchConsoleSession(ctx, hash, now); err != nil {
			return nil, err
		}
	}
	return &session{token: ck.Value, hash: hash, key: key}, nil
}

// signInPage shows the sign-in form.
func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if s, err := c.load(r); err == nil && s != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.render(w, r, nil, http.StatusOK, "signin", "Sign in", signInView{Next: safeNext(r.URL.Query().Get("next")), Message: c.takeFlash(w, r)})
}

type signInView struct {
	Next    string
	Message string
	Error   string
}

// signIn checks the key typed in and starts a session.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if why := sameOrigin(r); why != "" {
		c.renderError(w, r, nil, http.StatusForbidden, "Refused: "+why+".")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		c.renderError(w, r, nil, http.StatusBadRequest, "The sign-in form could not be read: "+err.Error())
		return
	}
	next := safeNext(r.PostFormValue("next"))
	key, err := c.api.SignIn(r, r.PostFormValue("key"))
	if err != nil {
		status := http.StatusUnauthorized
		var ae *api.Error
		if errors.As(err, &ae) {
			status = ae.Status
		}
		c.render(w, r, nil, status, "signin", "Sign in", signInView{Next: next, Error: err.Error()})
		return
	}
	now := c.now()
	// Sessions that ended are swept at each sign-in.
	if err := c.sessions.DeleteConsoleSessions(r.Context(), "", now.Add(-c.cfg.IdleTimeout), now); err != nil {
		c.log.Warn("console: sweep ended sessions", "error", err)
	}
	token := newToken()
	cs := store.ConsoleSession{TokenHash: hashToken(token), KeyID: key.ID, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(c.cfg.AbsoluteTimeout)}
	if err := c.sessions.CreateConsoleSession(r.Context(), cs); err != nil {
		c.log.Error("console: create session", "error", err)
		c.renderError(w, r, nil, http.StatusServiceUnavailable, "The session could not be stored; try again.")
		return
	}
	if err := c.api.AuditSession(r, key, "console sign-in", "signed in to the console"); err != nil {
		// Fail closed: a session whose start is not on record is not given.
		_ = c.sessions.DeleteConsoleSessions(r.Context(), cs.TokenHash, time.Time{}, time.Time{})
		c.renderError(w, r, nil, http.StatusServiceUnavailable, "The sign-in could not be recorded in the audit trail, so it is refused; try again.")
		return
	}
	c.setSessionCookie(w, r, token, int(c.cfg.AbsoluteTimeout.Seconds()))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signOut deletes the session. It is a POST with the CSRF token, so that
// another site cannot sign a person out.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	s, err := c.load(r)
	if err != nil {
		c.setSessionCookie(w, r, "", -1)
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	if why := checkForgery(r, s); why != "" {
		c.renderError(w, r, nil, http.StatusForbidden, "Refused: "+why+".")
		return
	}
	if err := c.sessions.DeleteConsoleSessions(r.Context(), s.hash, time.Time{}, time.Time{}); err != nil {
		c.renderError(w, r, nil, http.StatusServiceUnavailable, "The session could not be ended; try again.")
		return
	}
	if err := c.api.AuditSession(r, s.key, "console sign-out", "signed out of the console"); err != nil {
		c.log.Warn("console: audit sign-out", "error", err)
	}
	c.setSessionCookie(w, r, "", -1)
	c.setFlash(w, r, "You are signed out.")
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// checkForgery checks a state-changing request: same origin, and the
// session's CSRF token in the form or the htmx header.
func checkForgery(r *http.Request, s *session) string {
	if why := sameOrigin(r); why != "" {
		return why
	}
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.PostFormValue(csrfField)
	}
	if got == "" {
		return "the form carries no CSRF token (reload the page and try again)"
	}
	if !hmac.Equal([]byte(got), []byte(csrfToken(s.token))) {
		return "the form's CSRF token is not this session's (reload the page and try again)"
	}
	return ""
}

// safeNext keeps a redirect after sign-in on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}
