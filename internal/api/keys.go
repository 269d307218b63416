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
	"regexp"
	"slices"
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
	ScopeAdmin        = "admin"         // all of the above
)

// Scopes lists every scope, in the order they are documented.
var Scopes = []string{ScopeRead, ScopePersonsWrite, ScopeActionsWrite, ScopeRunsApprove, ScopeAdmin}

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

// CreateKey makes and stores a key named name with the given scopes and
// returns it: the only time the full key exists outside the caller.
func CreateKey(ctx context.Context, st store.Store, name string, scopes []string, actor string, now time.Time) (string, store.APIKey, error) {
	if !keyNamePattern.MatchString(name) {
		return "", store.APIKey{}, fmt.Errorf("key name %q: use 1 to 64 letters, digits and _ . : @ -, starting with a letter or digit", name)
	}
	if len(scopes) == 0 {
		return "", store.APIKey{}, fmt.Errorf("a key needs at least one scope (%s)", strings.Join(Scopes, ", "))
	}
	var bad []string
	for _, s := range scopes {
		if !slices.Contains(Scopes, s) {
			bad = append(bad, fmt.Sprintf("%q", s))
		}
	}
	if len(bad) > 0 {
		return "", store.APIKey{}, fmt.Errorf("unknown scope %s (known: %s)", strings.Join(bad, ", "), strings.Join(Scopes, ", "))
	}
	scopes = slices.Clone(scopes)
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	full, id, secret := newKey()
	k := store.APIKey{ID: id, Name: name, Scopes: scopes, Hash: hashSecret(secret), CreatedAt: now, CreatedBy: actor}
	if err := st.CreateAPIKey(ctx, k); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return "", k, fmt.Errorf("a key named %q exists already; revoke it first or choose another name: %w", name, err)
		}
		return "", k, err
	}
	keyEvent(ctx, st, now, actor, "api key created", fmt.Sprintf("API key %q (id %s) created with scopes %s", name, id, strings.Join(scopes, ",")))
	return full, k, nil
}

// FindKey finds a key by ID, or by the name of an unrevoked key.
func FindKey(ctx context.Context, st store.Store, ref string) (store.APIKey, error) {
	if k, err := st.GetAPIKey(ctx, ref); err == nil || !errors.Is(err, store.ErrNotFound) {
		return k, err
	}
	keys, err := st.ListAPIKeys(ctx)
	if err != nil {
		return store.APIKey{}, err
	}
	for _, k := range keys {
		if k.Name == ref && !k.Revoked() {
			return k, nil
		}
	}
	return store.APIKey{}, fmt.Errorf("no API key with id or name %q: %w", ref, store.ErrNotFound)
}

// RevokeKey revokes the key named or identified by ref. The revocation
// takes effect at the key's next request: keys are not cached.
func RevokeKey(ctx context.Context, st store.Store, ref, actor string, now time.Time) (store.APIKey, error) {
	k, err := FindKey(ctx, st, ref)
	if err != nil {
		return k, err
	}
	if err := st.RevokeAPIKey(ctx, k.ID, now, actor); err != nil {
		return k, err
	}
	k.RevokedAt, k.RevokedBy = now, actor
	keyEvent(ctx, st, now, actor, "api key revoked", fmt.Sprintf("API key %q (id %s) revoked", k.Name, k.ID))
	return k, nil
}

func keyEvent(ctx context.Context, st store.Store, now time.Time, actor, op, msg string) {
	// The key exists (or is revoked) whether or not this record is
	// written; a failure here must not undo it.
	_ = st.AppendAudit(ctx, []audit.Record{{Time: now, Kind: audit.KindEvent, Operation: op, Actor: actor, Message: msg, Outcome: "succeeded"}})
}
