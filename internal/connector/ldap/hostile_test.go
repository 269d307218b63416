package ldap_test

import (
	"context"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/testkit"
)

// hostile are login names that break a DN or a filter built by
// concatenation.
var hostile = []string{
	"a,b", "x+y", `"quoted"`, `back\slash`, "#hash", " lead", "trail ", "semi;colon", "<angle>", "eq=ual",
	"*", "st*r", "(paren)", "ann)(uid=*", "Zoë Müller", "日本語", "  both  ", "nul\x00byte", "tab\tand\nnewline",
}

func TestHostileValuesLandInTheRightDNAndNeverWidenAFilter(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	ctx := context.Background()
	c := open(t, d.settings())
	// ann exists, so a widened filter would find her.
	annAcc, err := c.Create(ctx, connector.CreateRequest{Attributes: ann()})
	require.NoError(t, err)

	ids := map[string]string{}
	for i, v := range hostile {
		attrs := ann()
		attrs["uid"] = v
		attrs["ou"] = "R&D, Europe + " + v // a hostile OU too, made by create_parents
		attrs["employeeNumber"] = "H" + string(rune('a'+i))
		a, err := c.Create(ctx, connector.CreateRequest{Attributes: attrs})
		require.NoError(t, err, "create uid %q", v)
		dn, err := goldap.ParseDN(a.Link["dn"])
		require.NoError(t, err)
		require.Len(t, dn.RDNs, 5, "uid %q: %s", v, a.Link["dn"])
		assert.Equal(t, "uid", dn.RDNs[0].Attributes[0].Type)
		assert.Equal(t, v, dn.RDNs[0].Attributes[0].Value, "the RDN holds the value as given")
		assert.Equal(t, attrs["ou"], dn.RDNs[1].Attributes[0].Value)
		assert.Equal(t, v, d.entry(t, a.Link["dn"], "uid").GetAttributeValue("uid"))
		ids[v] = a.NativeID
	}
	for _, v := range hostile {
		found, err := c.Find(ctx, model.Attributes{"uid": v})
		require.NoError(t, err, "find uid %q", v)
		assert.Equal(t, ids[v], found.NativeID, "find uid %q gives that account and no other", v)
	}
	// A value that looks like a filter matches nothing, never everyone.
	for _, v := range []string{"an*", "*)(objectClass=*", "ann)(|(uid=*", `\2a`, "nul"} {
		_, err := c.Find(ctx, model.Attributes{"uid": v})
		assert.Equal(t, connector.NotFound, connector.KindOf(err), "find uid %q: %v", v, err)
	}
	got, err := c.Find(ctx, model.Attributes{"uid": "ann"})
	require.NoError(t, err)
	assert.Equal(t, annAcc.NativeID, got.NativeID)

}
