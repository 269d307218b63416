package sqlstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
)

var fixtureTime = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

func fixtureAttrs() model.Attributes {
	return model.Attributes{"name": "Ada", "level": int64(3), "admin": false, "hired": model.MustDate("2024-02-29"), "groups": []string{"a", "b"}}
}

// writeFixtureData stores one of everything the store keeps.
func writeFixtureData(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	ctx := t.Context()
	_, err := s.ApplyImport(ctx, store.Import{Source: "hr", Date: model.MustDate("2025-03-03"), At: fixtureTime,
		Persons: store.PersonsOf(model.Person{Key: "E1", Attributes: fixtureAttrs(), Start: model.MustDate("2024-03-01")})})
	require.NoError(t, err)
	require.NoError(t, s.ApplyAccountChanges(ctx, []model.AccountChange{{Target: "crm", PersonKey: "E1", Upsert: true,
		NativeID: "u-1", Link: map[string]string{"dn": "cn=E1"}, Attributes: fixtureAttrs(), Grant: []string{"sales"}, At: fixtureTime}}))
	run := model.Run{ID: "run-1", Trigger: "cli", Scope: "all", State: model.RunPending, CreatedAt: fixtureTime,
		Breaches: []model.Breach{{Scope: "overall", Op: model.OpDisable, Limit: "5", Max: 5, Planned: 6}}}
	jobs := []model.Job{{PersonKey: "E1", Target: "crm", Actions: []model.Action{
		{Seq: 1, Op: model.OpUpdate, Attributes: model.Attributes{"level": int64(4)}, Previous: model.Attributes{"level": int64(3)}},
		{Seq: 2, Op: model.OpGrant, Entitlements: []string{"ops"}},
	}}}
	require.NoError(t, s.CreateRun(ctx, &run, jobs))
	recs := []audit.Record{{Time: fixtureTime, Kind: audit.KindAttemptStart, RunID: "run-1", ActionID: jobs[0].Actions[0].ID,
		Attempt: 1, PersonKey: "E1", Target: "crm", RequestHeaders: map[string]string{"X-Correlation-Id": "run-1"}}}
	require.NoError(t, s.Commit(ctx, store.Batch{Audit: recs, Actions: []store.ActionUpdate{
		{ID: jobs[0].Actions[0].ID, State: model.ActionFailed, Attempts: 1, Error: &model.ActionError{Kind: "validation", Message: "no"}, At: fixtureTime},
	}}))
}

// checkFixtureData reads back what writeFixtureData stored and uses it.
func checkFixtureData(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	ctx := t.Context()
	p, err := s.GetPerson(ctx, "E1")
	require.NoError(t, err)
	require.Equal(t, fixtureAttrs(), p.Attributes)
	require.Equal(t, "hr", p.Source)
	a, err := s.GetAccount(ctx, "crm", "E1")
	require.NoError(t, err)
	require.Equal(t, []string{"sales"}, a.Entitlements)
	require.Equal(t, map[string]string{"dn": "cn=E1"}, a.Link)
	r, err := s.GetRun(ctx, "run-1")
	require.NoError(t, err)
	require.Equal(t, fixtureTime, r.CreatedAt)
	require.Len(t, r.Breaches, 1)
	require.Equal(t, map[model.ActionState]int{model.ActionFailed: 1, model.ActionPending: 1}, r.Counts)
	failed, err := s.ListActions(ctx, store.ActionQuery{ErrorKind: "validation"})
	require.NoError(t, err)
	require.Len(t, failed, 1)
	recs, err := s.ListAudit(ctx, store.AuditQuery{RunID: "run-1"})
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, "run-1", recs[0].RequestHeaders["X-Correlation-Id"])
	jobs, err := s.LeaseJobs(ctx, store.LeaseRequest{Owner: "check", Max: 1, Now: fixtureTime, Until: fixtureTime.Add(time.Minute)})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	require.Len(t, jobs[0].Actions, 2)
	require.NoError(t, s.ReleaseLeases(ctx, []string{"check"}))
}
