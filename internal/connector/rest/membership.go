package rest

import (
	"context"

	"github.com/accord-iam/accord/internal/connector"
)

// IsMember asks the check_member operation whether the account is a
// member of entitlement: a 2xx says it is, an answer its missing rule
// matches (404 by default) that it is not. Without the operation the
// membership cannot be read where get does not show it (unsupported).
func (c *Conn) IsMember(ctx context.Context, ref connector.AccountRef, entitlement string) (bool, error) {
	o, err := c.op(opCheckMember)
	if err != nil {
		return false, err
	}
	vals := refValues(ref)
	vals["entitlement"] = entitlement
	if _, err := c.call(ctx, o, vals); err != nil {
		if connector.KindOf(err) == connector.NotFound {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// CreateEntitlement creates a missing entitlement with the
// create_entitlement operation. An answer its exists rule matches (409 by
// default) is kind conflict: it is there already.
func (c *Conn) CreateEntitlement(ctx context.Context, entitlement string) error {
	o, err := c.op(opCreateEntitlement)
	if err != nil {
		return err
	}
	_, err = c.call(ctx, o, map[string]any{"entitlement": entitlement})
	return err
}
