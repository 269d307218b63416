// Package memory is an in-memory connector for unit tests of the engine
// and planner: a map of accounts and memberships, a log of calls, and a
// hook to inject failures. Real targets use real connectors.
package memory

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/yamlx"
)

// Account is an account as the memory target stores it.
type Account struct {
	ID           string
	PersonKey    string
	Attributes   model.Attributes
	Active       bool
	Entitlements map[string]bool
}

// Call is one recorded connector call.
type Call struct {
	Op           string
	NativeID     string
	Entitlements []string
	Attributes   model.Attributes
	Correlation  string
	// Members are the accounts of a many-member call (add_members,
	// members_among).
	Members []string
}

// Target is the in-memory system. Its zero value is not usable; use New.
type Target struct {
	mu       sync.Mutex
	accounts map[string]*Account
	nextID   int
	calls    []Call
	// CorrelateOn names the attribute Find matches (default "userName").
	CorrelateOn string
	// Fail, when set, is asked before every call; a non-nil error is
	// returned instead of doing the call.
	Fail func(op string, c Call) error
	Caps connector.Capabilities
	// BatchMembers, above 1, offers AddMembers and RemoveMembers to the
	// engine: that many accounts join (or leave) one entitlement in one
	// call, after waiting at most
	// BatchLinger for company. 0 (the default) offers no batching.
	BatchMembers int
	BatchLinger  time.Duration
	// Groups are entitlements as the target spells them. With
	// Caps.EntitlementsFoldCase a grant or revoke of another spelling acts
	// on the group, which keeps its own spelling, as a directory does.
	Groups []string
}

// spelling is the target's own spelling of entitlement e.
func (t *Target) spelling(e string) string {
	if s, ok := t.Caps.Names().Find(t.Groups, e); ok {
		return s
	}
	return e
}

// New returns an empty target with every capability but batching.
func New() *Target {
	return &Target{
		accounts:    map[string]*Account{},
		CorrelateOn: "userName",
		Caps: connector.Capabilities{Read: true, Find: true, List: true, ListEntitlements: true,
			Delete: true, MaxBatch: 1, EntitlementsOnRead: true},
	}
}

var (
	sharedMu sync.Mutex
	shared   = map[string]*Target{}
)

// Shared returns the process-wide target of that name, so a config of
// type memory (`connection: {name: x}`) and a test can see the same one.
func Shared(name string) *Target {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	t, ok := shared[name]
	if !ok {
		t = New()
		shared[name] = t
	}
	return t
}

type settings struct {
	Name string `yaml:"name"`
}

func init() {
	connector.Register("memory", connector.Factory{
		Settings: reflect.TypeFor[settings](),
		Check: func(n *yaml.Node, _ connector.CheckEnv) yamlx.Problems {
			var s settings
			return yamlx.Decode(n, &s, "")
		},
		Open: func(_ context.Context, spec connector.Spec) (connector.Connector, error) {
			var s settings
			if ps := yamlx.Decode(spec.Settings, &s, ""); len(ps) > 0 {
				return nil, ps
			}
			if s.Name == "" {
				s.Name = spec.Target
			}
			return Shared(s.Name), nil
		},
	})
}

// Calls returns the calls made so far.
func (t *Target) Calls() []Call {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.calls)
}

// Accounts returns a copy of every account, sorted by ID.
func (t *Target) Accounts() []Account {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Account, 0, len(t.accounts))
	for _, a := range t.accounts {
		c := *a
		c.Attributes = a.Attributes.Clone()
		c.Entitlements = make(map[string]bool, len(a.Entitlements))
		for k := range a.Entitlements {
			c.Entitlements[k] = true
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ByAttr finds an account by an attribute value.
func (t *Target) ByAttr(name string, value any) (Account, bool) {
	for _, a := range t.Accounts() {
		if model.ValueEqual(a.Attributes[name], value) {
			return a, true
		}
	}
	return Account{}, false
}

// Put stores an account directly (a hand-made account on the target).
func (t *Target) Put(a Account) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a.ID == "" {
		t.nextID++
		a.ID = "m" + strconv.Itoa(t.nextID)
	}
	if a.Entitlements == nil {
		a.Entitlements = map[string]bool{}
	}
	t.accounts[a.ID] = &a
}

// Remove deletes an account directly (deleted on the target by hand).
func (t *Target) Remove(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.accounts, id)
}

func (t *Target) begin(ctx context.Context, op string, c Call) (func(), error) {
	c.Op = op
	if call := audit.CallFrom(ctx).CorrelationID(); call != "" {
		c.Correlation = call
	}
	t.mu.Lock()
	t.calls = append(t.calls, c)
	fail := t.Fail
	t.mu.Unlock()
	if fail != nil {
		if err := fail(op, c); err != nil {
			return nil, err
		}
	}
	t.mu.Lock()
	return t.mu.Unlock, nil
}

func notFound(id string) error {
	return &connector.Error{Kind: connector.NotFound, Status: 404, Message: "no account " + id}
}

// Capabilities implements connector.Connector.
func (t *Target) Capabilities() connector.Capabilities { return t.Caps }

// Create implements connector.Connector.
func (t *Target) Create(ctx context.Context, req connector.CreateRequest) (connector.Account, error) {
	unlock, err := t.begin(ctx, "create", Call{Attributes: req.Attributes, Entitlements: req.Entitlements})
	if err != nil {
		return connector.Account{}, err
	}
	defer unlock()
	key := t.CorrelateOn
	for _, a := range t.accounts {
		if v, ok := req.Attributes[key]; ok && strings.EqualFold(model.FormatValue(a.Attributes[key]), model.FormatValue(v)) {
			return connector.Account{}, &connector.Error{Kind: connector.Conflict, Status: 409, Message: fmt.Sprintf("%s %v exists", key, v)}
		}
	}
	t.nextID++
	a := &Account{ID: "m" + strconv.Itoa(t.nextID), PersonKey: req.PersonKey, Attributes: req.Attributes.Clone(), Active: true, Entitlements: map[string]bool{}}
	for _, e := range req.Entitlements {
		a.Entitlements[t.spelling(e)] = true
	}
	t.accounts[a.ID] = a
	return view(a), nil
}

func view(a *Account) connector.Account {
	ents := make([]string, 0, len(a.Entitlements))
	for e := range a.Entitlements {
		ents = append(ents, e)
	}
	sort.Strings(ents)
	return connector.Account{NativeID: a.ID, Attributes: a.Attributes.Clone(), Active: a.Active, Entitlements: ents}
}

// Get implements connector.Connector.
func (t *Target) Get(ctx context.Context, ref connector.AccountRef) (connector.Account, error) {
	unlock, err := t.begin(ctx, "get", Call{NativeID: ref.NativeID})
	if err != nil {
		return connector.Account{}, err
	}
	defer unlock()
	a, ok := t.accounts[ref.NativeID]
	if !ok {
		return connector.Account{}, notFound(ref.NativeID)
	}
	return view(a), nil
}

// Find implements connector.Connector.
func (t *Target) Find(ctx context.Context, attrs model.Attributes) (connector.Account, error) {
	unlock, err := t.begin(ctx, "find", Call{Attributes: attrs})
	if err != nil {
		return connector.Account{}, err
	}
	defer unlock()
	var hits []*Account
	want := model.FormatValue(attrs[t.CorrelateOn])
	for _, a := range t.accounts {
		if strings.EqualFold(model.FormatValue(a.Attributes[t.CorrelateOn]), want) {
			hits = append(hits, a)
		}
	}
	switch len(hits) {
	case 0:
		return connector.Account{}, &connector.Error{Kind: connector.NotFound, Message: "no match for " + want}
	case 1:
		return view(hits[0]), nil
	}
	return connector.Account{}, &connector.Error{Kind: connector.Conflict, Message: "several accounts match " + want}
}

func (t *Target) modify(ctx context.Context, op string, ref connector.AccountRef, c Call, f func(a *Account)) error {
	c.NativeID = ref.NativeID
	unlock, err := t.begin(ctx, op, c)
	if err != nil {
		return err
	}
	defer unlock()
	a, ok := t.accounts[ref.NativeID]
	if !ok {
		return notFound(ref.NativeID)
	}
	f(a)
	return nil
}

// Update implements connector.Connector.
func (t *Target) Update(ctx context.Context, ref connector.AccountRef, changes model.Attributes) error {
	return t.modify(ctx, "update", ref, Call{Attributes: changes}, func(a *Account) {
		for k, v := range changes {
			a.Attributes[k] = v
		}
	})
}

// Enable implements connector.Connector.
func (t *Target) Enable(ctx context.Context, ref connector.AccountRef) error {
	return t.modify(ctx, "enable", ref, Call{}, func(a *Account) { a.Active = true })
}

// Disable implements connector.Connector.
func (t *Target) Disable(ctx context.Context, ref connector.AccountRef) error {
	return t.modify(ctx, "disable", ref, Call{}, func(a *Account) { a.Active = false })
}

// Delete implements connector.Connector.
func (t *Target) Delete(ctx context.Context, ref connector.AccountRef) error {
	unlock, err := t.begin(ctx, "delete", Call{NativeID: ref.NativeID})
	if err != nil {
		return err
	}
	defer unlock()
	if _, ok := t.accounts[ref.NativeID]; !ok {
		return notFound(ref.NativeID)
	}
	delete(t.accounts, ref.NativeID)
	return nil
}

// Grant implements connector.Connector.
func (t *Target) Grant(ctx context.Context, ref connector.AccountRef, ents []string) error {
	return t.modify(ctx, "grant", ref, Call{Entitlements: ents}, func(a *Account) {
		for _, e := range ents {
			a.Entitlements[t.spelling(e)] = true
		}
	})
}

// Revoke implements connector.Connector.
func (t *Target) Revoke(ctx context.Context, ref connector.AccountRef, ents []string) error {
	return t.modify(ctx, "revoke", ref, Call{Entitlements: ents}, func(a *Account) {
		for _, e := range ents {
			delete(a.Entitlements, t.spelling(e))
		}
	})
}

// ListAccounts implements connector.Connector: one page of everything.
func (t *Target) ListAccounts(ctx context.Context, cursor string) (connector.Page[connector.Account], error) {
	var out []connector.Account
	for _, a := range t.Accounts() {
		a := a
		out = append(out, view(&a))
	}
	return connector.Page[connector.Account]{Items: out, Total: len(out)}, nil
}

// ListEntitlements implements connector.Connector.
func (t *Target) ListEntitlements(ctx context.Context, cursor string) (connector.Page[connector.Entitlement], error) {
	members := map[string][]string{}
	for _, a := range t.Accounts() {
		for e := range a.Entitlements {
			members[e] = append(members[e], a.ID)
		}
	}
	var out []connector.Entitlement
	for e, m := range members {
		sort.Strings(m)
		out = append(out, connector.Entitlement{ID: e, DisplayName: e, Members: m})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return connector.Page[connector.Entitlement]{Items: out, Total: len(out)}, nil
}

// Close implements connector.Connector.
func (t *Target) Close(context.Context) error { return nil }

// MemberBatch says how many accounts AddMembers takes at once, and how
// long the engine may wait to gather them.
func (t *Target) MemberBatch() (int, time.Duration) { return t.BatchMembers, t.BatchLinger }

// AddMembers adds several accounts to one entitlement in one call. Like a
// SCIM PATCH it is all or nothing: an account that is not there fails
// the call with not_found and adds nobody.
func (t *Target) AddMembers(ctx context.Context, entitlement string, ids []string) error {
	return t.members(ctx, "add_members", entitlement, ids, func(a *Account, e string) { a.Entitlements[e] = true })
}

// members changes the membership of every account of ids in one call,
// all or nothing.
func (t *Target) members(ctx context.Context, op, entitlement string, ids []string, change func(a *Account, e string)) error {
	unlock, err := t.begin(ctx, op, Call{Entitlements: []string{entitlement}, Members: slices.Clone(ids)})
	if err != nil {
		return err
	}
	defer unlock()
	for _, id := range ids {
		if _, ok := t.accounts[id]; !ok {
			return notFound(id)
		}
	}
	for _, id := range ids {
		change(t.accounts[id], t.spelling(entitlement))
	}
	return nil
}

// RemoveMembers removes several accounts from one entitlement in one
// call (the engine batches revokes with it). Like a SCIM PATCH it is all
// or nothing: an account that is not there fails the call with
// not_found and removes nobody; an account that is not a member is
// already as asked.
func (t *Target) RemoveMembers(ctx context.Context, entitlement string, ids []string) error {
	return t.members(ctx, "remove_members", entitlement, ids, func(a *Account, e string) { delete(a.Entitlements, e) })
}

// MembersAmong reads, in one call, which of the accounts hold the
// entitlement; accounts that are not there are not members.
func (t *Target) MembersAmong(ctx context.Context, entitlement string, ids []string) ([]string, error) {
	unlock, err := t.begin(ctx, "members_among", Call{Entitlements: []string{entitlement}, Members: slices.Clone(ids)})
	if err != nil {
		return nil, err
	}
	defer unlock()
	var out []string
	for _, id := range ids {
		if a, ok := t.accounts[id]; ok && a.Entitlements[t.spelling(entitlement)] {
			out = append(out, id)
		}
	}
	return out, nil
}
