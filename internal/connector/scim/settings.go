package scim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/yamlx"
)

// Settings configure a SCIM 2.0 target:
//
//	type: scim
//	connection:
//	  url: https://example.com/scim/v2          # base URL; /Users, /Groups under it
//	  auth: {type: bearer, token: "${env:SCIM_TOKEN}"}   # see httpx.AuthConfig
//	  correlation_header: X-Correlation-ID      # default
//	  idempotency_header: Idempotency-Key       # off by default; run/action ID on creates
//	  timeout: 30s                              # per request, from when it is sent (not while paced)
//	  user_filter: userName                     # or: 'externalId eq "{{employeeId}}" and active eq true'
//	  entitlements_by: displayName              # id (default) or displayName
//	  entitlements_case: insensitive            # sensitive (default): how the target compares group names
//	  patch: true                               # false: PUT the whole resource
//	  page_size: 100
//	  max_batch: 20                             # entitlements per Grant/Revoke call
//	  group_batching: true                      # gather many persons' grants of one group into one PATCH (default false)
//	  batch_members: 100                        # members per group PATCH (group batching, and AddMembers)
//	  batch_linger: 20ms                        # how long a group batch waits for more members (default 500ms)
//	  discovery: true
//	  create_missing_groups: false              # true: a grant to a group that is not there creates it (entitlements_by: displayName)
//	  discovery_refresh: 1h                     # read discovery again this often (default)
//	  bulk: auto                                # auto: a joiner's create and group grants in one /Bulk where the target offers it; off
//	  quirks: {filter_no_escapes: true}
//
// The account mapping's attribute names are SCIM attribute paths:
// userName, name.givenName, emails[type eq "work"].value,
// urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber.
// active is not mapped: Enable and Disable set it.
type Settings struct {
	URL           string `yaml:"url"`
	httpx.Config  `yaml:",inline"`
	UserFilter    string `yaml:"user_filter"`
	EntitlementBy string `yaml:"entitlements_by"`
	// EntitlementsCase: insensitive when the target takes group names
	// that differ only in letter case as one group (RFC 7643 makes Group
	// displayName caseExact false); sensitive, the default, otherwise.
	EntitlementsCase string `yaml:"entitlements_case"`
	// Patch: unset follows the target's ServiceProviderConfig (PATCH when
	// it is offered or not declared); false always PUTs.
	Patch        *bool `yaml:"patch"`
	PageSize     int   `yaml:"page_size"`
	MaxBatch     int   `yaml:"max_batch"`
	BatchMembers int   `yaml:"batch_members"`
	// GroupBatching lets the engine gather the grants of one group from
	// many persons of a run into PATCHes of batch_members members. Off
	// by default: each grant is then its own request, audited under its
	// own action.
	GroupBatching bool `yaml:"group_batching"`
	// BatchLinger is how long the engine lets a group batch wait for
	// more members before it is sent (default 500ms).
	BatchLinger time.Duration `yaml:"batch_linger"`
	Discovery   *bool         `yaml:"discovery"`
	// CreateMissingGroups: a grant to a group the target does not have
	// creates it (POST /Groups) and is sent again. Only with
	// entitlements_by: displayName, since a group's id is the server's
	// to choose.
	CreateMissingGroups bool `yaml:"create_missing_groups"`
	// DiscoveryRefresh is how often discovery is read again (default
	// 1h); callers keep using the last one meanwhile.
	DiscoveryRefresh time.Duration `yaml:"discovery_refresh"`
	// Bulk: "auto" (default) sends a joiner's create together with its
	// group grants in /Bulk requests (RFC 7644 §3.7) when the target's
	// /ServiceProviderConfig declares bulk supported; "off" never uses
	// /Bulk.
	Bulk   string `yaml:"bulk"`
	Quirks Quirks `yaml:"quirks"`
}

// Quirks switch on handling for ways real servers deviate from RFC 7643
// and 7644. Each is off by default; turn one on only for a target that
// needs it.
type Quirks struct {
	// FilterNoEscapes: the target's filter parser does not understand
	// JSON escapes (\" and \\) inside filter strings, so a value with a
	// double quote or backslash cannot be searched for exactly. accord
	// then asks with `co` on the longest part of the value free of such
	// characters (or lists everything if there is none) and picks the
	// exact match itself. Seen in SCIMMY 1.3.5.
	FilterNoEscapes bool `yaml:"filter_no_escapes"`
	// NoGroupsOnUser: the target does not report a User's `groups`
	// (RFC 7643 §4.1.2), so Get cannot tell memberships: Entitlements
	// stay unknown (nil) and the engine must read the groups instead.
	NoGroupsOnUser bool `yaml:"no_groups_on_user"`
	// RemoveMemberByValue: the target rejects a value filter in a PATCH
	// path (members[value eq "…"]); members are removed with
	// {"op":"remove","path":"members","value":[{"value":"…"}]} instead,
	// as Microsoft Entra ID sends them.
	RemoveMemberByValue bool `yaml:"remove_member_by_value"`
}

// Defaults.
const (
	DefaultPageSize     = 100
	DefaultMaxBatch     = 20
	DefaultBatchMembers = 100
	DefaultBatchLinger  = 500 * time.Millisecond
)

// maxBatchLinger bounds batch_linger: longer would hold grants for no
// gain, since a batch is sent as soon as it is full.
const maxBatchLinger = 10 * time.Second

func (s Settings) discover() bool { return s.Discovery == nil || *s.Discovery }

func (s Settings) discoveryRefresh() time.Duration {
	if s.DiscoveryRefresh > 0 {
		return s.DiscoveryRefresh
	}
	return DefaultDiscoveryRefresh
}

func (s Settings) bulkOff() bool { return s.Bulk == "off" || !s.discover() }

func (s Settings) byName() bool { return s.EntitlementBy == "displayName" }

// readOnly are User attributes the target owns; a mapping must not write
// them.
var readOnly = map[string]string{
	"id":      "is assigned by the target",
	"meta":    "is maintained by the target",
	"groups":  "is read-only on the User: grant entitlements instead",
	"schemas": "is set by the connector",
	"active":  "is managed by enable and disable, not by the mapping",
}

// check validates settings without touching the target.
func check(node *yaml.Node, env connector.CheckEnv) (Settings, yamlx.Problems) {
	var s Settings
	ps := yamlx.Decode(node, &s, "")
	lines := yamlx.Lines(node, "")
	add := func(path, format string, args ...any) {
		ps = append(ps, yamlx.Problem{Path: path, Line: yamlx.LineOf(lines, path), Msg: fmt.Sprintf(format, args...)})
	}
	if s.URL == "" {
		add("url", "is required: the base URL of the SCIM service, e.g. https://example.com/scim/v2")
	} else if err := httpx.CheckURL(s.URL); err != nil {
		add("url", "%v", err)
	}
	ps = append(ps, s.Config.Check(node, "")...)
	switch s.EntitlementBy {
	case "", "id", "displayName":
	default:
		add("entitlements_by", "must be id or displayName, not %q", s.EntitlementBy)
	}
	switch s.Bulk {
	case "", "auto", "off":
	default:
		add("bulk", "must be auto or off, not %q", s.Bulk)
	}
	switch s.EntitlementsCase {
	case "", "sensitive", "insensitive":
	default:
		add("entitlements_case", "must be sensitive or insensitive, not %q", s.EntitlementsCase)
	}
	if s.CreateMissingGroups && s.EntitlementBy != "displayName" {
		add("create_missing_groups", "needs entitlements_by: displayName: a created group gets an id of the target's choosing, which policy cannot name in advance")
	}
	for key, v := range map[string]int{"page_size": s.PageSize, "max_batch": s.MaxBatch, "batch_members": s.BatchMembers} {
		if v < 0 {
			add(key, "must not be negative")
		}
	}
	if s.DiscoveryRefresh < 0 {
		add("discovery_refresh", "must not be negative")
	}
	if s.BatchLinger < 0 || s.BatchLinger > maxBatchLinger {
		add("batch_linger", "must be between 0 and %s: a grant waits this long for company", maxBatchLinger)
	}
	if s.PageSize > 1000 {
		add("page_size", "%d is more than targets answer in one page; use at most 1000", s.PageSize)
	}
	corr, err := parseCorrelation(s.UserFilter)
	if err != nil {
		add("user_filter", "%v", err)
	} else if len(env.AccountAttributes) > 0 {
		for _, h := range corr.holes {
			if !containsFold(env.AccountAttributes, h) {
				add("user_filter", "uses %s, which the account mapping does not produce (it produces: %s)", h, strings.Join(env.AccountAttributes, ", "))
			}
		}
	}
	// The account mapping is outside these settings: its problems carry
	// the attribute's name instead of a path and line.
	mapping := func(format string, args ...any) {
		ps = append(ps, yamlx.Problem{Msg: fmt.Sprintf(format, args...)})
	}
	for _, name := range env.AccountAttributes {
		p, err := parseAttrPath(name)
		if err != nil {
			mapping("account attribute %q: %v", name, err)
			continue
		}
		if why, ok := readOnly[strings.ToLower(p.attr)]; ok && p.urn == "" {
			mapping("account attribute %q: %s %s", name, p.attr, why)
		}
	}
	ps.Sort()
	return s, ps
}

func containsFold(xs []string, x string) bool {
	return slices.ContainsFunc(xs, func(y string) bool { return strings.EqualFold(x, y) })
}

func (s Settings) withDefaults() Settings {
	if s.PageSize == 0 {
		s.PageSize = DefaultPageSize
	}
	if s.MaxBatch == 0 {
		s.MaxBatch = DefaultMaxBatch
	}
	if s.BatchMembers == 0 {
		s.BatchMembers = DefaultBatchMembers
	}
	if s.BatchLinger == 0 {
		s.BatchLinger = DefaultBatchLinger
	}
	s.URL = strings.TrimRight(s.URL, "/")
	return s
}
