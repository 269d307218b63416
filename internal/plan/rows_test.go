package plan_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
)

// An empty plan's rows encode as empty lists, never null: the CLI's JSON
// summary and the API's what-if promise lists.
func TestSummaryRowsOfAnEmptyPlanAreEmptyLists(t *testing.T) {
	b, err := json.Marshal((&plan.Result{}).SummaryRows())
	require.NoError(t, err)
	require.JSONEq(t, `{"excluded":[],"busy":[],"parked":[],"problems":[]}`, string(b))
}

func TestSummaryRowsListWhatThePlanLeftOut(t *testing.T) {
	res := &plan.Result{
		Excluded: []plan.Excluded{{PersonKey: "E9", Reason: "service account"}},
		Busy:     []plan.Key{{Person: "E1", Target: "saas"}, {Person: "E2", Target: "ldap"}},
		Parked:   []model.Park{{PersonKey: "E3", Target: "saas"}},
		Problems: []error{errors.New("person E4 on saas: account.userName: empty")},
	}
	rows := res.SummaryRows()
	require.Equal(t, []plan.BusyRow{{Person: "E1", Target: "saas"}, {Person: "E2", Target: "ldap"}}, rows.Busy)
	require.Equal(t, []string{"person E4 on saas: account.userName: empty"}, rows.Problems)
	require.Equal(t, res.Excluded, rows.Excluded)
	require.Equal(t, res.Parked, rows.Parked)
	b, err := json.Marshal(rows)
	require.NoError(t, err)
	require.Contains(t, string(b), `"busy":[{"person":"E1","target":"saas"},{"person":"E2","target":"ldap"}]`)
	require.Contains(t, string(b), `"excluded":[{"person":"E9","reason":"service account"}]`)
	// The rows are the plan's to keep: changing them leaves the plan alone.
	rows.Excluded[0].Reason = "changed"
	require.Equal(t, "service account", res.Excluded[0].Reason)
}
