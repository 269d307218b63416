package ldap_test

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/testkit"
)

func ann() model.Attributes {
	return model.Attributes{"uid": "ann", "cn": "Ann Lee", "sn": "Lee", "givenName": "Ann",
		"mail": []string{"ann@example.test", "a.lee@example.test"}, "ou": "Sales", "employeeNumber": "E1"}
}

func TestCreateGetFindUpdateDelete(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	c := open(t, d.settings())
	ctx := context.Background()

	a, err := c.Create(ctx, connector.CreateRequest{PersonKey: "E1", Attributes: ann()})
	require.NoError(t, err)
	dn := "uid=ann,ou=Sales,ou=people," + d.Suffix
	assert.Equal(t, dn, a.Link["dn"])
	assert.Len(t, a.NativeID, 36)
	assert.True(t, a.Active)
	assert.Equal(t, []string{"ann@example.test", "a.lee@example.test"}, a.Attributes["mail"])
	e := d.entry(t, dn, "objectClass", "cn")
	require.NotNil(t, e)
	assert.Equal(t, "Ann Lee", e.GetAttributeValue("cn"))

	ref := connector.AccountRef{NativeID: a.NativeID, Attributes: ann()}
	got, err := c.Get(ctx, ref)
	require.NoError(t, err)
	assert.Equal(t, a.Attributes, got.Attributes)
	assert.Equal(t, []string{}, got.Entitlements)

	found, err := c.Find(ctx, model.Attributes{"uid": "ann"})
	require.NoError(t, err)
	assert.Equal(t, a.NativeID, found.NativeID)
	_, err = c.Find(ctx, model.Attributes{"uid": "nobody"})
	assert.Equal(t, connector.NotFound, connector.KindOf(err))

	// Update: one attribute replaced, one mail added and one removed.
	require.NoError(t, c.Update(ctx, ref, model.Attributes{"sn": "Lee-Smith", "mail": []string{"ann@example.test", "ann.lee@example.test"}}))
	got, err = c.Get(ctx, ref)
	require.NoError(t, err)
	assert.Equal(t, "Lee-Smith", got.Attributes["sn"])
	assert.ElementsMatch(t, []string{"ann@example.test", "ann.lee@example.test"}, got.Attributes["mail"])

	// Mover: a new department moves the entry to another OU (modrdn with
	// a new superior), and a new uid renames it; entryUUID stays.
	ref.Attributes = ann()
	require.NoError(t, c.Update(ctx, ref, model.Attributes{"ou": "Engineering", "uid": "ann.lee"}))
	assert.Nil(t, d.entry(t, dn))
	moved := "uid=ann.lee,ou=Engineering,ou=people," + d.Suffix
	e = d.entry(t, moved, "uid", "ou")
	require.NotNil(t, e)
	assert.Equal(t, []string{"ann.lee"}, e.GetAttributeValues("uid"), "the old RDN value is removed")
	got, err = c.Get(ctx, ref)
	require.NoError(t, err)
	assert.Equal(t, moved, got.Link["dn"])
	assert.Equal(t, a.NativeID, got.NativeID)

	// A department without an OU yet: create_parents makes it.
	ref.Attributes = got.Attributes
	require.NoError(t, c.Update(ctx, ref, model.Attributes{"ou": "Finance"}))
	require.NotNil(t, d.entry(t, "uid=ann.lee,ou=Finance,ou=people,"+d.Suffix))

	// Knowing only the change, the DN is rendered from the entry's values:
	// nothing moves.
	require.NoError(t, c.Update(ctx, connector.AccountRef{NativeID: a.NativeID}, model.Attributes{"givenName": "Annie"}))
	got, err = c.Get(ctx, ref)
	require.NoError(t, err)
	assert.Equal(t, "Annie", got.Attributes["givenName"])
	assert.Equal(t, "uid=ann.lee,ou=Finance,ou=people,"+d.Suffix, got.Link["dn"])

	require.NoError(t, c.Delete(ctx, ref))
	_, err = c.Get(ctx, ref)
	assert.Equal(t, connector.NotFound, connector.KindOf(err))
	require.NoError(t, c.Delete(ctx, ref), "deleting what is gone is done")
}

func TestBinaryAttributesAreBase64InAccordAndBytesOnTheWire(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	c := open(t, d.settings())
	ctx := context.Background()
	raw := []byte{0xff, 0xd8, 0x00, 0x01, 0x80, '\n', 0xfe}
	attrs := ann()
	attrs["jpegPhoto"] = base64.StdEncoding.EncodeToString(raw)
	a, err := c.Create(ctx, connector.CreateRequest{Attributes: attrs})
	require.NoError(t, err)
	e := d.entry(t, a.Link["dn"], "jpegPhoto")
	assert.Equal(t, raw, e.GetRawAttributeValue("jpegPhoto"), "the bytes, not their base64")
	assert.Equal(t, attrs["jpegPhoto"], a.Attributes["jpegPhoto"])

	ref := connector.AccountRef{NativeID: a.NativeID, Attributes: attrs}
	require.NoError(t, c.Update(ctx, ref, model.Attributes{"jpegPhoto": base64.StdEncoding.EncodeToString([]byte{1, 2, 3})}))
	assert.Equal(t, []byte{1, 2, 3}, d.entry(t, a.Link["dn"], "jpegPhoto").GetRawAttributeValue("jpegPhoto"))

	err = c.Update(ctx, ref, model.Attributes{"jpegPhoto": "not base64!", "ou": "Engineering"})
	assert.Equal(t, connector.Validation, connector.KindOf(err))
	assert.Contains(t, err.Error(), "jpegPhoto")
	assert.Equal(t, []byte{1, 2, 3}, d.entry(t, a.Link["dn"], "jpegPhoto").GetRawAttributeValue("jpegPhoto"), "bad input changes nothing")
	assert.NotNil(t, d.entry(t, a.Link["dn"]), "not even the move")
}
