package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/maphash"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/accord-iam/accord/internal/inbound"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
)

// Inbound SCIM: an HR system creates, replaces, patches, deactivates and
// deletes workers as SCIM Users. Each write is mapped to a record of the
// source named by inbound.scim, validated against its typed columns as a
// feed line is, stored before the answer, audited under the caller's key
// by the same middleware as every API change, and planned at once through
// afterPersonChange, the path of PUT /api/v1/persons: thresholds and
// exclusions apply as to any import. The SCIM id is the person's key.

// scimIn is inbound SCIM's state: the mapping, and a lock per person key
// so that a read-modify-write (PATCH, If-Match) is not interleaved with
// another in this process.
type scimIn struct {
	m     *inbound.Mapping
	seed  maphash.Seed
	locks [64]sync.Mutex
}

func newSCIMIn(s *Server) *scimIn {
	sc := s.app.Cfg.Inbound.SCIM
	if sc == nil {
		return nil
	}
	m, probs := sc.Compile(s.app.Cfg.Sources)
	if len(probs) > 0 {
		// The config loader has refused such a config already.
		s.log.Error("inbound SCIM is misconfigured; its routes answer 404", "problems", probs.Error())
		return nil
	}
	return &scimIn{m: m, seed: maphash.MakeSeed()}
}

func (in *scimIn) lock(key string) func() {
	mu := &in.locks[maphash.String(in.seed, key)%uint64(len(in.locks))]
	mu.Lock()
	return mu.Unlock
}

func (s *Server) scimRoutes() []Route {
	const (
		get, post, put, patch, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
		users                      = scimBase + "/Users"
		user                       = users + "/{id}"
	)
	rd := func(m, p string, h handlerFunc) Route {
		return Route{Method: m, Path: p, Scope: ScopeRead, AlsoScope: ScopeSCIMWrite, SCIM: true, h: h}
	}
	wr := func(m, p string, h handlerFunc) Route {
		return Route{Method: m, Path: p, Scope: ScopeSCIMWrite, SCIM: true, h: h}
	}
	return []Route{
		rd(get, scimBase+"/ServiceProviderConfig", s.scimServiceProviderConfig),
		rd(get, scimBase+"/ResourceTypes", s.scimResourceTypes),
		rd(get, scimBase+"/Schemas", s.scimSchemas),
		rd(get, users, s.scimListUsers),
		rd(get, user, s.scimGetUser),
		wr(post, users, s.scimCreateUser),
		wr(put, user, s.scimReplaceUser),
		wr(patch, user, s.scimPatchUser),
		wr(del, user, s.scimDeleteUser),
		wr(post, scimBase+"/Bulk", s.scimBulk),
	}
}

// bound answers 404 on every SCIM route when inbound SCIM is not configured.
func (s *Server) scimOn() (*scimIn, error) {
	if s.scim == nil {
		return nil, scimErrorf(http.StatusNotFound, "", "inbound SCIM is not configured: add an inbound.scim block naming a source with format: scim (docs/config.md)")
	}
	return s.scim, nil
}

const maxBulkOperations = 1000

func (s *Server) scimServiceProviderConfig(rq *request) (int, any, error) {
	if _, err := s.scimOn(); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, inbound.ServiceProviderConfig(maxBulkOperations, int(s.cfg.MaxBodyBytes), "https://github.com/accord-iam/accord/blob/main/README.md#inbound-scim-from-hr"), nil
}

func (s *Server) scimResourceTypes(rq *request) (int, any, error) {
	in, err := s.scimOn()
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, listResponse(in.m.ResourceTypes(), 1), nil
}

func (s *Server) scimSchemas(rq *request) (int, any, error) {
	in, err := s.scimOn()
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, listResponse(in.m.Schemas(), 1), nil
}

func listResponse[T any](items []T, start int) map[string]any {
	if items == nil {
		items = []T{}
	}
	return map[string]any{
		"schemas":      []string{"urn:ietf:params:scim:api:messages:2.0:ListResponse"},
		"totalResults": len(items), "startIndex": start, "itemsPerPage": len(items), "Resources": items,
	}
}

// scimUser is a person as a SCIM resource, with its ETag.
func (s *Server) scimUser(in *scimIn, rq *request, p *model.Person) (map[string]any, string) {
	u := in.m.FromPerson(p)
	active := isActive(p, s.app.Today())
	u.Active = &active
	res := in.m.Render(u)
	res["id"] = p.Key
	etag := scimETag(res)
	res["meta"] = map[string]any{
		"resourceType": "User", "lastModified": p.UpdatedAt.UTC().Format(time.RFC3339),
		"location": scimLocation(rq, p.Key), "version": etag,
	}
	return res, etag
}

// isActive: the last day of employment (End) is when accord plans the
// leaver, so a worker is active until the day before.
func isActive(p *model.Person, today model.Date) bool {
	return p.End.IsZero() || today.Before(p.End)
}

// scimETag is a weak ETag over the resource's content: any change a GET
// would show changes it, and nothing else does.
func scimETag(res map[string]any) string {
	data, _ := json.Marshal(res) // maps marshal with sorted keys
	h := sha256.Sum256(data)
	return `W/"` + hex.EncodeToString(h[:12]) + `"`
}

func scimLocation(rq *request, id string) string {
	scheme := "http"
	if rq.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + rq.Host + scimBase + "/Users/" + url.PathEscape(id)
}

// lookupUser reads the person behind a SCIM id: absent, deleted over
// SCIM (missing from the source), or of another source is 404.
func (s *Server) lookupUser(ctx context.Context, in *scimIn, id string) (model.Person, error) {
	p, err := s.personsStore().GetPerson(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return p, err
	case p.Source == in.m.Spec.Name && p.MissingSince.IsZero():
		return p, nil
	}
	return p, scimErrorf(http.StatusNotFound, "", "no User with id %q in source %s", id, in.m.Spec.Name)
}

func (s *Server) scimGetUser(rq *request) (int, any, error) {
	in, err := s.scimOn()
	if err != nil {
		return 0, nil, err
	}
	p, err := s.lookupUser(rq.Context(), in, rq.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	res, etag := s.scimUser(in, rq, &p)
	rq.header = http.Header{"Etag": {etag}}
	return http.StatusOK, res, nil
}

func (s *Server) scimListUsers(rq *request) (int, any, error) {
	in, err := s.scimOn()
	if err != nil {
		return 0, nil, err
	}
	q := rq.URL.Query()
	start, count := 1, inbound.MaxResults
	for name, dst := range map[string]*int{"startIndex": &start, "count": &count} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return 0, nil, scimErrorf(http.StatusBadRequest, "invalidValue", "%s: expected a non-negative integer, not %q", name, v)
			}
			*dst = n
		}
	}
	start, count = max(start, 1), min(count, inbound.MaxResults)
	var expr filter.Expression
	if f := q.Get("filter"); f != "" {
		if expr, err = filter.ParseFilter([]byte(f)); err != nil {
			return 0, nil, scimErrorf(http.StatusBadRequest, "invalidFilter", "filter %q: %v", f, err)
		}
	}
	var matched []model.Person
	keep := func(p model.Person) error {
		if p.Source != in.m.Spec.Name || !p.MissingSince.IsZero() {
			return nil
		}
		if expr != nil {
			u := in.m.FromPerson(&p)
			active := isActive(&p, s.app.Today())
			u.Active = &active
			ok, ferr := in.m.Match(expr, p.Key, u)
			if ferr != nil {
				e := scimErr(ferr)
				return e
			}
			if !ok {
				return nil
			}
		}
		matched = append(matched, p)
		return nil
	}
	if ids, pinned := in.m.KeyCandidates(expr); pinned {
		for _, id := range ids {
			p, err := s.personsStore().GetPerson(rq.Context(), id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return 0, nil, err
			}
			if err := keep(p); err != nil {
				return 0, nil, err
			}
		}
	} else if err := s.personsStore().EachPerson(rq.Context(), keep); err != nil {
		return 0, nil, err
	}
	page := []map[string]any{}
	for i := start - 1; i < len(matched) && len(page) < count; i++ {
		res, _ := s.scimUser(in, rq, &matched[i])
		page = append(page, res)
	}
	out := listResponse(page, start)
	out["totalResults"] = len(matched)
	return http.StatusOK, out, nil
}

func (s *Server) scimCreateUser(rq *request) (int, any, error) {
	in, err := s.scimOn()
	if err != nil {
		return 0, nil, err
	}
	var body map[string]any
	if err := decodeSCIM(rq.Request, &body); err != nil {
		return 0, nil, err
	}
	return s.scimWrite(rq, in, http.MethodPost, "", body, nil)
}

func (s *Server) scimReplaceUser(rq *request) (int, any, error) {
	in, err := s.scimOn()
	if err != nil {
		return 0, nil, err
	}
	var body map[string]any
	if err := decodeSCIM(rq.Request, &body); err != nil {
		return 0, nil, err
	}
	return s.scimWrite(rq, in, http.MethodPut, rq.PathValue("id"), body, nil)
}

// patchBody is a PATCH request (RFC 7644 3.5.2).
type patchBody struct {
	Schemas    []string          `json:"schemas"`
	Operations []inbound.PatchOp `json:"Operations"`
}

func (s *Server) scimPatchUser(rq *request) (int, any, error) {
	in, err := s.scimOn()
	if err != nil {
		return 0, nil, err
	}
	var body patchBody
	if err := decodeSCIM(rq.Request, &body); err != nil {
		return 0, nil, err
	}
	return s.scimWrite(rq, in, http.MethodPatch, rq.PathValue("id"), nil, body.Operations)
}

func (s *Server) scimDeleteUser(rq *request) (int, any, error) {
	in, err := s.scimOn()
	if err != nil {
		return 0, nil, err
	}
	return s.scimWrite(rq, in, http.MethodDelete, rq.PathValue("id"), nil, nil)
}

// scimWrite is every write to a User, from a request or a Bulk
// operation: POST (body), PUT (id, body), PATCH (id, ops), DELETE (id).
// The If-Match of rq applies to PUT, PATCH and DELETE.
func (s *Server) scimWrite(rq *request, in *scimIn, method, id string, body map[string]any, ops []inbound.PatchOp) (int, any, error) {
	ctx := rq.Context()
	today := s.app.Today()
	var (
		u   inbound.User
		old *model.Person
	)
	if method == http.MethodPost {
		var perr *inbound.Error
		if u, perr = in.m.Parse(body); perr != nil {
			return 0, nil, scimErr(perr)
		}
		if id = keyText(u.Values[in.m.KeySlot()]); id == "" {
			return 0, nil, scimErrorf(http.StatusBadRequest, "invalidValue", "%s is required: it carries the key of source %s (column %s)", in.m.KeySlot(), in.m.Spec.Name, in.m.Spec.Key)
		}
	}
	rq.note.person = id
	defer in.lock(id)()

	if method == http.MethodPost {
		switch p, err := s.personsStore().GetPerson(ctx, id); {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return 0, nil, err
		case p.Source != in.m.Spec.Name:
			return 0, nil, scimErrorf(http.StatusConflict, "uniqueness", "person %s exists already in source %s, not %s", id, p.Source, in.m.Spec.Name)
		case p.MissingSince.IsZero():
			return 0, nil, scimErrorf(http.StatusConflict, "uniqueness", "a User with %s %q exists already (id %s); replace it with PUT or PATCH", in.m.KeySlot(), id, id)
		default:
			old = &p // deleted over SCIM before: created again, as a rehire
		}
	} else {
		p, err := s.lookupUser(ctx, in, id)
		if err != nil {
			return 0, nil, err
		}
		old = &p
		if want := rq.Header.Get("If-Match"); want != "" {
			if _, etag := s.scimUser(in, rq, old); !etagMatches(want, etag) {
				return 0, nil, scimErrorf(http.StatusPreconditionFailed, "", "If-Match %s does not match the User's current version %s: it changed since it was read", want, etag)
			}
		}
		active := isActive(old, today)
		switch method {
		case http.MethodPut:
			var perr *inbound.Error
			if u, perr = in.m.Parse(body); perr != nil {
				return 0, nil, scimErr(perr)
			}
			if u.Active == nil {
				u.Active = &active
			}
		case http.MethodPatch:
			u = in.m.FromPerson(old)
			u.Active = &active
			if perr := in.m.Patch(&u, ops); perr != nil {
				return 0, nil, scimErr(perr)
			}
		case http.MethodDelete:
			u = in.m.FromPerson(old)
			no := false
			u.Active = &no
		}
		switch got := keyText(u.Values[in.m.KeySlot()]); {
		case got == "" && method == http.MethodPut:
			u.Values[in.m.KeySlot()] = id // the path names the User; the body need not repeat it
		case got != id:
			return 0, nil, scimErrorf(http.StatusBadRequest, "mutability", "%s is %q but the User is %s: the key of a person cannot change over SCIM", in.m.KeySlot(), got, id)
		}
	}

	p, err := s.parseUser(in, u, old)
	if err != nil {
		return 0, nil, err
	}
	if old != nil && in.m.Spec.End == "" {
		p.End = old.End // without an end column the end lives only on the person
	}
	setActive(&p, u.Active, in.m.Spec.End, today)
	if method == http.MethodDelete {
		p.MissingSince = today
	}
	p.UpdatedAt = s.app.Now()
	if err := s.personsStore().PutPerson(ctx, p); err != nil {
		return 0, nil, err
	}
	what := map[string]string{http.MethodPost: "created", http.MethodPut: "replaced", http.MethodPatch: "patched", http.MethodDelete: "deleted"}[method]
	what += " over SCIM"
	if u.Active != nil && !*u.Active {
		what += ", employment ends " + p.End.String()
	}
	_, res, err := s.afterPersonChange(ctx, rq, &p, in.m.Spec, what)
	if err != nil {
		return 0, nil, err
	}
	rq.header = http.Header{}
	if res.Run != nil {
		// SCIM has no place for it: the run planned for the change, and
		// whether a threshold holds it, travel as headers.
		rq.header.Set("X-Accord-Run", res.Run.Link)
		rq.header.Set("X-Accord-Run-State", string(res.Run.State))
	}
	if method == http.MethodDelete {
		return http.StatusNoContent, nil, nil
	}
	out, etag := s.scimUser(in, rq, &p)
	rq.header.Set("Etag", etag)
	if method == http.MethodPost {
		rq.header.Set("Location", scimLocation(rq, p.Key))
		return http.StatusCreated, out, nil
	}
	return http.StatusOK, out, nil
}

// parseUser validates a User's record against the source's typed
// columns, naming each bad value by its SCIM attribute.
func (s *Server) parseUser(in *scimIn, u inbound.User, old *model.Person) (model.Person, error) {
	rec := in.m.Record(u, old)
	p, probs := in.m.Spec.ParseRecord(rec)
	if len(probs) == 0 {
		return p, nil
	}
	msgs := make([]string, len(probs))
	for i, q := range probs {
		msgs[i] = in.m.Problem(q.Field, rec[q.Field], q.Reason).Detail
	}
	return p, scimErrorf(http.StatusBadRequest, "invalidValue", "the User does not fit source %s: %s", in.m.Spec.Name, strings.Join(msgs, "; "))
}

// setActive applies SCIM's active to the employment: false ends it today
// (unless it ends earlier already), as an HR end date does; true on an
// ended employment is a rehire and clears the end.
func setActive(p *model.Person, active *bool, endColumn string, today model.Date) {
	if active == nil {
		return
	}
	end := p.End
	switch {
	case !*active && (end.IsZero() || today.Before(end)):
		end = today
	case *active && !end.IsZero() && !today.Before(end):
		end = model.Date{}
	default:
		return
	}
	p.End = end
	if endColumn != "" {
		p.Attributes = p.Attributes.Clone()
		if p.Attributes == nil {
			p.Attributes = model.Attributes{}
		}
		if end.IsZero() {
			delete(p.Attributes, endColumn)
		} else {
			p.Attributes[endColumn] = end
		}
	}
}

// etagMatches compares an If-Match header with an ETag: "*" matches any,
// and a list matches if one does; weakness is ignored (RFC 9110 weak
// comparison, which SCIM's versions are meant for).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}

// keyText is a key as sent: a string, or the digits of a number.
func keyText(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case json.Number:
		return x.String()
	}
	return ""
}
