// Package arch declares accord's layers: the order in which its packages
// may import each other. Read top to bottom it is the pipeline, from the
// plain data every part shares, through configuration, planning,
// execution and reconciliation, to the app that assembles them, the HTTP
// API and console over it, and the commands. A package imports only
// packages of lower layers; the test of this package checks the real
// import graph (go list) against the table, so an upward import, or a
// package nobody placed, fails the build's tests.
package arch

import (
	"fmt"
	"slices"
	"strings"
)

// Module is the module path the table's packages are relative to.
const Module = "github.com/accord-iam/accord"

// Layer is one row of the table: a name that says what the packages are
// for, and the packages (relative to Module).
type Layer struct {
	Name     string
	Packages []string
}

// Layers is the table, lowest first.
var Layers = []Layer{
	{"plain data and leaves", []string{"internal/model", "internal/textsafe", "internal/wait", "internal/secret",
		"internal/buildinfo", "internal/notify", "internal/arch", "docs"}},
	{"encodings and records", []string{"internal/tmpl", "internal/yamlx", "internal/audit", "internal/telemetry",
		"examples/quickstart", "internal/population"}},
	{"contracts", []string{"internal/store", "internal/connector", "internal/connector/httpx/reqtmpl"}},
	{"HTTP transport", []string{"internal/connector/httpx"}},
	{"connectors and sources", []string{"internal/connector/ldap", "internal/connector/memory",
		"internal/connector/rest", "internal/connector/scim", "internal/source"}},
	{"pushed feeds", []string{"internal/inbound"}},
	{"configuration", []string{"internal/config"}},
	{"policy and pacing", []string{"internal/policy", "internal/pace"}},
	{"planning, execution and storage", []string{"internal/plan", "internal/engine", "internal/store/sqlstore"}},
	{"reconciliation", []string{"internal/recon"}},
	{"assembly", []string{"internal/app"}},
	{"daemon", []string{"internal/daemon"}},
	{"HTTP API", []string{"internal/api"}},
	{"console", []string{"internal/console"}},
	{"test kits", []string{"internal/testkit", "internal/targetsim", "internal/store/storetest",
		"internal/connector/rest/enginetest"}},
	{"test kits over kits", []string{"internal/scimtest", "internal/testkit/simworld"}},
	{"entry points", []string{"cmd/accord", "scripts/loadgen"}},
}

// Package is one package of the module and what it imports (full import
// paths, as go list gives them; imports outside Module are ignored).
type Package struct {
	ImportPath string
	Imports    []string
}

// Check returns one sentence per breach of the table: a package of the
// module that no layer lists, a listed package that does not exist, and
// an import that does not run down the layers. Nil means the graph
// keeps to the table.
func Check(table []Layer, pkgs []Package) []string {
	layer := map[string]int{}
	var problems []string
	for i, l := range table {
		for _, p := range l.Packages {
			if j, dup := layer[p]; dup {
				problems = append(problems, fmt.Sprintf("%s is listed in two layers, %q and %q", p, table[j].Name, l.Name))
			}
			layer[p] = i
		}
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		from, ok := relative(p.ImportPath)
		if !ok {
			continue
		}
		seen[from] = true
		lf, placed := layer[from]
		if !placed {
			problems = append(problems, fmt.Sprintf("%s is in no layer: add it to the table in internal/arch/layers.go (and DESIGN-NOTES) above every package it imports", from))
			continue
		}
		for _, imp := range p.Imports {
			to, ok := relative(imp)
			if !ok {
				continue
			}
			lt, placed := layer[to]
			if !placed || lt < lf {
				continue // an unplaced package is reported once, as itself
			}
			problems = append(problems, fmt.Sprintf("%s (layer %d, %s) imports %s (layer %d, %s): imports run only down the layers; move what both need below them",
				from, lf, table[lf].Name, to, lt, table[lt].Name))
		}
	}
	for i, l := range table {
		for _, p := range l.Packages {
			if !seen[p] {
				problems = append(problems, fmt.Sprintf("%s is listed in layer %d (%s) but is not a package of the module: drop it from the table", p, i, l.Name))
			}
		}
	}
	slices.Sort(problems)
	return problems
}

// relative is path without the module prefix, and whether it is the
// module's at all.
func relative(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, Module+"/")
	return rest, ok
}
