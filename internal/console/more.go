package console

import "net/http"

// morePages is the route table of the console's other pages (person,
// drift and access, keys, audit search), kept apart from corePages so
// that each set lives in its own files.
func (c *Console) morePages() []Page {
	const (
		get  = http.MethodGet
		post = http.MethodPost
	)
	return []Page{
		{Method: get, Path: "/persons", Nav: "Persons", Template: "persons", Handle: c.listPersons},
		{Method: get, Path: "/persons/{key}", Template: "person", Handle: c.showPerson},
		{Method: get, Path: "/persons/{key}/{op}", Template: "person_confirm", Handle: c.confirmPersonAction},
		{Method: post, Path: "/persons/{key}/{op}", Handle: c.doPersonAction},
		{Method: get, Path: "/roles/{name}", Template: "role", Handle: c.showRole},

		{Method: get, Path: "/drift", Nav: "Drift", Template: "drift", Handle: c.listDrift},
		{Method: get, Path: "/drift.csv", Handle: c.driftCSV},
		{Method: get, Path: "/drift/converge/{target}", Template: "converge", Handle: c.confirmConverge},
		{Method: post, Path: "/drift/converge/{target}", Handle: c.converge},
		{Method: get, Path: "/access", Nav: "Access", Template: "access", Handle: c.accessReport},
		{Method: get, Path: "/access.csv", Handle: c.accessCSV},

		{Method: get, Path: "/audit", Nav: "Audit", Template: "audit", Handle: c.searchAudit},

		{Method: get, Path: "/keys", Scope: "admin", Nav: "Keys", Template: "keys", Handle: c.listKeys},
		{Method: post, Path: "/keys", Scope: "admin", Template: "key_created", Handle: c.createKey},
		{Method: post, Path: "/keys/{name}/revoke", Scope: "admin", Handle: c.revokeKey},
	}
}
