package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/store"
)

// RunAccess runs the conformance tests of store.AccessStore (API keys,
// unmanaged entitlements, attempt outcomes) as parallel subtests; open has
// the same contract as in Run.
func RunAccess(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	for _, tc := range accessTests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
}

var accessTests = []test{
	{"APIKeyRoundTrip", testAPIKeyRoundTrip},
	{"APIKeyRevoke", testAPIKeyRevoke},
	{"APIKeyUniqueness", testAPIKeyUniqueness},
	{"APIKeyExpiryAndRotation", testAPIKeyExpiryAndRotation},
	{"UnmanagedSetListUnset", testUnmanaged},
	{"AttemptOutcomes", testAttemptOutcomes},
}

func apiKey(id, name string, created time.Time, scopes ...string) store.APIKey {
	return store.APIKey{ID: id, Name: name, Scopes: scopes, Hash: "hash-of-" + id, CreatedAt: created, CreatedBy: "cli:alice"}
}

func testAPIKeyRoundTrip(t *testing.T, s store.Store) {
	k := apiKey("k1", "ci", at(time.Second), "read", "runs:approve")
	require.NoError(t, s.CreateAPIKey(ctx(t), k))
	require.NoError(t, s.CreateAPIKey(ctx(t), apiKey("k0", "ops", at(2*time.Second))))

	got, err := s.GetAPIKey(ctx(t), "k1")
	require.NoError(t, err)
	require.Equal(t, k, got)
	require.False(t, got.Revoked())

	_, err = s.GetAPIKey(ctx(t), "nope")
	require.ErrorIs(t, err, store.ErrNotFound)

	list, err := s.ListAPIKeys(ctx(t))
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, []string{"k1", "k0"}, []string{list[0].ID, list[1].ID}, "oldest first")
	require.Nil(t, list[1].Scopes, "no scopes reads back as nil")
}

func testAPIKeyRevoke(t *testing.T, s store.Store) {
	require.NoError(t, s.CreateAPIKey(ctx(t), apiKey("k1", "ci", at(0), "read")))
	require.NoError(t, s.RevokeAPIKey(ctx(t), "k1", at(time.Hour), "cli:bob"))
	got, err := s.GetAPIKey(ctx(t), "k1")
	require.NoError(t, err)
	require.True(t, got.Revoked())
	require.Equal(t, at(time.Hour), got.RevokedAt)
	require.Equal(t, "cli:bob", got.RevokedBy)

	err = s.RevokeAPIKey(ctx(t), "k1", at(2*time.Hour), "cli:carol")
	require.ErrorIs(t, err, store.ErrConflict, "revoking twice")
	got, err = s.GetAPIKey(ctx(t), "k1")
	require.NoError(t, err)
	require.Equal(t, "cli:bob", got.RevokedBy, "the first revocation stands")

	require.ErrorIs(t, s.RevokeAPIKey(ctx(t), "nope", at(0), "x"), store.ErrNotFound)
}

func testAPIKeyUniqueness(t *testing.T, s store.Store) {
	require.NoError(t, s.CreateAPIKey(ctx(t), apiKey("k1", "ci", at(0))))
	require.ErrorIs(t, s.CreateAPIKey(ctx(t), apiKey("k2", "ci", at(1))), store.ErrConflict, "name of a live key")
	require.ErrorIs(t, s.CreateAPIKey(ctx(t), apiKey("k1", "other", at(1))), store.ErrConflict, "same id")

	require.NoError(t, s.RevokeAPIKey(ctx(t), "k1", at(2), "cli"))
	require.NoError(t, s.CreateAPIKey(ctx(t), apiKey("k2", "ci", at(3))), "a revoked key's name is free again")
	require.ErrorIs(t, s.CreateAPIKey(ctx(t), apiKey("k3", "ci", at(4))), store.ErrConflict)

	revoked := apiKey("k4", "x", at(5))
	revoked.RevokedAt = at(6)
	require.Error(t, s.CreateAPIKey(ctx(t), revoked))
	require.Error(t, s.CreateAPIKey(ctx(t), store.APIKey{ID: "k5", Name: "no-hash"}))
}

func testUnmanaged(t *testing.T, s store.Store) {
	set := func(person, target, ent, note string, when time.Duration) store.Unmanaged {
		u := store.Unmanaged{PersonKey: person, Target: target, Entitlement: ent, Actor: "apikey:ops", Note: note, At: at(when)}
		require.NoError(t, s.SetUnmanaged(ctx(t), u))
		return u
	}
	list := func(person string) []store.Unmanaged {
		us, err := s.ListUnmanaged(ctx(t), person)
		require.NoError(t, err)
		return us
	}
	u1 := set("E2", "crm", "admins", "handled by hand", 0)
	u2 := set("E1", "mail", "vip", "", time.Second)
	u3 := set("E1", "crm", "sales", "ticket 42", 2*time.Second)
	require.Equal(t, []store.Unmanaged{u3, u2, u1}, list(""), "ordered by person, target, entitlement")
	require.Equal(t, []store.Unmanaged{u3, u2}, list("E1"))
	require.Empty(t, list("E3"))

	u3b := set("E1", "crm", "sales", "ticket 43", time.Hour)
	require.Equal(t, []store.Unmanaged{u3b, u2}, list("E1"), "setting again replaces note, actor and time")

	require.NoError(t, s.UnsetUnmanaged(ctx(t), "E1", "crm", "sales"))
	require.Equal(t, []store.Unmanaged{u2}, list("E1"))
	require.ErrorIs(t, s.UnsetUnmanaged(ctx(t), "E1", "crm", "sales"), store.ErrNotFound)

	require.Error(t, s.SetUnmanaged(ctx(t), store.Unmanaged{PersonKey: "E1", Target: "crm"}), "entitlement required")
}

func testAttemptOutcomes(t *testing.T, s store.Store) {
	end := func(target, outcome string, when time.Duration) audit.Record {
		return audit.Record{Time: at(when), Kind: audit.KindAttemptEnd, Target: target, Outcome: outcome, ActionID: 1}
	}
	recs := []audit.Record{
		end("crm", "succeeded", -2*time.Hour), // before the window
		end("crm", "succeeded", 0),
		end("crm", "succeeded", time.Minute),
		end("crm", "retry", 2*time.Minute),
		end("crm", "failed", 3*time.Minute),
		end("crm", "interrupted", 4*time.Minute),
		end("mail", "succeeded", 5*time.Minute),
		// Other kinds never count, whatever their outcome.
		{Time: at(time.Minute), Kind: audit.KindExchange, Target: "crm", Outcome: "succeeded"},
		{Time: at(time.Minute), Kind: audit.KindEvent, Target: "crm", Outcome: "failed"},
	}
	require.NoError(t, s.AppendAudit(ctx(t), recs))

	got, err := s.AttemptOutcomes(ctx(t), at(0))
	require.NoError(t, err)
	require.Equal(t, map[string]store.Outcomes{
		"crm":  {Succeeded: 2, Retried: 1, Failed: 1},
		"mail": {Succeeded: 1},
	}, got)
	require.Equal(t, 4, got["crm"].Total())

	got, err = s.AttemptOutcomes(ctx(t), at(time.Hour))
	require.NoError(t, err)
	require.Empty(t, got)
}

// Issue 12: keys may expire, and a rotation hands the name to a new key
// while the old one stays valid for a grace period.
func testAPIKeyExpiryAndRotation(t *testing.T, s store.Store) {
	k := apiKey("k1", "ci", at(0), "read")
	k.ExpiresAt = at(90 * 24 * time.Hour)
	require.NoError(t, s.CreateAPIKey(ctx(t), k))
	got, err := s.GetAPIKey(ctx(t), "k1")
	require.NoError(t, err)
	require.Equal(t, k, got, "expiry reads back")
	require.False(t, got.Expired(at(90*24*time.Hour-time.Microsecond)))
	require.True(t, got.Expired(at(90*24*time.Hour)))

	next := apiKey("k2", "ci", at(time.Hour), "read")
	require.NoError(t, s.RotateAPIKey(ctx(t), "k1", at(25*time.Hour), next))
	old, err := s.GetAPIKey(ctx(t), "k1")
	require.NoError(t, err)
	require.Equal(t, "k2", old.ReplacedBy)
	require.Equal(t, at(25*time.Hour), old.ExpiresAt, "valid for the grace period only")
	require.False(t, old.Revoked())
	cur, err := s.GetAPIKey(ctx(t), "k2")
	require.NoError(t, err)
	require.Equal(t, next, cur)

	require.ErrorIs(t, s.RotateAPIKey(ctx(t), "k1", at(26*time.Hour), apiKey("k3", "ci", at(2*time.Hour))), store.ErrConflict, "rotated already")
	_, err = s.GetAPIKey(ctx(t), "k3")
	require.ErrorIs(t, err, store.ErrNotFound, "a refused rotation stores nothing")
	require.ErrorIs(t, s.RotateAPIKey(ctx(t), "nope", at(0), apiKey("k3", "ci", at(2*time.Hour))), store.ErrNotFound)
	require.Error(t, s.RotateAPIKey(ctx(t), "k2", at(0), apiKey("k3", "other", at(2*time.Hour))), "a rotation keeps the name")
	require.ErrorIs(t, s.CreateAPIKey(ctx(t), apiKey("k4", "ci", at(3*time.Hour))), store.ErrConflict, "the name belongs to the new key")

	// A grace period never extends a key that expires sooner.
	short := apiKey("s1", "short", at(0))
	short.ExpiresAt = at(time.Hour)
	require.NoError(t, s.CreateAPIKey(ctx(t), short))
	require.NoError(t, s.RotateAPIKey(ctx(t), "s1", at(48*time.Hour), apiKey("s2", "short", at(time.Minute))))
	old, err = s.GetAPIKey(ctx(t), "s1")
	require.NoError(t, err)
	require.Equal(t, at(time.Hour), old.ExpiresAt)

	require.NoError(t, s.RevokeAPIKey(ctx(t), "k2", at(4*time.Hour), "cli"))
	require.ErrorIs(t, s.RotateAPIKey(ctx(t), "k2", at(5*time.Hour), apiKey("k5", "ci", at(5*time.Hour))), store.ErrConflict, "revoked")
}
