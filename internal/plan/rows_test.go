package plan_test

import (
	"encoding/json"
	"errors"
	"fmt"
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
	require.JSONEq(t, `{"excluded":[],"busy":[],"busy_more":0,"parked":[],"problems":[]}`, string(b))
}

func TestSummaryRowsListWhatThePlanLeftOut(t *testing.T) {
	res := &plan.Result{
		Excluded: []plan.Excluded{{PersonKey: "E9", Reason: "service account"}},
		Busy:     plan.BusyPairs{Count: 2, First: []plan.Key{{Person: "E1", Target: "saas"}, {Person: "E2", Target: "ldap"}}},
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

// TestBusyPairsKeepTheFirstAndCountTheRest: a plan with more busy pairs
// than it shows keeps the first BusyShown, in order, and counts the rest,
// and its rows say how many more there are.
func TestBusyPairsKeepTheFirstAndCountTheRest(t *testing.T) {
	var res plan.Result
	n := plan.BusyShown*3 + 7
	for i := range n {
		res.Busy.Add(plan.Key{Person: fmt.Sprintf("P%04d", i), Target: "saas"})
	}
	require.Equal(t, n, res.Busy.Count)
	require.Len(t, res.Busy.First, plan.BusyShown)
	require.Equal(t, "P0000", res.Busy.First[0].Person)
	require.Equal(t, fmt.Sprintf("P%04d", plan.BusyShown-1), res.Busy.First[plan.BusyShown-1].Person)
	require.Equal(t, n-plan.BusyShown, res.Busy.More())
	rows := res.SummaryRows()
	require.Len(t, rows.Busy, plan.BusyShown)
	require.Equal(t, n-plan.BusyShown, rows.BusyMore)
	b, err := json.Marshal(rows)
	require.NoError(t, err)
	require.Contains(t, string(b), fmt.Sprintf(`"busy_more":%d`, n-plan.BusyShown))
}
