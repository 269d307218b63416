package api

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/accord-iam/accord/internal/policy"
)

// roleView is a role as configured: the rule (when) that gives it to a
// person, and what it grants on each target. An entitlement's provenance
// (the roles that grant it) leads here.
type roleView struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	When        string          `json:"when"`
	Grants      []roleGrantView `json:"grants"`
}

type roleGrantView struct {
	Target       string   `json:"target"`
	Entitlements []string `json:"entitlements"`
}

type rolesList struct {
	Items []roleView `json:"items"`
	// Birthright lists, per target, what everyone in the target's scope
	// gets; policy names its provenance (birthright).
	Birthright     map[string][]string `json:"birthright"`
	BirthrightRole string              `json:"birthright_role"`
}

func (s *Server) listRoles(rq *request) (int, any, error) {
	if _, err := rq.params(); err != nil {
		return 0, nil, err
	}
	cfg := s.app.Cfg
	out := rolesList{Items: make([]roleView, 0, len(cfg.Policy.Roles)), Birthright: map[string][]string{}, BirthrightRole: policy.BirthrightRole}
	for _, r := range cfg.Policy.Roles {
		v := roleView{Name: r.Name, Description: r.Description, When: r.When, Grants: []roleGrantView{}}
		for _, g := range r.Grants {
			v.Grants = append(v.Grants, roleGrantView{Target: g.Target, Entitlements: slices.Clone(orEmpty(g.Entitlements))})
		}
		out.Items = append(out.Items, v)
	}
	for i := range cfg.Targets {
		out.Birthright[cfg.Targets[i].Name] = slices.Clone(orEmpty(cfg.Targets[i].Birthright))
	}
	return http.StatusOK, out, nil
}

// revokeKey revokes a key by name (with its rotated predecessors still in
// their grace period) or by ID: RevokeKey, as `accord keys revoke` does.
func (s *Server) revokeKey(rq *request) (int, any, error) {
	if err := decodeBody(rq.Request, &struct{}{}, false); err != nil {
		return 0, nil, err
	}
	now := s.app.Now()
	k, err := RevokeKey(rq.Context(), s.keysStore(), rq.PathValue("name"), rq.actor(), now)
	if err != nil {
		return 0, nil, err
	}
	rq.note.message = fmt.Sprintf("API key %q (id %s) revoked", k.Name, k.ID)
	return http.StatusOK, ToKeyView(&k, now), nil
}
