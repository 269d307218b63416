package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/httpx"
)

// A joiner's create and group grants in /Bulk (RFC 7644 §3.7): the POST
// of the User with a bulkId, then one PATCH per group adding
// "bulkId:<it>" as a member, in as few requests as the target's
// maxOperations and maxPayloadSize allow. Each operation's own answer
// decides its outcome: a group the target refused is reported missing,
// in the target's words, while the account, created, is returned so that
// it is linked and never created again.

const (
	bulkRequestURN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	// bulkUser is the bulkId of the User a joiner's /Bulk creates; it is
	// unique within the request, which is all the RFC asks.
	bulkUser = "user"
	// bulkEnvelope is room for the request's own fields around its
	// operations, when checking maxPayloadSize.
	bulkEnvelope = 128
)

type bulkOp struct {
	Method string `json:"method"`
	BulkID string `json:"bulkId,omitempty"`
	Path   string `json:"path"`
	Data   any    `json:"data,omitempty"`

	ent  string // the entitlement a group operation grants
	gid  string // and its group's id
	size int    // encoded bytes
}

type bulkResult struct {
	Method   string          `json:"method"`
	BulkID   string          `json:"bulkId"`
	Location string          `json:"location"`
	Status   json.RawMessage `json:"status"` // a string in the RFC, a number in some targets
	Response json.RawMessage `json:"response"`
}

func (r *bulkResult) status() int {
	s := strings.Trim(string(r.Status), `" `)
	n, _ := strconv.Atoi(s)
	return n
}

// discoveredBulk: discovery has run and the target offers /Bulk, and bulk
// is not off. Capabilities cannot send a request: before discovery,
// joiners are planned without it.
func (c *Conn) discoveredBulk() bool {
	if c.set.bulkOff() {
		return false
	}
	c.discMu.Lock()
	defer c.discMu.Unlock()
	return c.disc.schema != nil && c.disc.schema.Bulk
}

// UndiscoveredShape says how joiners are planned while discovery has not
// answered: without /Bulk, a create and then separate grants, since
// whether the target offers /Bulk is not known. "" once discovery has
// answered, or where bulk is off (discovery would change nothing).
func (c *Conn) UndiscoveredShape() string {
	if c.set.bulkOff() {
		return ""
	}
	c.discMu.Lock()
	defer c.discMu.Unlock()
	if c.disc.schema != nil {
		return ""
	}
	return "joiners planned without /Bulk (a create, then their grants as separate actions), whether or not the target offers it"
}

// createBulk creates a User and adds it to the entitlements' groups.
func (c *Conn) createBulk(ctx context.Context, s *Schema, body resource, names []string, ents []string) (connector.Account, error) {
	var missed missing
	post := bulkOp{Method: http.MethodPost, BulkID: bulkUser, Path: s.UserEndpoint, Data: body}
	var groups []bulkOp
	for _, e := range ents {
		gid, err := c.groupRef(ctx, e)
		if err != nil {
			ce := connector.AsError(err)
			if ce.Kind != connector.NotFound && ce.Kind != connector.Conflict {
				return connector.Account{}, err // nothing sent yet: the create waits with its grants
			}
			// A group that cannot be named is the grant's failure, not
			// the account's: the grant says so after the create.
			missed.add(e, ce)
			continue
		}
		groups = append(groups, c.addMemberOp(s, gid, e, "bulkId:"+bulkUser))
	}
	maxOps, maxPay := s.BulkMaxOperations, s.BulkMaxPayload
	post.size = encodedSize(post)
	if maxPay > 0 && post.size+bulkEnvelope > maxPay || maxOps == 1 {
		// The create alone does not fit in one /Bulk: plain requests.
		acct, err := c.post(ctx, c.base+s.UserEndpoint, body, names)
		if err != nil {
			return acct, err
		}
		return c.grantAfterCreate(ctx, acct, "", ents)
	}
	first := []bulkOp{post}
	n := fit(groups, maxOps-1, maxPay-post.size)
	first = append(first, groups[:n]...)
	results, err := c.sendBulk(ctx, first)
	if err != nil {
		if err.Status == http.StatusRequestEntityTooLarge || err.Status == http.StatusNotImplemented {
			// Refused whole (too large, or /Bulk no longer offered), so
			// nothing was done: separate requests instead, with the
			// target's words in the audit of the refusal.
			acct, perr := c.post(ctx, c.base+s.UserEndpoint, body, names)
			if perr != nil {
				return acct, perr
			}
			return c.grantAfterCreate(ctx, acct, "", ents)
		}
		return connector.Account{}, err
	}
	pr := findResult(results, 0, first[0])
	if pr == nil {
		return connector.Account{}, connector.Errorf(connector.Unknown, "scim: the /Bulk answer has no result for the create of the User (bulkId %s)", bulkUser)
	}
	if st := pr.status(); st < 200 || st > 299 {
		return connector.Account{}, c.opFailure(pr, first[0], names)
	}
	acct, aerr := c.bulkAccount(ctx, pr)
	if aerr != nil {
		return acct, aerr
	}
	for i, op := range first[1:] {
		missed.result(c, findResult(results, i+1, op), op)
	}
	// What did not fit in the first request follows with the id known.
	rest := groups[n:]
	for i := range rest {
		rest[i] = c.addMemberOp(s, rest[i].gid, rest[i].ent, acct.NativeID)
	}
	for len(rest) > 0 {
		k := max(fit(rest, maxOps, maxPay), 1)
		chunk := rest[:k]
		rest = rest[k:]
		results, err := c.sendBulk(ctx, chunk)
		for i, op := range chunk {
			if err != nil {
				missed.add(op.ent, err)
				continue
			}
			missed.result(c, findResult(results, i, op), op)
		}
	}
	if missed.err != nil {
		return acct, &connector.PartialCreateError{Account: acct, Missing: missed.ents, Err: missed.err}
	}
	return acct, nil
}

// grantAfterCreate adds a just created account to the groups one PATCH at
// a time, where /Bulk cannot carry them.
func (c *Conn) grantAfterCreate(ctx context.Context, acct connector.Account, person string, ents []string) (connector.Account, error) {
	ref := connector.AccountRef{NativeID: acct.NativeID, PersonKey: person}
	for i, e := range ents {
		if err := c.Grant(ctx, ref, []string{e}); err != nil {
			return acct, &connector.PartialCreateError{Account: acct, Missing: ents[i:], Err: connector.AsError(err)}
		}
	}
	return acct, nil
}

func (c *Conn) addMemberOp(s *Schema, gid, ent, member string) bulkOp {
	op := bulkOp{Method: http.MethodPatch, Path: s.GroupEndpoint + "/" + url.PathEscape(gid), ent: ent, gid: gid,
		Data: patchBody([]patchOp{{Op: "add", Path: "members", Value: []map[string]string{{"value": member}}}})}
	op.size = encodedSize(op)
	return op
}

// fit is how many of ops, from the first, fit in maxOps operations and
// room bytes (0 or less: no limit).
func fit(ops []bulkOp, maxOps, room int) int {
	n, size := 0, bulkEnvelope
	for _, op := range ops {
		if maxOps > 0 && n >= maxOps {
			break
		}
		if room > 0 && size+op.size+1 > room {
			break
		}
		n++
		size += op.size + 1
	}
	return n
}

func encodedSize(v any) int {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return 0
	}
	return buf.Len()
}

// sendBulk sends one BulkRequest and reads its per-operation results. No
// failOnErrors: the target goes on after a failed group operation, so
// every grant gets its own answer.
func (c *Conn) sendBulk(ctx context.Context, ops []bulkOp) ([]bulkResult, *connector.Error) {
	req := map[string]any{"schemas": []string{bulkRequestURN}, "Operations": ops}
	resp, err := c.raw(ctx, http.MethodPost, c.base+"/Bulk", req, c.idempotency(ctx)...)
	if err != nil {
		return nil, connector.AsError(err)
	}
	if !resp.OK() {
		return nil, c.failure(resp, nil)
	}
	var out struct {
		Operations []bulkResult `json:"Operations"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		e := resp.Failure()
		if e == nil {
			e = &connector.Error{Status: resp.Status}
		}
		e.Kind, e.Message = connector.Unknown, fmt.Sprintf("scim: the /Bulk answer is not a BulkResponse: %v", err)
		return nil, e
	}
	return out.Operations, nil
}

// findResult is the answer to op, the i-th operation sent: the i-th
// result when it is about the same resource, else the one that is (the
// RFC does not promise the order), else nil (not processed).
func findResult(results []bulkResult, i int, op bulkOp) *bulkResult {
	same := func(r *bulkResult) bool {
		if !strings.EqualFold(r.Method, op.Method) {
			return false
		}
		if op.BulkID != "" {
			return r.BulkID == op.BulkID
		}
		return r.Location == "" || strings.HasSuffix(r.Location, op.Path)
	}
	if i < len(results) && same(&results[i]) {
		return &results[i]
	}
	for j := range results {
		if results[j].Location != "" && same(&results[j]) {
			return &results[j]
		}
	}
	return nil
}

// opFailure turns a failed operation's answer into an error, as the
// same request sent alone would have been.
func (c *Conn) opFailure(r *bulkResult, op bulkOp, names []string) *connector.Error {
	return c.failure(&httpx.Response{Status: r.status(), Body: r.Response, Method: op.Method, URL: c.base + op.Path + " (in /Bulk)"}, names)
}

// bulkAccount reads the created User from its result: the response the
// target included, else the resource at its location.
func (c *Conn) bulkAccount(ctx context.Context, r *bulkResult) (connector.Account, error) {
	if len(bytes.TrimSpace(r.Response)) > 0 && string(r.Response) != "null" {
		return c.accountFrom(ctx, r.Response)
	}
	if r.Location == "" {
		return connector.Account{}, connector.Errorf(connector.Unknown, "scim: the /Bulk create answered %d without the User or its location", r.status())
	}
	// The location may be relative: to the host (/scim/v2/Users/x) or
	// to the base URL (Users/x).
	base, berr := url.Parse(c.base + "/")
	loc, lerr := url.Parse(r.Location)
	if berr != nil || lerr != nil {
		return connector.Account{}, connector.Errorf(connector.Unknown, "scim: the /Bulk create answered an unusable location %q", r.Location)
	}
	res, _, err := c.get(ctx, base.ResolveReference(loc).String())
	if err != nil {
		return connector.Account{}, err
	}
	return c.account(ctx, res)
}

// missing collects the grants a bulk create did not make.
type missing struct {
	ents []string
	err  *connector.Error // the first failure
}

func (m *missing) add(ent string, err *connector.Error) {
	m.ents = append(m.ents, ent)
	if m.err == nil {
		m.err = err
	}
}

func (m *missing) result(c *Conn, r *bulkResult, op bulkOp) {
	switch {
	case r == nil:
		m.add(op.ent, connector.Errorf(connector.Unknown, "the /Bulk answer has no result for %s %s: not processed", op.Method, op.Path))
	case r.status() < 200 || r.status() > 299:
		m.add(op.ent, c.opFailure(r, op, nil))
	}
}
