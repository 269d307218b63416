package ldap

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
}

// listingIdle is how long an unfinished listing keeps its connection.
const listingIdle = 10 * time.Minute

// ListAccounts implements connector.Connector with the paged-results
// control (RFC 2696), page_size entries a page. The cursor names a
// listing held open on its own connection; a cursor this process does not
// know (after a restart, or idle too long) starts the listing again.
func (c *Conn) ListAccounts(ctx context.Context, cursor string) (connector.Page[connector.Account], error) {
	var out connector.Page[connector.Account]
	es, next, err := c.page(ctx, cursor, "accounts", func() []*goldap.SearchRequest {
		var reqs []*goldap.SearchRequest
		for _, b := range c.searchBases() {
			reqs = append(reqs, goldap.NewSearchRequest(b, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
				c.set.Filter, c.readAttributes(), nil))
		}
		return reqs
	})
	if err != nil {
		return out, err
	}
	out.Total = -1
	out.Next = next
	for _, e := range es {
		a, err := c.withGroups(ctx, c.toAccount(e))
		if err != nil {
			return out, err
		}
		out.Items = append(out.Items, a)
	}
	return out, nil
}

// ListEntitlements implements connector.Connector: the groups under
// groups.base, paged.
func (c *Conn) ListEntitlements(ctx context.Context, cursor string) (connector.Page[connector.Entitlement], error) {
	var out connector.Page[connector.Entitlement]
	es, next, err := c.page(ctx, cursor, "groups", func() []*goldap.SearchRequest {
		return []*goldap.SearchRequest{goldap.NewSearchRequest(c.set.Groups.Base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
			"(objectClass="+EscapeFilter(c.set.Groups.ObjectClass)+")", []string{"cn"}, nil)}
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
func (c *Conn) page(ctx context.Context, cursor, what string, reqs func() []*goldap.SearchRequest) ([]*goldap.Entry, string, error) {
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
		l = &listing{}
	}
	for {
		if l.conn == nil {
			if len(queue) == 0 {
				return nil, "", nil
			}
			l.req, queue = queue[0], queue[1:]
			l.paging = goldap.NewControlPaging(uint32(c.set.PageSize))
			l.req.Controls = []goldap.Control{l.paging}
			if err := connector.GateFrom(ctx)(ctx); err != nil {
				return nil, "", connector.AsError(err)
			}
			conn, err := c.pool.dial()
			if err != nil {
				return nil, "", err
			}
			l.conn = conn
		} else if err := connector.GateFrom(ctx)(ctx); err != nil {
			c.keep(cursor, l, queue)
			return nil, "", connector.AsError(err)
		}
		stop := context.AfterFunc(ctx, func() { _ = l.conn.Close() })
		res, err := l.conn.Search(l.req)
		cancelled := !stop()
		if err != nil {
			_ = l.conn.Close()
			if cancelled {
				err = ctx.Err()
			}
			if codeOf(err) == goldap.LDAPResultNoSuchObject {
				l.conn = nil
				continue // a base not made yet: nothing there
			}
			return nil, "", c.wrapError("search", "list "+what+" under "+l.req.BaseDN, err)
		}
		var cookie []byte
		if ctrl, ok := goldap.FindControl(res.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging); ok {
			cookie = ctrl.Cookie
		}
		if len(cookie) == 0 {
			_ = l.conn.Close()
			l.conn = nil
			if len(queue) == 0 {
				return res.Entries, "", nil
			}
		} else {
			l.paging.SetCookie(cookie)
		}
		if len(res.Entries) == 0 && l.conn == nil {
			continue
		}
		id := newListingID()
		c.keep(id, l, queue)
		return res.Entries, id, nil
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
