package rest

import (
	"context"
	"slices"
	"strings"

	"github.com/accord-iam/accord/internal/connector"
)

// Grant renders the grant operation for each entitlement, or for each
// batch of them: nine groups are nine requests to nine URLs. An answer
// the exists rule matches ("already a member", 409 by default) counts as
// done once a read-back, where get reads entitlements, confirms it.
func (c *Conn) Grant(ctx context.Context, ref connector.AccountRef, entitlements []string) error {
	already, err := c.members(ctx, opGrant, ref, entitlements, connector.Conflict)
	if err != nil || len(already) == 0 {
		return err
	}
	return c.confirm(ctx, ref, already)
}

// Revoke renders the revoke operation like Grant. An answer the missing
// rule matches (404 or 410 by default) is done: not a member any more.
func (c *Conn) Revoke(ctx context.Context, ref connector.AccountRef, entitlements []string) error {
	_, err := c.members(ctx, opRevoke, ref, entitlements, connector.NotFound)
	return err
}

// members sends one operation per entitlement or per batch, in order,
// and returns those the target said were already so. It stops at the
// first failure: the engine repeats the whole call, and what was done
// then answers "already so".
func (c *Conn) members(ctx context.Context, name string, ref connector.AccountRef, ents []string, alreadyKind connector.Kind) ([]string, error) {
	o, err := c.op(name)
	if err != nil || len(ents) == 0 {
		return nil, err
	}
	var already []string
	send := func(vals map[string]any, which []string) error {
		_, err := c.call(ctx, o, vals)
		if err != nil && connector.KindOf(err) == alreadyKind {
			already = append(already, which...)
			return nil
		}
		return err
	}
	if o.batch > 1 {
		for chunk := range slices.Chunk(ents, o.batch) {
			vals := refValues(ref)
			vals["entitlements"] = slices.Clone(chunk)
			if err := send(vals, chunk); err != nil {
				return already, err
			}
		}
		return already, nil
	}
	for _, e := range ents {
		vals := refValues(ref)
		vals["entitlement"] = e
		if err := send(vals, []string{e}); err != nil {
			return already, err
		}
	}
	return already, nil
}

// confirm reads the account back to check that entitlements the target
// called "already granted" really are: a 409 that means something else
// must not pass for done. Without a get that reads entitlements, the
// exists rule is taken at its word.
func (c *Conn) confirm(ctx context.Context, ref connector.AccountRef, already []string) error {
	g := c.cp.ops[opGet]
	if g == nil || g.read.ents == nil {
		return nil
	}
	a, err := c.Get(ctx, ref)
	if err != nil {
		return err
	}
	var missing []string
	for _, e := range already {
		if !slices.Contains(a.Entitlements, e) {
			missing = append(missing, e)
		}
	}
	if len(missing) > 0 {
		return connector.Errorf(connector.Unverified, "rest grant: the target answered that %s was already granted, but reading the account back does not show it", strings.Join(missing, ", "))
	}
	return nil
}
