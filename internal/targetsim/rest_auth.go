package targetsim

import (
	"cmp"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"mime"
	"net/http"
	"strings"
	"time"
)

const (
	restSessionCookie = "sid"
	restSessionHeader = "X-Session-Token"
)

func (r *REST) public(req *http.Request) bool {
	p := req.URL.Path
	return (p == restPrefix+"/session" && req.Method == http.MethodPost) || p == restPrefix+"/oauth/token"
}

func same(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// authorized reports whether req carries a credential the surface
// accepts now.
func (r *REST) authorized(req *http.Request) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.opts
	if !o.Session && !o.Basic && o.Bearer == "" && o.APIKey == "" && o.ClientID == "" {
		return true
	}
	r.expire()
	if o.Session && r.sessionOf(req) != "" {
		return true
	}
	if o.Basic {
		if u, p, ok := req.BasicAuth(); ok && same(u, o.Username) && same(p, o.Password) {
			return true
		}
	}
	h := req.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		if o.Bearer != "" && same(tok, o.Bearer) {
			return true
		}
		if _, ok := r.tokens[tok]; ok && o.ClientID != "" {
			return true
		}
	}
	if o.APIKey != "" {
		if o.APIKeyHeader != "" && same(req.Header.Get(o.APIKeyHeader), o.APIKey) {
			return true
		}
		if o.APIKeyQuery != "" && same(req.URL.Query().Get(o.APIKeyQuery), o.APIKey) {
			return true
		}
	}
	return false
}

// sessionOf returns the open session req carries. Must hold r.mu.
func (r *REST) sessionOf(req *http.Request) string {
	id := req.Header.Get(restSessionHeader)
	if c, err := req.Cookie(restSessionCookie); err == nil && id == "" {
		id = c.Value
	}
	if _, ok := r.sessions[id]; ok && id != "" {
		return id
	}
	return ""
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// credentials reads username and password from a JSON or form body.
func credentials(req *http.Request) (string, string, error) {
	mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" {
		if err := req.ParseForm(); err != nil {
			return "", "", restErr(http.StatusBadRequest, "bad form: %v", err)
		}
		return req.PostForm.Get("username"), req.PostForm.Get("password"), nil
	}
	obj, err := readObject(req)
	if err != nil {
		return "", "", err
	}
	u, _ := obj["username"].(string)
	p, _ := obj["password"].(string)
	return u, p, nil
}

// serveLogin opens the account's one session. A second login while a
// session is open is refused, as targets that allow one session per
// account do: a client that logs in for every request fails here.
func (r *REST) serveLogin(w http.ResponseWriter, req *http.Request) {
	user, pw, err := credentials(req)
	if err != nil {
		writeRESTError(w, err)
		return
	}
	r.mu.Lock()
	o := r.opts
	r.expire()
	switch {
	case !o.Session:
		err = restErr(http.StatusNotFound, "sessions are not enabled")
	case !same(user, o.Username) || !same(pw, o.Password):
		err = restErr(http.StatusUnauthorized, "wrong username or password")
	case len(r.sessions) > 0:
		// One session per user, as the targets accord must survive a
		// crash against: the old one must end (logout or expiry) first.
		err = restErr(cmp.Or(o.SessionOpenStatus, http.StatusConflict), "a session is already open for %s; log out first", user)
	}
	var id string
	if err == nil {
		id = randomToken()
		exp := time.Time{}
		if o.SessionTTL > 0 {
			exp = r.sim.now().Add(o.SessionTTL)
		}
		r.sessions[id] = exp
		r.logins++
	}
	r.mu.Unlock()
	if err != nil {
		writeRESTError(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: restSessionCookie, Value: id, Path: restPrefix, HttpOnly: true})
	writeJSON(w, http.StatusOK, map[string]any{"token": id, "user": user})
}

func (r *REST) serveLogout(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	id := r.sessionOf(req)
	delete(r.sessions, id)
	r.mu.Unlock()
	if id == "" {
		writeRESTError(w, restErr(http.StatusUnauthorized, "no session"))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: restSessionCookie, Value: "", Path: restPrefix, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}

// serveToken is an OAuth2 token endpoint for the client credentials
// grant (RFC 6749 §4.4), client authenticated by Basic or form fields.
func (r *REST) serveToken(w http.ResponseWriter, req *http.Request) {
	if err := req.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	id, sec, ok := req.BasicAuth()
	if !ok {
		id, sec = req.PostForm.Get("client_id"), req.PostForm.Get("client_secret")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.opts
	if req.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	if o.ClientID == "" || !same(id, o.ClientID) || !same(sec, o.ClientSecret) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	tok := randomToken()
	exp := time.Time{}
	out := map[string]any{"access_token": tok, "token_type": "bearer"}
	if o.TokenTTL > 0 {
		exp = r.sim.now().Add(o.TokenTTL)
		out["expires_in"] = int(o.TokenTTL / time.Second)
	}
	r.tokens[tok] = exp
	writeJSON(w, http.StatusOK, out)
}
