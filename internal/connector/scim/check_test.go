package scim_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/targetsim"
)

func TestCheckAttributesAgainstDeclaredSchema(t *testing.T) {
	_, c := simConn(t, targetsim.Options{}, nil)
	ctx := context.Background()
	good := model.Attributes{"userName": "ada@example.com", "displayName": "Ada", "name.givenName": "Ada",
		`emails[type eq "work"].value`:                                              "ada@example.com",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "E1"}
	require.Empty(t, c.CheckAttributes(ctx, true, good))

	bad := model.Attributes{"displayName": int64(7), "name": "Ada", "nickName": true, "favouriteColour": "blue"}
	got := map[string]string{}
	for _, p := range c.CheckAttributes(ctx, true, bad) {
		got[p.Attribute] = p.Message
	}
	require.Equal(t, map[string]string{
		"displayName":     "the target declares a string, the mapping gives an integer",
		"name":            "the target declares a complex attribute here; map its sub-attributes (e.g. name.value)",
		"nickName":        "the target declares a string, the mapping gives a boolean",
		"favouriteColour": "the target's /Schemas does not declare this attribute",
		"userName":        "the target requires it on create, and the account mapping does not set it",
	}, got)
	// On update, what is not changed need not be there.
	for _, p := range c.CheckAttributes(ctx, false, model.Attributes{"displayName": "Ada"}) {
		t.Errorf("unexpected problem %+v", p)
	}
	var _ connector.AttributeChecker = c
}
