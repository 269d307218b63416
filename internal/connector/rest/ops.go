package rest

import (
	"context"
	"strings"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
)

// Create sends the create operation. An answer its exists rule matches
// (409 by default) comes back as kind conflict: the engine then
// correlates with Find and links.
func (c *Conn) Create(ctx context.Context, req connector.CreateRequest) (connector.Account, error) {
	o, err := c.op(opCreate)
	if err != nil {
		return connector.Account{}, err
	}
	if len(req.Entitlements) > 0 && !o.withEnts {
		return connector.Account{}, connector.Errorf(connector.Unsupported, "rest create: with_entitlements is not set; grant them after")
	}
	ents := req.Entitlements
	if ents == nil {
		ents = []string{}
	}
	vals := map[string]any{"account": attrMap(req.Attributes), "person": req.PersonKey, "entitlements": ents}
	resp, err := c.call(ctx, o, vals)
	if err != nil {
		return connector.Account{}, err
	}
	doc, err := parse(o, resp)
	if err != nil {
		return connector.Account{}, err
	}
	var a connector.Account
	if doc != nil {
		a = o.read.account(doc, c.attrs)
	} else {
		a = connector.Account{Active: true}
	}
	if a.NativeID == "" {
		a.NativeID = locationID(resp.Header)
	}
	if a.NativeID == "" {
		return connector.Account{}, connector.Errorf(connector.Unknown,
			"rest create: %s %s answered %d without an id (looked at the body and the Location header): set operations.create.response.id", resp.Method, resp.URL, resp.Status)
	}
	if len(a.Attributes) == 0 {
		a.Attributes = req.Attributes.Clone()
	}
	// The engine records what create granted from the request; an id
	// list read from the answer would only repeat it.
	a.Entitlements = nil
	return a, nil
}

// Get reads the account with the get operation.
func (c *Conn) Get(ctx context.Context, ref connector.AccountRef) (connector.Account, error) {
	o, err := c.op(opGet)
	if err != nil {
		return connector.Account{}, err
	}
	resp, err := c.call(ctx, o, refValues(ref))
	if err != nil {
		return connector.Account{}, err
	}
	doc, err := parse(o, resp)
	if err != nil {
		return connector.Account{}, err
	}
	if items := o.read.itemsOf(doc); o.read.items != nil {
		if len(items) == 0 {
			return connector.Account{}, connector.Errorf(connector.NotFound, "rest get: %s %s answered no account", resp.Method, resp.URL)
		}
		doc = items[0]
	}
	a := o.read.account(doc, c.attrs)
	if a.NativeID == "" {
		a.NativeID = ref.NativeID
	}
	if len(ref.Link) > 0 {
		merged := make(map[string]string, len(ref.Link)+len(a.Link))
		for k, v := range ref.Link {
			merged[k] = v
		}
		for k, v := range a.Link {
			merged[k] = v
		}
		a.Link = merged
	}
	return a, nil
}

// Find correlates with the find operation: the one item whose match
// attributes equal the given ones.
func (c *Conn) Find(ctx context.Context, attrs model.Attributes) (connector.Account, error) {
	o, err := c.op(opFind)
	if err != nil {
		return connector.Account{}, err
	}
	resp, err := c.call(ctx, o, map[string]any{"account": attrMap(attrs)})
	if err != nil {
		if connector.KindOf(err) == connector.NotFound {
			return connector.Account{}, connector.Errorf(connector.NotFound, "rest find: no account matches %s", searched(o, attrs))
		}
		return connector.Account{}, err
	}
	doc, err := parse(o, resp)
	if err != nil {
		return connector.Account{}, err
	}
	var found []connector.Account
	for _, it := range o.read.itemsOf(doc) {
		a := o.read.account(it, c.attrs)
		if a.NativeID != "" && matches(a, attrs, o.match) {
			found = append(found, a)
		}
	}
	switch len(found) {
	case 0:
		return connector.Account{}, connector.Errorf(connector.NotFound, "rest find: no account matches %s", searched(o, attrs))
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, a := range found {
		ids[i] = a.NativeID
	}
	return connector.Account{}, connector.Errorf(connector.Conflict, "rest find: %d accounts match (%s); correlation needs exactly one", len(found), strings.Join(ids, ", "))
}

// searched says what find looked for: the match attributes and their
// values, else the request it sent.
func searched(o *op, attrs model.Attributes) string {
	if len(o.match) == 0 {
		return "(the find operation's request)"
	}
	parts := make([]string, len(o.match))
	for i, n := range o.match {
		parts[i] = n + "=" + model.FormatValue(attrs[n])
	}
	return strings.Join(parts, ", ")
}

func matches(a connector.Account, want model.Attributes, names []string) bool {
	for _, n := range names {
		if !strings.EqualFold(model.FormatValue(a.Attributes[n]), model.FormatValue(want[n])) {
			return false
		}
	}
	return true
}

// Update sends the changed attributes: {{ changes }} holds only them,
// {{ account }} the known attributes with the changes applied.
func (c *Conn) Update(ctx context.Context, ref connector.AccountRef, changes model.Attributes) error {
	if len(changes) == 0 {
		return nil
	}
	o, err := c.op(opUpdate)
	if err != nil {
		return err
	}
	vals := refValues(ref)
	acct := vals["account"].(map[string]any)
	for k, v := range changes {
		acct[k] = v
	}
	vals["changes"] = attrMap(changes)
	_, err = c.call(ctx, o, vals)
	return err
}

// Enable sends the enable operation.
func (c *Conn) Enable(ctx context.Context, ref connector.AccountRef) error {
	return c.simple(ctx, opEnable, ref)
}

// Disable sends the disable operation.
func (c *Conn) Disable(ctx context.Context, ref connector.AccountRef) error {
	return c.simple(ctx, opDisable, ref)
}

// Delete sends the delete operation. An answer its missing rule matches
// (404 or 410 by default) is kind not_found, which the engine treats as
// done.
func (c *Conn) Delete(ctx context.Context, ref connector.AccountRef) error {
	return c.simple(ctx, opDelete, ref)
}

func (c *Conn) simple(ctx context.Context, name string, ref connector.AccountRef) error {
	o, err := c.op(name)
	if err != nil {
		return err
	}
	_, err = c.call(ctx, o, refValues(ref))
	return err
}
