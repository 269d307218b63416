package scim

import (
	"context"
	"net/http"
	"strings"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
)

// Update sends only the given changes: one PATCH with one operation per
// attribute (remove for an empty value), or, with patch off, a PUT of the
// whole resource read just before.
func (c *Conn) Update(ctx context.Context, ref connector.AccountRef, changes model.Attributes) error {
	if len(changes) == 0 {
		return nil
	}
	u, s, err := c.userURL(ctx, ref)
	if err != nil {
		return err
	}
	names := changes.Keys()
	paths := make([]attrPath, len(names))
	for i, n := range names {
		if paths[i], err = c.path(n); err != nil {
			return err
		}
	}
	if !c.usePatch(s) {
		return c.put(ctx, u, s, names, func(r resource) {
			for i, n := range names {
				setValue(r, paths[i], wireValue(changes[n], s.lookup(paths[i])))
			}
		})
	}
	ops := make([]patchOp, len(names))
	for i, n := range names {
		ops[i] = opFor(paths[i], wireValue(changes[n], s.lookup(paths[i])))
	}
	resp, err := c.raw(ctx, http.MethodPatch, u, patchBody(ops))
	if err != nil {
		return err
	}
	if resp.OK() {
		return nil
	}
	// RFC 7644 §3.5.2.3: replacing through a value filter that matches no
	// element is noTarget. The element must be added whole instead; which
	// ones exist is only known by reading the User.
	if resp.Status == http.StatusBadRequest && isScimType(resp, "noTarget") && anyFiltered(paths) {
		return c.patchAfterRead(ctx, u, s, names, paths, changes)
	}
	return c.failure(resp, names)
}

func (c *Conn) usePatch(s *Schema) bool {
	if c.set.Patch != nil {
		return *c.set.Patch
	}
	return s.Patch
}

// wireValue is v for the wire, nil when v means "no value".
func wireValue(v any, def *Attribute) any {
	if empty(v) {
		return nil
	}
	return toJSON(v, def)
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path,omitempty"`
	Value any    `json:"value,omitempty"`
}

func patchBody(ops []patchOp) map[string]any {
	return map[string]any{"schemas": []string{patchOpURN}, "Operations": ops}
}

func opFor(p attrPath, v any) patchOp {
	if v == nil {
		return patchOp{Op: "remove", Path: p.removePath()}
	}
	return patchOp{Op: "replace", Path: p.patchPath(), Value: v}
}

func anyFiltered(ps []attrPath) bool {
	for _, p := range ps {
		if p.filtered() {
			return true
		}
	}
	return false
}

// patchAfterRead sends the update again knowing the User: a value-filter
// attribute whose element is missing is added as a whole element, and a
// removal of a missing element is dropped.
func (c *Conn) patchAfterRead(ctx context.Context, u string, s *Schema, names []string, paths []attrPath, changes model.Attributes) error {
	cur, _, err := c.get(ctx, u)
	if err != nil {
		return err
	}
	var ops []patchOp
	added := map[string]map[string]any{} // new elements by container+filter
	for i, n := range names {
		p, v := paths[i], wireValue(changes[n], s.lookup(paths[i]))
		if !p.filtered() || hasElement(cur, p) {
			ops = append(ops, opFor(p, v))
			continue
		}
		if v == nil {
			continue
		}
		k := strings.ToLower(p.container() + "\x00" + p.fAttr + "\x00" + p.fValue)
		el, ok := added[k]
		if !ok {
			el = map[string]any{p.fAttr: p.fValue}
			added[k] = el
			ops = append(ops, patchOp{Op: "add", Path: p.container(), Value: []any{el}})
		}
		el[p.sub] = v
	}
	if len(ops) == 0 {
		return nil
	}
	_, err = c.do(ctx, http.MethodPatch, u, patchBody(ops), names)
	return err
}

func hasElement(r resource, p attrPath) bool {
	h := holder(r, p, false)
	if h == nil {
		return false
	}
	_, v, _ := lookup(h, p.attr)
	list, _ := v.([]any)
	i, _ := element(list, p)
	return i >= 0
}

// put reads the User, applies edit and PUTs it back; with ETags declared
// the write is conditional, and a concurrent change gives kind conflict.
func (c *Conn) put(ctx context.Context, u string, s *Schema, names []string, edit func(resource)) error {
	r, resp, err := c.get(ctx, u)
	if err != nil {
		return err
	}
	var header []string
	if meta, ok := r["meta"].(map[string]any); ok && s.ETag {
		if v := str(meta, "version"); v != "" {
			header = []string{"If-Match", v}
		}
	}
	if etag := resp.Header.Get("ETag"); etag != "" && s.ETag && header == nil {
		header = []string{"If-Match", etag}
	}
	for _, k := range []string{"meta", "groups"} {
		deleteKey(r, k)
	}
	edit(r)
	ensureSchemas(r, coreUserURN)
	_, err = c.do(ctx, http.MethodPut, u, r, names, header...)
	return err
}

// Enable sets active to true.
func (c *Conn) Enable(ctx context.Context, ref connector.AccountRef) error {
	return c.setActive(ctx, ref, true)
}

// Disable sets active to false.
func (c *Conn) Disable(ctx context.Context, ref connector.AccountRef) error {
	return c.setActive(ctx, ref, false)
}

func (c *Conn) setActive(ctx context.Context, ref connector.AccountRef, active bool) error {
	u, s, err := c.userURL(ctx, ref)
	if err != nil {
		return err
	}
	if !c.usePatch(s) {
		return c.put(ctx, u, s, nil, func(r resource) { setKey(r, "active", active) })
	}
	_, err = c.do(ctx, http.MethodPatch, u, patchBody([]patchOp{{Op: "replace", Path: "active", Value: active}}), nil)
	return err
}
