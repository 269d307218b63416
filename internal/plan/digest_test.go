package plan_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
)

// TestDigestTellsPlansApart: the digest is the same for the same plan in
// any job order, and differs when any part of any action differs,
// including where a plain concatenation of the fields would not tell
// them apart.
func TestDigestTellsPlansApart(t *testing.T) {
	base := func() []model.Job {
		return []model.Job{
			{PersonKey: "p1", Target: "ad", Actions: []model.Action{
				{Op: model.OpCreate, Attributes: model.Attributes{"mail": "a@x", "grade": 7}},
				{Op: model.OpGrant, Entitlements: []string{"ab", "c"}},
			}},
			{PersonKey: "p1", Target: "crm", Actions: []model.Action{{Op: model.OpGrant, Entitlements: []string{"x"}}}},
			{PersonKey: "p2", Target: "ad", Actions: []model.Action{
				{Op: model.OpUpdate, NativeID: "n2", Attributes: model.Attributes{"mail": "b@x"}, Previous: model.Attributes{"mail": "c@x"}},
			}},
		}
	}
	want := plan.Digest(base())
	require.NotEmpty(t, want)
	reordered := base()
	reordered[0], reordered[1] = reordered[1], reordered[0]
	require.Equal(t, want, plan.Digest(reordered), "job order within a person does not matter")

	changes := map[string]func(j []model.Job){
		"entitlement split differently": func(j []model.Job) { j[0].Actions[1].Entitlements = []string{"a", "bc"} },
		"attribute value":               func(j []model.Job) { j[0].Actions[0].Attributes["mail"] = "z@x" },
		"attribute type":                func(j []model.Job) { j[0].Actions[0].Attributes["grade"] = "7" },
		"attribute name":                func(j []model.Job) { j[0].Actions[0].Attributes = model.Attributes{"mail": "a@x", "level": 7} },
		"previous value":                func(j []model.Job) { j[2].Actions[0].Previous["mail"] = "d@x" },
		"native ID":                     func(j []model.Job) { j[2].Actions[0].NativeID = "n3" },
		"operation":                     func(j []model.Job) { j[1].Actions[0].Op = model.OpRevoke },
		"target":                        func(j []model.Job) { j[1].Target = "erp" },
		"person":                        func(j []model.Job) { j[2].PersonKey = "p3" },
		"one action fewer":              func(j []model.Job) { j[0].Actions = j[0].Actions[:1] },
		"attributes moved to previous": func(j []model.Job) {
			j[2].Actions[0].Attributes, j[2].Actions[0].Previous = j[2].Actions[0].Previous, j[2].Actions[0].Attributes
		},
	}
	for name, change := range changes {
		jobs := base()
		change(jobs)
		require.NotEqual(t, want, plan.Digest(jobs), name)
	}
}
