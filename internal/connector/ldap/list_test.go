package ldap_test

import (
	"context"
	"fmt"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/ldap"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/recon"
	"github.com/accord-iam/accord/internal/testkit"
)

var _ recon.DeltaLister = (*ldap.Conn)(nil)

// listAll pages through a listing, counting the pages.
func listAll(t *testing.T, list func(cursor string) (connector.Page[connector.Account], string, error)) (ids []string, mark string, pages int) {
	t.Helper()
	cursor := ""
	for {
		p, m, err := list(cursor)
		require.NoError(t, err)
		pages++
		for _, a := range p.Items {
			ids = append(ids, a.NativeID)
		}
		if p.Next == "" {
			return ids, m, pages
		}
		require.NotEqual(t, cursor, p.Next)
		cursor = p.Next
	}
}

func TestListPagesAndReadsDeltas(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	ctx := context.Background()
	c := open(t, d.settings("page_size: 3", "leaver: move", "leavers_base: ou=leavers,"+d.Suffix))
	var refs []connector.AccountRef
	for i := range 10 {
		attrs := ann()
		attrs["uid"] = fmt.Sprintf("user%02d", i)
		a, err := c.Create(ctx, connector.CreateRequest{Attributes: attrs})
		require.NoError(t, err)
		refs = append(refs, connector.AccountRef{NativeID: a.NativeID, Attributes: attrs})
	}
	// Two leavers: listed from leavers_base, outside base.
	require.NoError(t, c.Disable(ctx, refs[0]))
	require.NoError(t, c.Disable(ctx, refs[1]))

	ids, mark, pages := listAll(t, func(cur string) (connector.Page[connector.Account], string, error) {
		return c.ListAccountsChanged(ctx, "", cur)
	})
	assert.Len(t, ids, 10)
	seen := map[string]bool{}
	for _, id := range ids {
		assert.False(t, seen[id], "listed twice: %s", id)
		seen[id] = true
	}
	assert.GreaterOrEqual(t, pages, 4, "page_size 3 pages")
	require.NotEmpty(t, mark)

	// Nothing changed: only the entry at the watermark itself.
	ids, again, _ := listAll(t, func(cur string) (connector.Page[connector.Account], string, error) {
		return c.ListAccountsChanged(ctx, mark, cur)
	})
	assert.LessOrEqual(t, len(ids), 1)
	assert.Equal(t, mark, again)

	// Three changes: an attribute, a membership (memberOf changes the
	// account), a rename.
	require.NoError(t, c.Update(ctx, refs[3], model.Attributes{"sn": "Changed"}))
	require.NoError(t, c.Grant(ctx, refs[4], []string{"cn=vpn,ou=groups," + d.Suffix}))
	require.NoError(t, c.Update(ctx, refs[5], model.Attributes{"uid": "renamed"}))
	ids, next, _ := listAll(t, func(cur string) (connector.Page[connector.Account], string, error) {
		return c.ListAccountsChanged(ctx, mark, cur)
	})
	changed := map[string]bool{refs[3].NativeID: true, refs[4].NativeID: true, refs[5].NativeID: true}
	var got int
	for _, id := range ids {
		if changed[id] {
			got++
		}
	}
	assert.Equal(t, 3, got, "every changed account is read")
	assert.LessOrEqual(t, len(ids), 4, "and at most the watermark's own entry besides")
	assert.Greater(t, next, mark)
}

func TestListingCursorSurvivesNothingButRestartsCleanly(t *testing.T) {
	d := startDir(t, testkit.SlapdOptions{})
	ctx := context.Background()
	c := open(t, d.settings("page_size: 2"))
	for i := range 5 {
		attrs := ann()
		attrs["uid"] = fmt.Sprintf("u%d", i)
		_, err := c.Create(ctx, connector.CreateRequest{Attributes: attrs})
		require.NoError(t, err)
	}
	p, err := c.ListAccounts(ctx, "")
	require.NoError(t, err)
	require.Len(t, p.Items, 2)
	require.NotEmpty(t, p.Next)
	// Another process (or this one restarted) does not know the cursor:
	// the listing starts again, whole.
	c2 := open(t, d.settings("page_size: 2"))
	ids, _, _ := listAll(t, func(cur string) (connector.Page[connector.Account], string, error) {
		if cur == "" {
			cur = p.Next
		}
		pg, err := c2.ListAccounts(ctx, cur)
		return pg, "", err
	})
	assert.Len(t, ids, 5)
	// The server's paged results are the connector's, always: a server
	// size limit below the directory's size does not cut the listing.
	_ = goldap.ControlTypePaging
}
