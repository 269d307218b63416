package policy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/config"
	_ "github.com/accord-iam/accord/internal/connector/memory"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/policy"
	"github.com/accord-iam/accord/internal/yamlx"
)

const base = `sources:
  - name: hr
    format: csv
    path: hr.csv
    key: id
    start: start
    end: end
    columns:
      - {name: id, type: string, required: true}
      - {name: first, type: string, required: true}
      - {name: last, type: string, required: true}
      - {name: email, type: email, required: true}
      - {name: dept, type: enum, values: [Sales, IT]}
      - {name: level, type: int}
      - {name: contractor, type: bool}
      - {name: start, type: date, required: true}
      - {name: end, type: date}
`

// load writes a config and returns its problems from loading and
// compiling, as "check" sees them.
func load(t *testing.T, yaml string) (*config.Config, *policy.Policy, yamlx.Problems) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "accord.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	cfg, err := config.Load(path)
	var probs yamlx.Problems
	if err != nil {
		require.ErrorAs(t, err, &probs)
	}
	pol, pp := policy.Compile(cfg)
	probs = append(probs, pp...)
	probs.Sort()
	return cfg, pol, probs
}

func lines(ps yamlx.Problems) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func TestUnknownAttributeInMappingNamesPathAndLine(t *testing.T) {
	_, _, probs := load(t, base+`targets:
  - name: first
    type: memory
    account:
      userName: "{{ email }}"
  - name: second
    type: memory
    account:
      userName: "{{ lower(mail) }}@corp.example"
      displayName: "{{ first }} {{ last }}"
`)
	require.Equal(t, []string{`targets[1].account.userName (line 26): unknown person attribute "mail"`}, lines(probs))
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	_, _, probs := load(t, base+`targets:
  - name: saas
    type: memory
    scope: dept == "Sales" &&
    colour: blue
    account:
      userName: "{{ email }}"
      level: {value: "{{ first }}", type: int}
    lifecycle: {leaver: vanish}
    thresholds: {disables: "eleven"}
  - name: saas
    type: carrier-pigeon
policy:
  roles:
    - name: sales
      when: departement == "Sales"
      grants: [{target: nowhere, entitlements: [crm]}]
  thresholds: {deletes: "150%"}
`)
	got := strings.Join(lines(probs), "\n")
	for _, want := range []string{
		`targets[0].colour (line 22): unknown key`,
		`targets[0].scope (line 21): bad condition`,
		`targets[0].account.level (line 25)`,
		`targets[0].lifecycle.leaver (line 26): must be disable or disable_then_delete, not "vanish"`,
		`targets[0].thresholds.disables (line 27): expected a count such as 50 or a percentage such as 10%, got "eleven"`,
		`targets[1].name (line 28): duplicate target name "saas"`,
		`targets[1].type (line 29): unknown connector type "carrier-pigeon"`,
		`policy.roles[0].when (line 33): unknown person attribute "departement"`,
		`policy.roles[0].grants[0].target (line 34): unknown target "nowhere"`,
		`policy.thresholds.deletes (line 35): expected a percentage between 0% and 100%, got "150%"`,
	} {
		require.Contains(t, got, want)
	}
}

func TestTypedMappings(t *testing.T) {
	_, _, probs := load(t, base+`targets:
  - name: saas
    type: memory
    account:
      userName: "{{ email }}"
      level: {value: "{{ level + 1 }}", type: int}
      external: {value: "{{ contractor }}", type: bool}
      bad: {value: "{{ dept }}", type: bool}
`)
	require.Len(t, probs, 1)
	require.Contains(t, probs[0].String(), "targets[0].account.bad")
}

func person(attrs model.Attributes) *model.Person {
	p := &model.Person{Key: attrs["id"].(string), Source: "hr", Attributes: attrs}
	if s, ok := attrs["start"].(model.Date); ok {
		p.Start = s
	}
	if e, ok := attrs["end"].(model.Date); ok {
		p.End = e
	}
	return p
}

const lifecycleTargets = `targets:
  - name: saas
    type: memory
    scope: "!contractor"
    account:
      userName: "{{ lower(ascii(first)) }}.{{ lower(ascii(last)) }}@corp.example"
      level: {value: "{{ level }}", type: int}
    birthright: [everyone]
    lifecycle: {provision_days_before: 5, leaver: disable_then_delete, delete_after_days: 30}
  - name: wiki
    type: memory
    account:
      login: "{{ email }}"
policy:
  roles:
    - name: sales
      when: dept == "Sales"
      grants:
        - {target: saas, entitlements: [crm, quotes]}
        - {target: wiki, entitlements: [sales-space]}
    - name: seniors
      when: level >= 3
      grants: [{target: saas, entitlements: [crm, approvals]}]
  exclusions:
    persons: [X1]
`

func TestEvaluateLifecycle(t *testing.T) {
	_, pol, probs := load(t, base+lifecycleTargets)
	require.Empty(t, probs)
	ada := model.Attributes{"id": "E1", "first": "Adá", "last": "Lövelace", "email": "ada@example.com", "dept": "Sales",
		"level": int64(3), "start": model.MustDate("2026-03-10")}
	cases := []struct {
		name    string
		attrs   func(model.Attributes)
		today   string
		saas    model.Desire
		saasWhy string
	}{
		{"before provisioning window", nil, "2026-03-04", model.DesireNone, "joiner"},
		{"within provisioning window", nil, "2026-03-05", model.DesireEnabled, "active"},
		{"employed", nil, "2026-06-01", model.DesireEnabled, "active"},
		{"end date reached", func(a model.Attributes) { a["end"] = model.MustDate("2026-06-01") }, "2026-06-01", model.DesireDisabled, "leaver"},
		{"day before end", func(a model.Attributes) { a["end"] = model.MustDate("2026-06-01") }, "2026-05-31", model.DesireEnabled, "active"},
		{"grace over", func(a model.Attributes) { a["end"] = model.MustDate("2026-06-01") }, "2026-07-01", model.DesireAbsent, "deleted after 30 days"},
		{"out of scope", func(a model.Attributes) { a["contractor"] = true }, "2026-06-01", model.DesireDisabled, "out of scope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			attrs := ada.Clone()
			if c.attrs != nil {
				c.attrs(attrs)
			}
			ev, err := pol.Evaluate(person(attrs), model.MustDate(c.today))
			require.NoError(t, err)
			require.Len(t, ev.Accounts, 2)
			saas := ev.Accounts[0]
			require.Equal(t, c.saas, saas.Desire)
			require.Contains(t, saas.Reason, c.saasWhy)
			if c.saas == model.DesireEnabled {
				require.Equal(t, "ada.lovelace@corp.example", saas.Attributes["userName"])
				require.Equal(t, int64(3), saas.Attributes["level"])
				var got []string
				for _, g := range saas.Grants {
					got = append(got, g.Entitlement+"<"+strings.Join(g.Roles, "+"))
				}
				require.Equal(t, []string{"approvals<seniors", "crm<sales+seniors", "everyone<(birthright)", "quotes<sales"}, got)
				if c.today >= "2026-03-10" {
					require.Equal(t, "sales-space", ev.Accounts[1].Grants[0].Entitlement)
				} else {
					require.Equal(t, model.DesireNone, ev.Accounts[1].Desire, "wiki provisions on the start date")
				}
			}
		})
	}
}

func TestMissingFromFeedIsALeaverOnlyThroughPolicy(t *testing.T) {
	_, pol, _ := load(t, base+lifecycleTargets)
	p := person(model.Attributes{"id": "E1", "first": "A", "last": "B", "email": "a@example.com", "level": int64(1), "start": model.MustDate("2020-01-01")})
	p.MissingSince = model.MustDate("2026-05-01")
	ev, err := pol.Evaluate(p, model.MustDate("2026-05-01"))
	require.NoError(t, err)
	require.Equal(t, model.DesireDisabled, ev.Accounts[0].Desire)
	require.Contains(t, ev.Accounts[0].Reason, "missing from source hr")

	_, pol, _ = load(t, base+lifecycleTargets+"  missing_is_leaver: false\n")
	ev, err = pol.Evaluate(p, model.MustDate("2026-05-01"))
	require.NoError(t, err)
	require.Equal(t, model.DesireEnabled, ev.Accounts[0].Desire)
}

func TestExcludedByKey(t *testing.T) {
	_, pol, _ := load(t, base+lifecycleTargets)
	ev, err := pol.Evaluate(person(model.Attributes{"id": "X1", "first": "A", "last": "B", "email": "a@example.com"}), model.MustDate("2026-01-01"))
	require.NoError(t, err)
	require.True(t, ev.Excluded)
	require.Empty(t, ev.Accounts)
}

func TestRequiredMappingEmptyIsAPlanProblem(t *testing.T) {
	_, pol, probs := load(t, base+`targets:
  - name: saas
    type: memory
    account:
      userName: "{{ email }}"
      department: {value: "{{ dept }}", required: true}
`)
	require.Empty(t, probs)
	_, err := pol.Evaluate(person(model.Attributes{"id": "E1", "first": "A", "last": "B", "email": "a@example.com"}), model.MustDate("2026-01-01"))
	var pe *policy.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "E1", pe.PersonKey)
	require.Contains(t, err.Error(), `account.department is required, and "{{ dept }}" gives an empty value`)
	ev, err := pol.Evaluate(person(model.Attributes{"id": "E2", "first": "A", "last": "B", "email": "a@example.com", "dept": "IT"}), model.MustDate("2026-01-01"))
	require.NoError(t, err)
	require.Equal(t, "IT", ev.Accounts[0].Attributes["department"])
}
