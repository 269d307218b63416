package ldap

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/accord-iam/accord/internal/connector"
)

// A listing holds the connection a paged search runs on: a paged-results
// cookie is only good on the connection that got it.
type listing struct {
	conn   *goldap.Conn
	req    *goldap.SearchRequest
	paging *goldap.ControlPaging
	used   time.Time
	queue  []*goldap.SearchRequest
	// mark is the largest delta attribute value seen so far.
	mark string
}

// listingIdle is how long an unfinished listing keeps its connection.
const listingIdle = 10 * time.Minute

// ListAccounts implements connector.Connector with the paged-results
// control (RFC 2696), page_size entries a page. The cursor names a
// listing held open on its own connection; a cursor this process does not
// know (after a restart, or idle too long) starts the listing again.
func (c *Conn) ListAccounts(ctx context.Context, cursor string) (connector.Page[connector.Account], error) {
	page, _, err := c.listAccounts(ctx, "", cursor)
	return page, err
}

// ListAccountsChanged lists, paged like ListAccounts, the accounts whose
// delta attribute (OpenLDAP: entryCSN) is at or after since ("":
// every account); on the last page watermark is the largest value seen,
// or since when nothing changed. It makes the connector a
// recon.DeltaLister.
func (c *Conn) ListAccountsChanged(ctx context.Context, since, cursor string) (connector.Page[connector.Account], string, error) {
	return c.listAccounts(ctx, since, cursor)
}

func (c *Conn) listAccounts(ctx context.Context, since, cursor string) (connector.Page[connector.Account], string, error) {
	var out connector.Page[connector.Account]
	filter := c.set.Filter
	if since != "" {
		filter = "(&" + c.set.Filter + c.flavour.DeltaFilter(since) + ")"
	}
	es, next, mark, err := c.page(ctx, cursor, "accounts", since, func() []*goldap.SearchRequest {
		var reqs []*goldap.SearchRequest
		for _, b := range c.searchBases() {
			reqs = append(reqs, goldap.NewSearchRequest(b, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
				filter, c.readAttributes(), nil))
		}
		return reqs
	})
	if err != nil {
		return out, "", err
	}
	out.Total = -1
	out.Next = next
	if since != "" && next == "" {
		// memberOf changes do not touch the account's entryCSN: the
		// current members of groups changed since are read too.
		more, groupMark, err := c.membersOfChangedGroups(ctx, since, es)
		if err != nil {
			return out, "", err
		}
		es = append(es, more...)
		if groupMark > mark {
			mark = groupMark
		}
	}
	for _, e := range es {
		a, err := c.withGroups(ctx, c.toAccount(e))
		if err != nil {
			return out, "", err
		}
		out.Items = append(out.Items, a)
	}
	return out, mark, nil
}

// membersOfChangedGroups reads the accounts that are members of groups
// changed at or after since, other than those in have, and the largest
// delta value of those groups. A member removed from a group by someone
// else is not among them: such a change is seen at the next full
// reconciliation.
func (c *Conn) membersOfChangedGroups(ctx context.Context, since string, have []*goldap.Entry) ([]*goldap.Entry, string, error) {
	groups, err := c.Search(ctx, goldap.NewSearchRequest(c.set.Groups.Base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass="+EscapeFilter(c.set.Groups.ObjectClass)+")"+c.flavour.DeltaFilter(since)+")",
		[]string{c.set.Groups.MemberAttribute, c.flavour.DeltaAttribute()}, nil))
	if err != nil {
		if codeOf(err) == goldap.LDAPResultNoSuchObject {
			return nil, since, nil
		}
		return nil, "", err
	}
	seen := map[string]bool{}
	for _, e := range have {
		seen[strings.ToLower(e.DN)] = true
	}
	mark := since
	var out []*goldap.Entry
	for _, g := range groups {
		mark = c.flavour.Watermark(mark, g)
		for _, m := range g.GetEqualFoldAttributeValues(c.set.Groups.MemberAttribute) {
			key := strings.ToLower(m)
			if seen[key] || !c.isAccountDN(m) {
				continue
			}
			seen[key] = true
			// Read with the accounts filter: a group may list a group.
			es, err := c.Search(ctx, goldap.NewSearchRequest(m, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
				c.set.Filter, c.readAttributes(), nil))
			if codeOf(err) == goldap.LDAPResultNoSuchObject {
				continue
			}
			if err != nil {
				return nil, "", err
			}
			out = append(out, es...)
		}
	}
	return out, mark, nil
}

// isAccountDN reports whether dn is under one of the account bases.
func (c *Conn) isAccountDN(dn string) bool {
	for _, b := range c.searchBases() {
		if under(dn, b) && !sameDN(dn, b) {
			return true
		}
	}
	return false
}

// ListEntitlements implements connector.Connector: the groups under
// groups.base, paged.
func (c *Conn) ListEntitlements(ctx context.Context, cursor string) (connector.Page[connector.Entitlement], error) {
	var out connector.Page[connector.Entitlement]
	es, next, _, err := c.page(ctx, cursor, "groups", "", func() []*goldap.SearchRequest {
		return []*goldap.SearchRequest{goldap.NewSearchRequest(c.set.Groups.Base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
			"(objectClass="+EscapeFilter(c.set.Groups.ObjectClass)+")", c.groupAttributes(), nil)}
	})
	if err != nil {
		return out, err
	}
	out.Total = -1
	out.Next = next
	for _, e := range es {
		out.Items = append(out.Items, c.groupEntitlement(e))
	}
	return out, nil
}

// page reads the next page of a listing. A listing over several bases
// runs them one after the other; its cursor is "<id>" while one is open.
// mark is the largest delta attribute value the listing read (at least
// since), given with the last page.
func (c *Conn) page(ctx context.Context, cursor, what, since string, reqs func() []*goldap.SearchRequest) (es []*goldap.Entry, next, mark string, err error) {
	c.sweepListings()
	c.listMu.Lock()
	l := c.listings[cursor]
	delete(c.listings, cursor)
	c.listMu.Unlock()
	var queue []*goldap.SearchRequest
	if l == nil {
		if cursor != "" {
			c.log.Info("ldap: listing cursor unknown (restart or idle too long); listing again from the start", "what", what)
		}
		queue = reqs()
	} else {
		queue = l.queue
	}
	if l == nil {
		l = &listing{mark: since}
	}
	for {
		if l.conn == nil {
			if len(queue) == 0 {
				return nil, "", l.mark, nil
			}
			l.req, queue = queue[0], queue[1:]
			l.paging = goldap.NewControlPaging(uint32(c.set.PageSize))
			l.req.Controls = []goldap.Control{l.paging}
			if err := connector.GateFrom(ctx)(ctx); err != nil {
				return nil, "", "", connector.AsError(err)
			}
			conn, err := c.pool.dial()
			if err != nil {
				return nil, "", "", err
			}
			l.conn = conn
		} else if err := connector.GateFrom(ctx)(ctx); err != nil {
			c.keep(cursor, l, queue)
			return nil, "", "", connector.AsError(err)
		}
		stop := context.AfterFunc(ctx, func() { _ = l.conn.Close() })
		start := time.Now()
		res, err := l.conn.Search(l.req)
		cancelled := !stop()
		c.audit(ctx, "search", "list "+what+" under "+l.req.BaseDN+" for "+l.req.Filter, start, err)
		if err != nil {
			_ = l.conn.Close()
			if cancelled {
				err = ctx.Err()
			}
			if codeOf(err) == goldap.LDAPResultNoSuchObject {
				l.conn = nil
				continue // a base not made yet: nothing there
			}
			return nil, "", "", c.wrapError("search", "list "+what+" under "+l.req.BaseDN, err)
		}
		for _, e := range res.Entries {
			l.mark = c.flavour.Watermark(l.mark, e)
		}
		var cookie []byte
		if ctrl, ok := goldap.FindControl(res.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging); ok {
			cookie = ctrl.Cookie
		}
		if len(cookie) == 0 {
			_ = l.conn.Close()
			l.conn = nil
			if len(queue) == 0 {
				return res.Entries, "", l.mark, nil
			}
		} else {
			l.paging.SetCookie(cookie)
		}
		if len(res.Entries) == 0 && l.conn == nil {
			continue
		}
		id := newListingID()
		c.keep(id, l, queue)
		return res.Entries, id, "", nil
	}
}

func (c *Conn) keep(id string, l *listing, queue []*goldap.SearchRequest) {
	l.queue = queue
	l.used = time.Now()
	c.listMu.Lock()
	c.listings[id] = l
	c.listMu.Unlock()
}

// sweepListings closes listings left unfinished for listingIdle.
func (c *Conn) sweepListings() {
	c.listMu.Lock()
	defer c.listMu.Unlock()
	for id, l := range c.listings {
		if time.Since(l.used) > listingIdle {
			if l.conn != nil {
				_ = l.conn.Close()
			}
			delete(c.listings, id)
		}
	}
}

func newListingID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
