package api

import (
	_ "embed"
	"net/http"
)

// routeTable is every route of the API with the scope it needs. The
// OpenAPI document (openapi.json) describes the same table; a test keeps
// the two in step.
func (s *Server) routeTable() []Route {
	const (
		get  = http.MethodGet
		post = http.MethodPost
		put  = http.MethodPut
	)
	ent := "/api/v1/persons/{key}/entitlements/{target}/{entitlement}"
	return append([]Route{
		{Method: get, Path: "/healthz", raw: http.HandlerFunc(s.healthz)},
		{Method: get, Path: "/readyz", raw: http.HandlerFunc(s.readyz)},
		{Method: get, Path: "/metrics", raw: s.metrics.handler()},
		{Method: get, Path: "/api/v1/openapi.json", raw: http.HandlerFunc(serveOpenAPI)},

		{Method: get, Path: "/api/v1/health", Scope: ScopeRead, h: s.getHealth},

		{Method: get, Path: "/api/v1/persons", Scope: ScopeRead, h: s.listPersons},
		{Method: post, Path: "/api/v1/persons", Scope: ScopePersonsWrite, h: s.createPerson},
		{Method: get, Path: "/api/v1/persons/{key}", Scope: ScopeRead, h: s.getPerson},
		{Method: put, Path: "/api/v1/persons/{key}", Scope: ScopePersonsWrite, h: s.updatePerson},
		{Method: post, Path: "/api/v1/persons/{key}/end-employment", Scope: ScopePersonsWrite, h: s.endEmployment},

		{Method: post, Path: ent + "/reenforce", Scope: ScopeActionsWrite, h: s.reenforce},
		{Method: post, Path: ent + "/unmanage", Scope: ScopeActionsWrite, h: s.unmanage},
		{Method: post, Path: ent + "/manage", Scope: ScopeActionsWrite, h: s.manage},
		{Method: post, Path: "/api/v1/persons/{key}/accounts/{target}/update", Scope: ScopeActionsWrite, h: s.updateAccount},
		{Method: post, Path: "/api/v1/targets/{target}/accounts/update", Scope: ScopeActionsWrite, h: s.updateTargetAccounts},
		{Method: post, Path: "/api/v1/enforce", Scope: ScopeActionsWrite, h: s.enforceRoute},
		{Method: get, Path: "/api/v1/plan", Scope: ScopeRead, h: s.preview},

		{Method: get, Path: "/api/v1/runs", Scope: ScopeRead, h: s.listRuns},
		{Method: get, Path: "/api/v1/runs/{id}", Scope: ScopeRead, h: s.getRun},
		{Method: post, Path: "/api/v1/runs/{id}/approve", Scope: ScopeRunsApprove, h: s.approveRun},
		{Method: post, Path: "/api/v1/runs/{id}/cancel", Scope: ScopeRunsApprove, h: s.cancelRun},

		{Method: get, Path: "/api/v1/actions", Scope: ScopeRead, h: s.listActions},
		{Method: get, Path: "/api/v1/actions/{id}", Scope: ScopeRead, h: s.getAction},
		{Method: post, Path: "/api/v1/actions/{id}/retry", Scope: ScopeActionsWrite, h: s.retryAction},

		{Method: get, Path: "/api/v1/audit", Scope: ScopeRead, h: s.listAudit},

		{Method: get, Path: "/api/v1/targets", Scope: ScopeRead, h: s.listTargets},
		{Method: post, Path: "/api/v1/targets/{target}/resume", Scope: ScopeActionsWrite, h: s.resumeTarget},
		{Method: post, Path: "/api/v1/targets/{target}/reconcile", Scope: ScopeActionsWrite, h: s.reconcile},
		{Method: get, Path: "/api/v1/reconciliations", Scope: ScopeRead, h: s.listRecons},
		{Method: get, Path: "/api/v1/reconciliations/{id}", Scope: ScopeRead, h: s.getRecon},
		{Method: get, Path: "/api/v1/drift", Scope: ScopeRead, h: s.listDrift},
		{Method: get, Path: "/api/v1/reports/access", Scope: ScopeRead, h: s.accessReport},

		{Method: get, Path: "/api/v1/keys", Scope: ScopeAdmin, h: s.listKeys},
		{Method: post, Path: "/api/v1/keys", Scope: ScopeAdmin, h: s.createKey},
		{Method: post, Path: "/api/v1/keys/{name}/rotate", Scope: ScopeAdmin, h: s.rotateKey},

		// The web console's pages (person, keys) need these too.
		{Method: get, Path: "/api/v1/roles", Scope: ScopeRead, h: s.listRoles},
		{Method: post, Path: "/api/v1/keys/{name}/revoke", Scope: ScopeAdmin, h: s.revokeKey},
	}, s.scimRoutes()...)
}

//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the OpenAPI 3 document of the API.
func OpenAPI() []byte { return append([]byte(nil), openAPIDoc...) }

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openAPIDoc)
}
