package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/store"
)

// Scopes an API key can hold. Admin implies every other; the others are
// independent, so a key for an ITSM that only ends employment holds
// persons:write and nothing it does not need.
const (
	ScopeRead         = "read"          // every GET
	ScopePersonsWrite = "persons:write" // create, update, end employment
	ScopeActionsWrite = "actions:write" // enforce, re-enforce, update, unmanage, retry
	ScopeRunsApprove  = "runs:approve"  // approve or cancel a run
	ScopeSCIMWrite    = "scim:write"    // inbound SCIM from HR: write (and read) /scim/v2/Users and /Bulk
	ScopeAdmin        = "admin"         // all of the above
)

// Scopes lists every scope, in the order they are documented.
var Scopes = []string{ScopeRead, ScopePersonsWrite, ScopeActionsWrite, ScopeRunsApprove, ScopeSCIMWrite, ScopeAdmin}

// A key reads acc_<id>_<secret>: the ID (16 hex digits) is the public
// lookup handle, the secret (32 random bytes, base64url) is only ever held
// by the caller; the store keeps its SHA-256. A slow hash would buy
// nothing here: the secret has 256 bits of entropy, unlike a password.
const (
	keyPrefix    = "acc_"
	keyIDLen     = 16
	keySecretLen = 43
)

var keyNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$`)

// newKey returns a fresh key and its parts.
func newKey() (full, id, secret string) {
	var idb [keyIDLen / 2]byte
	var sb [32]byte
	// crypto/rand.Read never fails (Go 1.24+): it crashes the program
	// rather than return predictable bytes.
	_, _ = rand.Read(idb[:])
	_, _ = rand.Read(sb[:])
	id = hex.EncodeToString(idb[:])
	secret = base64.RawURLEncoding.EncodeToString(sb[:])
	return keyPrefix + id + "_" + secret, id, secret
}

// parseKey splits a presented key into ID and secret.
func parseKey(s string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(s, keyPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != keyIDLen || len(secret) != keySecretLen {
		return "", "", false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", "", false
	}
	return id, secret, true
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// secretMatches compares in constant time, so the time an answer takes
// says nothing about how much of a guessed secret was right.
func secretMatches(k *store.APIKey, secret string) bool {
	return subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(k.Hash)) == 1
}

// allows reports whether a key may act within scope.
func allows(k *store.APIKey, scope string) bool {
	return slices.Contains(k.Scopes, ScopeAdmin) || slices.Contains(k.Scopes, scope)
}

// CreateKey makes and stores a key named name with the given scopes,
// valid until expires (zero: until revoked), and returns it: the only
// time the full key exists outside the caller.
func CreateKey(ctx context.Context, st Keys, name string, scopes []string, expires time.Time, actor string, now time.Time) (string, store.APIKey, error) {
	if !keyNamePattern.MatchString(name) {
		return "", store.APIKey{}, invalid("name", fmt.Sprintf("key name %q: use 1 to 64 letters, digits and _ . : @ -, starting with a letter or digit", name))
	}
	if !expires.IsZero() && !expires.After(now) {
		return "", store.APIKey{}, invalid("expires", fmt.Sprintf("expiry %s is not in the future", expires.Format(time.RFC3339)))
	}
	if len(scopes) == 0 {
		return "", store.APIKey{}, invalid("scopes", fmt.Sprintf("a key needs at least one scope (%s)", strings.Join(Scopes, ", ")))
	}
	var bad []string
	for _, s := range scopes {
		if !slices.Contains(Scopes, s) {
			bad = append(bad, fmt.Sprintf("%q", s))
		}
	}
	if len(bad) > 0 {
		return "", store.APIKey{}, invalid("scopes", fmt.Sprintf("unknown scope %s (known: %s)", strings.Join(bad, ", "), strings.Join(Scopes, ", ")))
	}
	scopes = slices.Clone(scopes)
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	full, id, secret := newKey()
	k := store.APIKey{ID: id, Name: name, Scopes: scopes, Hash: hashSecret(secret), CreatedAt: now, CreatedBy: actor, ExpiresAt: expires}
	if err := st.CreateAPIKey(ctx, k); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return "", k, fmt.Errorf("a key named %q exists already; rotate it ('accord keys rotate %s'), revoke it first or choose another name: %w", name, name, err)
		}
		return "", k, err
	}
	keyEvent(ctx, st, now, actor, "api key created", fmt.Sprintf("API key %q (id %s) created with scopes %s%s", name, id, strings.Join(scopes, ","), untilText(expires)))
	return full, k, nil
}

func untilText(expires time.Time) string {
	if expires.IsZero() {
		return ", no expiry"
	}
	return ", expires " + expires.UTC().Format(time.RFC3339)
}

// RotateKey gives the current key named or identified by ref a successor:
// a new secret under the same name and scopes. The old key stays valid
// for grace (0: not at all) so that clients can switch over. The new key
// expires after as long as the old one was made to last, unless expires
// says otherwise. An expired key may be rotated too (its name is still
// taken); the grace period never revives it.
func RotateKey(ctx context.Context, st Keys, ref string, grace time.Duration, expires time.Time, actor string, now time.Time) (string, store.APIKey, store.APIKey, error) {
	if grace < 0 {
		return "", store.APIKey{}, store.APIKey{}, invalid("grace", fmt.Sprintf("grace period %s is negative", grace))
	}
	old, err := FindKey(ctx, st, ref)
	if err != nil {
		return "", old, store.APIKey{}, err
	}
	switch {
	case old.Revoked():
		return "", old, store.APIKey{}, fmt.Errorf("API key %q (id %s) is revoked; create a new one instead: %w", old.Name, old.ID, store.ErrConflict)
	case old.ReplacedBy != "":
		return "", old, store.APIKey{}, fmt.Errorf("API key %q (id %s) was rotated already; rotate the current key by its name: %w", old.Name, old.ID, store.ErrConflict)
	}
	if expires.IsZero() && !old.ExpiresAt.IsZero() {
		expires = now.Add(old.ExpiresAt.Sub(old.CreatedAt))
	}
	if !expires.IsZero() && !expires.After(now) {
		return "", old, store.APIKey{}, invalid("expires", fmt.Sprintf("expiry %s is not in the future", expires.Format(time.RFC3339)))
	}
	full, id, secret := newKey()
	next := store.APIKey{ID: id, Name: old.Name, Scopes: old.Scopes, Hash: hashSecret(secret), CreatedAt: now, CreatedBy: actor, ExpiresAt: expires}
	until := now.Add(grace)
	if err := st.RotateAPIKey(ctx, old.ID, until, next); err != nil {
		return "", old, next, err
	}
	if old.ExpiresAt.IsZero() || until.Before(old.ExpiresAt) {
		old.ExpiresAt = until
	}
	old.ReplacedBy = id
	keyEvent(ctx, st, now, actor, "api key rotated", fmt.Sprintf("API key %q rotated: id %s replaces id %s, which stays valid until %s; new key%s",
		old.Name, id, old.ID, old.ExpiresAt.UTC().Format(time.RFC3339), untilText(expires)))
	return full, old, next, nil
}

// FindKey finds a key by ID, or by the name of a current key (unrevoked
// and not replaced by a rotation).
func FindKey(ctx context.Context, st Keys, ref string) (store.APIKey, error) {
	if k, err := st.GetAPIKey(ctx, ref); err == nil || !errors.Is(err, store.ErrNotFound) {
		return k, err
	}
	keys, err := st.ListAPIKeys(ctx)
	if err != nil {
		return store.APIKey{}, err
	}
	for _, k := range keys {
		if k.Name == ref && !k.Revoked() && k.ReplacedBy == "" {
			return k, nil
		}
	}
	return store.APIKey{}, fmt.Errorf("no API key with id or name %q: %w", ref, store.ErrNotFound)
}

// RevokeKey revokes the key named or identified by ref. By name, the
// keys it replaced that are still in their grace period are revoked with
// it: revoking "ci" must leave no key of "ci" working. The revocation
// takes effect at the key's next request: keys are not cached.
func RevokeKey(ctx context.Context, st Keys, ref, actor string, now time.Time) (store.APIKey, error) {
	k, err := FindKey(ctx, st, ref)
	if err != nil {
		return k, err
	}
	if err := st.RevokeAPIKey(ctx, k.ID, now, actor); err != nil {
		return k, err
	}
	k.RevokedAt, k.RevokedBy = now, actor
	keyEvent(ctx, st, now, actor, "api key revoked", fmt.Sprintf("API key %q (id %s) revoked", k.Name, k.ID))
	if ref != k.Name {
		return k, nil
	}
	keys, err := st.ListAPIKeys(ctx)
	if err != nil {
		return k, err
	}
	for _, old := range keys {
		if old.Name == k.Name && old.ReplacedBy != "" && !old.Revoked() && !old.Expired(now) {
			if err := st.RevokeAPIKey(ctx, old.ID, now, actor); err != nil && !errors.Is(err, store.ErrConflict) {
				return k, err
			}
			keyEvent(ctx, st, now, actor, "api key revoked", fmt.Sprintf("API key %q (id %s, rotated, in its grace period) revoked", old.Name, old.ID))
		}
	}
	return k, nil
}

// ParseExpiry reads when a key should expire: a lifetime in days ("90d")
// or as a Go duration ("36h"), a date ("2027-01-31", the start of that
// day in UTC) or an RFC 3339 time. The result is in the future.
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	var t time.Time
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return t, fmt.Errorf("expiry %q: a number of days is a positive whole number, as in 90d", s)
		}
		t = now.AddDate(0, 0, n)
	} else if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return t, fmt.Errorf("expiry %q: a lifetime must be positive", s)
		}
		t = now.Add(d)
	} else if d, err := time.Parse(time.DateOnly, s); err == nil {
		t = d
	} else if d, err := time.Parse(time.RFC3339, s); err == nil {
		t = d
	} else {
		return t, fmt.Errorf("expiry %q: use a lifetime (90d, 36h), a date (2027-01-31) or a time (2027-01-31T12:00:00Z)", s)
	}
	if !t.After(now) {
		return t, fmt.Errorf("expiry %q is not in the future (now is %s)", s, now.UTC().Format(time.RFC3339))
	}
	return t.UTC(), nil
}

func keyEvent(ctx context.Context, st Keys, now time.Time, actor, op, msg string) {
	// The key exists (or is revoked) whether or not this record is
	// written; a failure here must not undo it.
	_ = st.AppendAudit(ctx, []audit.Record{{Time: now, Kind: audit.KindEvent, Operation: op, Actor: actor, Message: msg, Outcome: "succeeded"}})
}

// KeyView is a key as the API and `accord keys ... --json` show it: never
// its secret, except Key once, in the answer that created it.
type KeyView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	Key       string     `json:"key,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	RevokedBy string     `json:"revoked_by,omitempty"`
	// ExpiresAt is absent for a key that never expires; a rotated key's
	// is the end of its grace period.
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	ReplacedBy string     `json:"replaced_by,omitempty"`
	// State is active, rotated (in its grace period), expired or revoked.
	State string `json:"state"`
}

// ToKeyView converts a key, judging its state at now.
func ToKeyView(k *store.APIKey, now time.Time) KeyView {
	out := KeyView{ID: k.ID, Name: k.Name, Scopes: k.Scopes, CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy, RevokedBy: k.RevokedBy,
		ReplacedBy: k.ReplacedBy, State: KeyState(k, now)}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	if k.Revoked() {
		t := k.RevokedAt
		out.RevokedAt = &t
	}
	if !k.ExpiresAt.IsZero() {
		t := k.ExpiresAt
		out.ExpiresAt = &t
	}
	return out
}

// KeyState is active, rotated, expired or revoked.
func KeyState(k *store.APIKey, now time.Time) string {
	switch {
	case k.Revoked():
		return "revoked"
	case k.Expired(now):
		return "expired"
	case k.ReplacedBy != "":
		return "rotated"
	}
	return "active"
}

type createKeyBody struct {
	Name    string   `json:"name"`
	Scopes  []string `json:"scopes"`
	Expires string   `json:"expires"`
}

type rotateKeyBody struct {
	Grace   string `json:"grace"`
	Expires string `json:"expires"`
}

func (s *Server) listKeys(rq *request) (int, any, error) {
	if _, err := rq.params(); err != nil {
		return 0, nil, err
	}
	keys, err := s.keysStore().ListAPIKeys(rq.Context())
	if err != nil {
		return 0, nil, err
	}
	now := s.app.Now()
	out := make([]KeyView, len(keys))
	for i := range keys {
		out[i] = ToKeyView(&keys[i], now)
	}
	return http.StatusOK, map[string]any{"keys": out}, nil
}

func (s *Server) createKey(rq *request) (int, any, error) {
	var body createKeyBody
	if err := decodeBody(rq.Request, &body, true); err != nil {
		return 0, nil, err
	}
	now := s.app.Now()
	expires, err := expiryField(body.Expires, now)
	if err != nil {
		return 0, nil, err
	}
	full, k, err := CreateKey(rq.Context(), s.keysStore(), body.Name, body.Scopes, expires, rq.actor(), now)
	if err != nil {
		return 0, nil, err
	}
	rq.note.message = fmt.Sprintf("API key %q (id %s) created%s", k.Name, k.ID, untilText(expires))
	out := ToKeyView(&k, now)
	out.Key = full
	return http.StatusCreated, out, nil
}

func (s *Server) rotateKey(rq *request) (int, any, error) {
	var body rotateKeyBody
	if err := decodeBody(rq.Request, &body, false); err != nil {
		return 0, nil, err
	}
	now := s.app.Now()
	grace := DefaultGrace
	if body.Grace != "" {
		g, err := time.ParseDuration(body.Grace)
		if err != nil {
			return 0, nil, invalid("grace", fmt.Sprintf("%q is not a duration such as 24h or 0s", body.Grace))
		}
		grace = g
	}
	expires, err := expiryField(body.Expires, now)
	if err != nil {
		return 0, nil, err
	}
	full, old, k, err := RotateKey(rq.Context(), s.keysStore(), rq.PathValue("name"), grace, expires, rq.actor(), now)
	if err != nil {
		return 0, nil, err
	}
	rq.note.message = fmt.Sprintf("API key %q rotated: id %s replaces id %s, valid until %s", k.Name, k.ID, old.ID, old.ExpiresAt.UTC().Format(time.RFC3339))
	out := ToKeyView(&k, now)
	out.Key = full
	return http.StatusCreated, out, nil
}

// DefaultGrace is how long a rotated key keeps working unless told.
const DefaultGrace = 24 * time.Hour

func expiryField(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := ParseExpiry(s, now)
	if err != nil {
		return t, invalid("expires", err.Error())
	}
	return t, nil
}
