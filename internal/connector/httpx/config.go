// Package httpx is the HTTP plumbing that every HTTP-speaking connector
// shares: a client tuned for many concurrent requests to one host, auth
// as configuration, the correlation header, one audit record per exchange
// with secrets redacted, and the translation of answers and transport
// failures into *connector.Error.
package httpx

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/accord-iam/accord/internal/secret"
	"github.com/accord-iam/accord/internal/yamlx"
)

// Defaults applied where the config leaves a value zero.
const (
	DefaultCorrelationHeader = "X-Correlation-ID"
	DefaultTimeout           = 30 * time.Second
	DefaultConnectTimeout    = 10 * time.Second
	DefaultMaxConnsPerHost   = 32
	// DefaultRefreshBefore is how long before an OAuth2 token expires it
	// is replaced, so that a request never leaves with a token that dies
	// on the way.
	DefaultRefreshBefore = time.Minute
)

// Config is the HTTP part of a connector's settings. Connectors inline it
// (`yaml:",inline"`) so its keys sit beside their own.
type Config struct {
	Auth AuthConfig `yaml:"auth"`
	// CorrelationHeader carries the run/action ID to the target.
	CorrelationHeader string `yaml:"correlation_header"`
	// IdempotencyHeader, when set, carries the run/action ID on writes
	// the target must not apply twice (a create's POST), for targets that
	// answer a repeated key with the first answer: a create resent after a
	// crash or a timeout then cannot make a second account. Off by
	// default: a target that does not know the header ignores it at best.
	IdempotencyHeader string `yaml:"idempotency_header"`
	// Timeout bounds one request, from dialling to the last byte of the
	// answer. A retry after a 401 gets its own.
	Timeout time.Duration `yaml:"timeout"`
	// ConnectTimeout bounds dialling and the TLS handshake.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// MaxConnsPerHost is how many connections are kept open to the
	// target; the engine runs many actions against one host at once.
	MaxConnsPerHost int `yaml:"max_conns_per_host"`
}

// Auth types.
const (
	AuthNone   = "none"
	AuthBasic  = "basic"
	AuthBearer = "bearer"
	AuthAPIKey = "api_key"
	AuthOAuth2 = "oauth2"
	// AuthSession logs in with a configured request and keeps the
	// session (a cookie, or a token from the answer) for every request.
	AuthSession = "session"
)

// AuthConfig says how requests prove who sends them. Only the keys of the
// chosen type may be set.
//
//	auth: {type: bearer, token: "${env:SCIM_TOKEN}"}
//	auth: {type: basic, username: svc, password: "${env:PW}"}
//	auth: {type: api_key, header: X-API-Key, key: "${env:KEY}"}   # or query: api_key
//	auth: {type: oauth2, token_url: https://idp/token, client_id: accord,
//	       client_secret: "${env:SECRET}", scopes: [scim]}
//	auth: {type: session, username: svc, password: "${env:PW}",
//	       login: {url: /session, body: '{"username": {{ username }}, "password": {{ password }}}'},
//	       logout: {method: DELETE, url: /session}}
//
// A session auth keeps the cookies of the login answer (or only the one
// named by cookie) in one jar per target, or, with token_path, reads a
// token from the login answer and sends it in header (default
// Authorization, with prefix "Bearer "). See SessionRequest.
type AuthConfig struct {
	Type string `yaml:"type"`

	Username string     `yaml:"username"`
	Password secret.Ref `yaml:"password"`

	Token secret.Ref `yaml:"token"`

	Header string     `yaml:"header"`
	Query  string     `yaml:"query"`
	Key    secret.Ref `yaml:"key"`

	TokenURL       string            `yaml:"token_url"`
	ClientID       string            `yaml:"client_id"`
	ClientSecret   secret.Ref        `yaml:"client_secret"`
	Scopes         []string          `yaml:"scopes"`
	EndpointParams map[string]string `yaml:"endpoint_params"`
	// AuthStyle: header (HTTP Basic, the default), params (in the form
	// body) or auto (try both; costs a second token request on failure).
	AuthStyle     string        `yaml:"auth_style"`
	RefreshBefore time.Duration `yaml:"refresh_before"`

	Login     *SessionRequest `yaml:"login"`
	Logout    *SessionRequest `yaml:"logout"`
	Cookie    string          `yaml:"cookie"`
	TokenPath string          `yaml:"token_path"`
	Prefix    *string         `yaml:"prefix"`
	// SessionKey seals the session (cookies or token) kept in the store,
	// so a restarted accord takes up the session the target still holds
	// instead of being refused a second one. Unset: nothing is kept.
	SessionKey secret.Ref `yaml:"session_key"`
}

// keysByType lists the keys each type accepts besides `type`.
var keysByType = map[string][]string{
	AuthNone:    nil,
	AuthBasic:   {"username", "password"},
	AuthBearer:  {"token"},
	AuthAPIKey:  {"header", "query", "key"},
	AuthOAuth2:  {"token_url", "client_id", "client_secret", "scopes", "endpoint_params", "auth_style", "refresh_before"},
	AuthSession: {"username", "password", "login", "logout", "cookie", "token_path", "header", "prefix", "session_key"},
}

// Check reports what is wrong with c beyond its YAML shape. node is the
// settings node c was decoded from (for line numbers) and base the path
// of that node in problems, e.g. "" for a connector's settings.
func (c Config) Check(node *yaml.Node, base string) yamlx.Problems {
	lines := yamlx.Lines(node, base)
	var ps yamlx.Problems
	add := func(path, format string, args ...any) {
		ps = append(ps, yamlx.Problem{Path: path, Line: yamlx.LineOf(lines, path), Msg: fmt.Sprintf(format, args...)})
	}
	if c.Timeout < 0 {
		add(yamlx.Join(base, "timeout"), "must not be negative")
	}
	if c.ConnectTimeout < 0 {
		add(yamlx.Join(base, "connect_timeout"), "must not be negative")
	}
	if c.MaxConnsPerHost < 0 {
		add(yamlx.Join(base, "max_conns_per_host"), "must not be negative")
	}
	if h := c.CorrelationHeader; h != "" && !validHeaderName(h) {
		add(yamlx.Join(base, "correlation_header"), "%q is not a valid HTTP header name", h)
	}
	if h := c.IdempotencyHeader; h != "" && !validHeaderName(h) {
		add(yamlx.Join(base, "idempotency_header"), "%q is not a valid HTTP header name", h)
	}
	ab := yamlx.Join(base, "auth")
	a := c.Auth
	typ := a.Type
	if typ == "" {
		typ = AuthNone
	}
	allowed, ok := keysByType[typ]
	if !ok {
		add(yamlx.Join(ab, "type"), "unknown auth type %q (known: none, basic, bearer, api_key, oauth2, session)", a.Type)
		return ps
	}
	set := a.setKeys()
	for _, k := range set {
		if !slices.Contains(allowed, k) {
			add(yamlx.Join(ab, k), "does not apply to auth type %s", typ)
		}
	}
	need := func(key string, present bool) {
		if !present {
			add(yamlx.Join(ab, key), "is required for auth type %s", typ)
		}
	}
	switch typ {
	case AuthBasic:
		need("username", a.Username != "")
		need("password", !a.Password.IsZero())
	case AuthBearer:
		need("token", !a.Token.IsZero())
	case AuthAPIKey:
		need("key", !a.Key.IsZero())
		switch {
		case a.Header == "" && a.Query == "":
			add(ab, "api_key needs either header (name of the header) or query (name of the query parameter)")
		case a.Header != "" && a.Query != "":
			add(yamlx.Join(ab, "query"), "give either header or query, not both")
		case a.Header != "" && !validHeaderName(a.Header):
			add(yamlx.Join(ab, "header"), "%q is not a valid HTTP header name", a.Header)
		}
	case AuthOAuth2:
		need("client_id", a.ClientID != "")
		need("client_secret", !a.ClientSecret.IsZero())
		need("token_url", a.TokenURL != "")
		if a.TokenURL != "" {
			if err := CheckURL(a.TokenURL); err != nil {
				add(yamlx.Join(ab, "token_url"), "%v", err)
			}
		}
		switch a.AuthStyle {
		case "", "header", "params", "auto":
		default:
			add(yamlx.Join(ab, "auth_style"), "must be header, params or auto, not %q", a.AuthStyle)
		}
		if a.RefreshBefore < 0 {
			add(yamlx.Join(ab, "refresh_before"), "must not be negative")
		}
	case AuthSession:
		ps = append(ps, a.checkSession(lines, ab)...)
	}
	ps.Sort()
	return ps
}

// CheckSecrets reports secret references that cannot be resolved now
// (missing variable or file), without revealing any value.
func (c Config) CheckSecrets(base string) yamlx.Problems {
	var ps yamlx.Problems
	ab := yamlx.Join(base, "auth")
	for key, ref := range map[string]secret.Ref{"password": c.Auth.Password, "token": c.Auth.Token, "key": c.Auth.Key, "client_secret": c.Auth.ClientSecret, "session_key": c.Auth.SessionKey} {
		if ref.IsZero() {
			continue
		}
		if err := ref.Check(); err != nil {
			ps = append(ps, yamlx.Problem{Path: yamlx.Join(ab, key), Msg: err.Error()})
		}
	}
	ps.Sort()
	return ps
}

func (a AuthConfig) setKeys() []string {
	var ks []string
	add := func(k string, set bool) {
		if set {
			ks = append(ks, k)
		}
	}
	add("username", a.Username != "")
	add("password", !a.Password.IsZero())
	add("token", !a.Token.IsZero())
	add("header", a.Header != "")
	add("query", a.Query != "")
	add("key", !a.Key.IsZero())
	add("token_url", a.TokenURL != "")
	add("client_id", a.ClientID != "")
	add("client_secret", !a.ClientSecret.IsZero())
	add("scopes", len(a.Scopes) > 0)
	add("endpoint_params", len(a.EndpointParams) > 0)
	add("auth_style", a.AuthStyle != "")
	add("refresh_before", a.RefreshBefore != 0)
	add("login", a.Login != nil)
	add("logout", a.Logout != nil)
	add("cookie", a.Cookie != "")
	add("token_path", a.TokenPath != "")
	add("prefix", a.Prefix != nil)
	add("session_key", !a.SessionKey.IsZero())
	return ks
}

// CheckURL reports whether s is an absolute http(s) URL without
// credentials in it, for connectors that take a base URL.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must be an http:// or https:// URL, got %q", s)
	}
	if u.Host == "" {
		return fmt.Errorf("has no host: %q", s)
	}
	if u.User != nil {
		return fmt.Errorf("must not carry credentials; use auth instead")
	}
	return nil
}

// ValidHeaderName reports whether h is a legal HTTP header name (a
// token), for connectors that take header names from config.
func ValidHeaderName(h string) bool { return validHeaderName(h) }

func validHeaderName(h string) bool {
	if h == "" {
		return false
	}
	for _, r := range h {
		if r > 127 || r <= ' ' || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return false
		}
	}
	return true
}

func (c Config) withDefaults() Config {
	if c.CorrelationHeader == "" {
		c.CorrelationHeader = DefaultCorrelationHeader
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.MaxConnsPerHost == 0 {
		c.MaxConnsPerHost = DefaultMaxConnsPerHost
	}
	if c.Auth.Type == "" {
		c.Auth.Type = AuthNone
	}
	if c.Auth.RefreshBefore == 0 {
		c.Auth.RefreshBefore = DefaultRefreshBefore
	}
	return c
}
