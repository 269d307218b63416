// Package secret holds references to secrets (`${env:NAME}`, `${file:PATH}`)
// and the redactor that keeps resolved values out of logs, audit records,
// errors and output.
//
// A config never holds a secret value: only a reference, resolved at the
// moment of use. Every resolved value is registered with the process-wide
// redactor, so that text on its way out (an audit excerpt, an error
// message) can be scrubbed of it even where the value was echoed back by a
// target in an unexpected place.
package secret

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Mask replaces a secret wherever one is redacted.
const Mask = "[REDACTED]"

var refPattern = regexp.MustCompile(`^\$\{(env|file):([^}]+)\}$`)

// Ref is a reference to a secret. Its zero value means "no secret".
type Ref struct {
	scheme string // "env" or "file"
	name   string
}

// Parse reads "${env:NAME}" or "${file:PATH}". A literal value is refused,
// so that a config file can be shared and committed without leaking.
func Parse(s string) (Ref, error) {
	m := refPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Ref{}, errors.New("must be a secret reference such as ${env:NAME} or ${file:PATH}, not a literal value")
	}
	return Ref{scheme: m[1], name: m[2]}, nil
}

// MustParse is Parse for literals in tests.
func MustParse(s string) Ref {
	r, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return r
}

// IsZero reports whether no reference was given.
func (r Ref) IsZero() bool { return r.scheme == "" }

// String returns the reference itself, never the value: safe to print.
func (r Ref) String() string {
	if r.IsZero() {
		return ""
	}
	return "${" + r.scheme + ":" + r.name + "}"
}

// MarshalJSON writes the reference, never the value.
func (r Ref) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf("%q", r.String())), nil }

// UnmarshalYAML reads a reference from a config scalar.
func (r *Ref) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("expected a secret reference such as ${env:NAME}")
	}
	p, err := Parse(n.Value)
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// Check reports whether the reference can be resolved now, without
// returning the value. Used by `config check` to name missing variables.
func (r Ref) Check() error {
	_, err := r.resolve(false)
	return err
}

// Resolve returns the secret's value and registers it for redaction.
func (r Ref) Resolve() (string, error) { return r.resolve(true) }

func (r Ref) resolve(register bool) (string, error) {
	var v string
	switch r.scheme {
	case "":
		return "", nil
	case "env":
		s, ok := os.LookupEnv(r.name)
		if !ok {
			return "", fmt.Errorf("secret %s: environment variable %s is not set", r, r.name)
		}
		v = s
	case "file":
		b, err := os.ReadFile(r.name)
		if err != nil {
			return "", fmt.Errorf("secret %s: %w", r, unwrapPathError(err))
		}
		v = strings.TrimRight(string(b), "\r\n")
	}
	if v == "" {
		return "", fmt.Errorf("secret %s is empty", r)
	}
	if register {
		Register(v)
	}
	return v, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

var redactor = struct {
	sync.RWMutex
	values []string
	repl   *strings.Replacer
}{}

// minSecretLen keeps tiny values ("1", "ok") from turning every text into
// masks; anything this short is no secret worth the name.
const minSecretLen = 4

// Register adds a value that must never appear in output.
func Register(v string) {
	if len(v) < minSecretLen {
		return
	}
	redactor.Lock()
	defer redactor.Unlock()
	for _, x := range redactor.values {
		if x == v {
			return
		}
	}
	redactor.values = append(redactor.values, v)
	// Longest first, so a secret that contains another is masked whole.
	sort.Slice(redactor.values, func(i, j int) bool { return len(redactor.values[i]) > len(redactor.values[j]) })
	args := make([]string, 0, 2*len(redactor.values))
	for _, x := range redactor.values {
		args = append(args, x, Mask)
	}
	redactor.repl = strings.NewReplacer(args...)
}

// Redact masks every registered secret in s.
func Redact(s string) string {
	redactor.RLock()
	r := redactor.repl
	redactor.RUnlock()
	if r == nil {
		return s
	}
	return r.Replace(s)
}

// sensitiveHeaders are masked in audit records whatever their value.
var sensitiveHeaders = map[string]bool{
	"authorization":       true,
	"proxy-authorization": true,
	"cookie":              true,
	"set-cookie":          true,
	"x-api-key":           true,
	"api-key":             true,
	"x-auth-token":        true,
}

// SensitiveHeader reports whether a header carries credentials by nature.
// Extra names can be declared per target (e.g. an API-key header).
func SensitiveHeader(name string, extra ...string) bool {
	l := strings.ToLower(name)
	if sensitiveHeaders[l] {
		return true
	}
	for _, e := range extra {
		if strings.EqualFold(e, name) {
			return true
		}
	}
	return strings.Contains(l, "token") || strings.Contains(l, "secret") || strings.Contains(l, "password")
}

// sensitiveKey matches JSON members whose values are secrets: any key
// naming a password, secret, token, credential or key of the API, private
// or access kind, in whatever case or spelling an API chose
// ("password", "newPassword", "client_secret", "accessToken", "apiKey").
// A plain "key" is not enough: "employeeKey" is an identifier, not a
// credential.
var sensitiveKey = regexp.MustCompile(`(?i)"([^"\\]*(?:password|passwd|passphrase|secret|token|credential|api_?key|private_?key|access_?key)[^"\\]*)"\s*:\s*"(?:[^"\\]|\\.)*"`)

// RedactBody masks registered secrets and the values of credential-like
// JSON keys (a password in a create-user body, a token in a login answer).
func RedactBody(s string) string {
	s = Redact(s)
	if !mayHaveSensitiveKey(s) {
		return s
	}
	return sensitiveKey.ReplaceAllString(s, `"$1":"`+Mask+`"`)
}

// sensitiveStems are in every key sensitiveKey matches; a body without
// any of them skips the regular expression, which would otherwise cost
// more than the request itself on large answers.
var sensitiveStems = []string{"pass", "secret", "token", "credential", "key"}

// stemAt is the stem that starts with a byte, in either case: the stems
// start with different letters, so one pass over a body looks for all.
var stemAt = func() (t [256]string) {
	for _, s := range sensitiveStems {
		if t[s[0]] != "" {
			panic("secret: two sensitive stems start with " + s[:1])
		}
		t[s[0]], t[s[0]-'a'+'A'] = s, s
	}
	return t
}()

// mayHaveSensitiveKey reports whether s contains a stem in any case, in
// one pass and without the copy strings.ToLower would make of every body.
func mayHaveSensitiveKey(s string) bool {
	for i := 0; i < len(s); i++ {
		if w := stemAt[s[i]]; w != "" && i+len(w) <= len(s) && strings.EqualFold(s[i:i+len(w)], w) {
			return true
		}
	}
	return false
}
