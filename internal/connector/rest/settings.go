package rest

import (
	"errors"

	"go.yaml.in/yaml/v3"

	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/yamlx"
)

// Settings configure a REST target: every operation is a request
// template, and every answer is read with JSONPath.
//
//	type: rest
//	connection:
//	  url: https://api.example.com/v1            # operation URLs are paths under it
//	  auth: {type: api_key, header: x-api-key, key: "${env:KEY}"}   # see httpx.AuthConfig;
//	                                             # type session logs in once and keeps the cookie
//	  idempotency_header: Idempotency-Key        # off by default; run/action ID on POST writes
//	  headers: {Accept: application/json}        # sent with every request
//	  entitlements_case: insensitive             # sensitive (default): how the target compares entitlement ids
//	  response:                                  # how an account reads in any answer
//	    id: $.id                                 # default
//	    attributes: {username: $.username}       # default: the top-level key named like the attribute
//	    active: {path: $.suspended, equals: false}   # or just a path to a bool; default: active
//	    entitlements: $.memberOf[*]              # the account's entitlement ids, if answers have them
//	    link: {dn: $.ldapDn}                     # values kept for later operations ({{ link.dn }})
//	  operations:
//	    create: {method: POST, url: /users, success: [201],
//	             body: '{"username": {{ account.username }}, "email": {{ account.email }}}'}
//	    get:    {url: "/users/{{ native_id }}"}
//	    find:   {url: "/users?username={{ account.username }}", response: {items: "$.results[*]"}, match: [username]}
//	    update: {method: PUT, url: "/users/{{ native_id }}", body: "{{ changes }}"}
//	    enable: {method: PUT, url: "/users/{{ native_id }}", body: '{"suspended": false}'}
//	    disable: {method: PUT, url: "/users/{{ native_id }}", body: '{"suspended": true}'}
//	    delete: {method: DELETE, url: "/users/{{ native_id }}"}
//	    grant:  {method: POST, url: "/usergroups/{{ entitlement }}/members",
//	             body: '{"op": "add", "type": "user", "id": {{ native_id }}}'}
//	    revoke: {method: DELETE, url: "/usergroups/{{ entitlement }}/members/{{ native_id }}"}
//	    list_accounts: {url: "/users?limit={{ limit }}&skip={{ offset }}",
//	                    response: {items: "$.results[*]"}, paging: {style: offset, size: 100}}
//	    list_entitlements: {url: /usergroups, response: {items: "$[*]", name: $.name}, paging: {style: link}}
//	    check_member: {url: "/usergroups/{{ entitlement }}/members/{{ native_id }}"}   # optional
//	    create_entitlement: {url: /usergroups, body: '{"name": {{ entitlement }}}'}     # optional
//
// An operation is:
//
//	method    GET for get, find and lists; POST for create and grant;
//	          PATCH for update, enable and disable; DELETE for delete and revoke
//	url       a path under url, or an absolute URL with a literal host
//	headers   templates, added to the connection's
//	body      a JSON template: a hole where a value stands is JSON of its
//	          result, keeping its type ({{ true }}, {{ entitlements }});
//	          a hole inside a string is escaped for it
//	form      instead of body: form fields (templates)
//	success   the statuses that mean done (default: any 2xx)
//	response  how to read the answer (fields as above, plus items: the
//	          JSONPath of the list items, total: of the total count,
//	          name and members: of an entitlement's name and member ids)
//	exists    create, grant: the answers that mean "already exists" /
//	          "already a member": {status: [409], body: "regexp"}
//	          (default status 409). Create then lets the engine
//	          correlate (find) and link; grant is done, checked by a
//	          read-back where get reads entitlements.
//	missing   the answers that mean "not found" (default 404 and 410 on
//	          delete and revoke, where it means done; 404 on check_member,
//	          where it means "not a member"). On grant the engine reads
//	          the account to tell a missing account from a missing
//	          entitlement.
//
// Two operations are optional and only used where configured:
// check_member answers 2xx when the account ({{ native_id }}) is a member
// of {{ entitlement }}: grants and revokes are verified with it when get
// does not read entitlements (else they are unverifiable).
// create_entitlement creates a missing {{ entitlement }} when a grant
// finds it missing (exists: the answers meaning it is there already).
//
//	batch     grant, revoke: up to this many entitlements in one request
//	          ({{ entitlements }} instead of {{ entitlement }})
//	with_entitlements  create: the body grants {{ entitlements }} too
//	match     find: account attributes an item must equal (ignoring
//	          case) to count, for targets whose search is fuzzy
//	paging    list_accounts, list_entitlements: {style: page | offset |
//	          cursor | link | next, size: 100, start: 1 (page),
//	          cursor: <JSONPath of the next cursor>, next: <JSONPath of
//	          the next page's URL>}; link follows the Link header.
//
// Templates are accord's template language. What each operation's
// templates may use:
//
//	account       the account's attributes, by the names the target's account
//	              mapping produces (account.username, account["name.given"]);
//	              in create and find, the wanted ones; elsewhere, the known ones
//	changes       update: only the changed attributes ({{ changes }} is them as
//	              a JSON object)
//	person        the person's key (not in find and lists)
//	native_id     the account's id on the target (not in create, find, lists)
//	link          values earlier operations kept (response.link)
//	entitlement   grant, revoke: the one entitlement id
//	entitlements  batch grant and revoke, create with_entitlements: the list
//	limit, page, offset, cursor   lists: page size, page number, items
//	              before this page, the cursor the last page gave ("" first)
//
// The connection's headers may use no names. Every template is compiled
// at config check: an unknown name or attribute is a problem there.
type Settings struct {
	URL          string `yaml:"url"`
	httpx.Config `yaml:",inline"`
	Headers      map[string]string `yaml:"headers"`
	Response     *Response         `yaml:"response"`
	Operations   Operations        `yaml:"operations"`
	// EntitlementsCase: insensitive when the target takes entitlement
	// ids that differ only in letter case as one; sensitive (default).
	EntitlementsCase string `yaml:"entitlements_case"`
}

// Operations are the requests a target is driven with. Only those that
// are configured are offered (Capabilities).
type Operations struct {
	Create           *Operation `yaml:"create"`
	Get              *Operation `yaml:"get"`
	Find             *Operation `yaml:"find"`
	Update           *Operation `yaml:"update"`
	Enable           *Operation `yaml:"enable"`
	Disable          *Operation `yaml:"disable"`
	Delete           *Operation `yaml:"delete"`
	Grant            *Operation `yaml:"grant"`
	Revoke           *Operation `yaml:"revoke"`
	ListAccounts     *Operation `yaml:"list_accounts"`
	ListEntitlements *Operation `yaml:"list_entitlements"`
	// CheckMember and CreateEntitlement are optional: see Settings.
	CheckMember       *Operation `yaml:"check_member"`
	CreateEntitlement *Operation `yaml:"create_entitlement"`
}

// Operation is one request template and how to read its answer.
type Operation struct {
	Method           string            `yaml:"method"`
	URL              string            `yaml:"url"`
	Headers          map[string]string `yaml:"headers"`
	Body             string            `yaml:"body"`
	Form             map[string]string `yaml:"form"`
	Success          []int             `yaml:"success"`
	Response         *Response         `yaml:"response"`
	Exists           *Match            `yaml:"exists"`
	Missing          *Match            `yaml:"missing"`
	Batch            int               `yaml:"batch"`
	WithEntitlements bool              `yaml:"with_entitlements"`
	Match            []string          `yaml:"match"`
	Paging           *Paging           `yaml:"paging"`
}

// Response says where things are in an answer, as JSONPath.
type Response struct {
	Items        string            `yaml:"items"`
	Total        string            `yaml:"total"`
	ID           string            `yaml:"id"`
	Name         string            `yaml:"name"`
	Members      string            `yaml:"members"`
	Attributes   map[string]string `yaml:"attributes"`
	Active       *Active           `yaml:"active"`
	Entitlements string            `yaml:"entitlements"`
	Link         map[string]string `yaml:"link"`
}

// Active reads whether an account is active: the value at Path equals
// Equals (default true). A bare path is accepted: `active: $.enabled`.
type Active struct {
	Path   string `yaml:"path"`
	Equals any    `yaml:"equals"`
}

// UnmarshalYAML takes a path or a mapping.
func (a *Active) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		a.Path = n.Value
		return nil
	}
	type plain Active
	var p plain
	if ps := yamlx.Decode(n, &p, ""); len(ps) > 0 {
		return ps
	}
	if p.Path == "" {
		return errors.New("active needs a path")
	}
	*a = Active(p)
	return nil
}

// Match recognises answers by status and, optionally, a regular
// expression the body must match.
type Match struct {
	Status []int  `yaml:"status"`
	Body   string `yaml:"body"`
}

// Paging says how a list answer leads to the next page.
type Paging struct {
	Style  string `yaml:"style"`
	Size   int    `yaml:"size"`
	Start  *int   `yaml:"start"`
	Cursor string `yaml:"cursor"`
	Next   string `yaml:"next"`
}

// DefaultPageSize is {{ limit }} when paging.size is not set.
const DefaultPageSize = 100
