package rest

import (
	"context"
	"strconv"
	"strings"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/httpx"
)

// ListAccounts reads one page of accounts. cursor is "" for the first
// page, then what the last page gave as Next.
func (c *Conn) ListAccounts(ctx context.Context, cursor string) (connector.Page[connector.Account], error) {
	return list(ctx, c, opListAccounts, cursor, func(o *op, it any) (connector.Account, string) {
		a := o.read.account(it, c.attrs)
		return a, a.NativeID
	})
}

// ListEntitlements reads one page of entitlements.
func (c *Conn) ListEntitlements(ctx context.Context, cursor string) (connector.Page[connector.Entitlement], error) {
	return list(ctx, c, opListEntitlements, cursor, func(o *op, it any) (connector.Entitlement, string) {
		e := connector.Entitlement{ID: text(o.read.id.First(it)), DisplayName: text(o.read.name.First(it))}
		if o.read.members != nil {
			e.Members = idsOf(o.read.members.Get(it))
		}
		return e, e.ID
	})
}

// list reads one page of a list operation; read turns an item into T
// and tells its id, without which an item is useless.
func list[T any](ctx context.Context, c *Conn, name, cursor string, read func(*op, any) (T, string)) (connector.Page[T], error) {
	out := connector.Page[T]{Total: -1}
	o, err := c.op(name)
	if err != nil {
		return out, err
	}
	items, next, total, err := c.page(ctx, o, cursor)
	if err != nil {
		return out, err
	}
	out.Next, out.Total = next, total
	for _, it := range items {
		v, id := read(o, it)
		if id == "" {
			return out, connector.Errorf(connector.Unknown, "rest %s: an item has no id at %s", name, o.read.id.String())
		}
		out.Items = append(out.Items, v)
	}
	return out, nil
}

// position is where a listing stands, encoded in the opaque cursor the
// caller stores: p:<page>, o:<offset>, c:<target cursor> or u:<next URL>.
type position struct {
	page, offset int
	cursor, next string
}

func (c *Conn) decode(pg *paging, cursor string) (position, error) {
	pos := position{page: pg.start}
	if cursor == "" {
		return pos, nil
	}
	kind, v, _ := strings.Cut(cursor, ":")
	var err error
	switch kind {
	case "p":
		pos.page, err = strconv.Atoi(v)
		pos.offset = (pos.page - pg.start) * pg.size
	case "o":
		pos.offset, err = strconv.Atoi(v)
	case "c":
		pos.cursor = v
	case "u":
		pos.next = v
	default:
		err = strconv.ErrSyntax
	}
	if err != nil {
		return pos, connector.Errorf(connector.Validation, "rest: %q is not a cursor this connector gave", cursor)
	}
	return pos, nil
}

// page fetches one page and works out the next.
func (c *Conn) page(ctx context.Context, o *op, cursor string) ([]any, string, int, error) {
	pg := o.paging
	pos, err := c.decode(pg, cursor)
	if err != nil {
		return nil, "", -1, err
	}
	vals := map[string]any{"limit": pg.size, "page": pos.page, "offset": pos.offset, "cursor": pos.cursor}
	resp, err := c.callURL(ctx, o, vals, pos.next)
	if err != nil {
		return nil, "", -1, err
	}
	doc, err := parse(o, resp)
	if err != nil {
		return nil, "", -1, err
	}
	items := o.read.itemsOf(doc)
	total := -1
	if o.read.total != nil {
		if n, err := strconv.Atoi(text(o.read.total.First(doc))); err == nil {
			total = n
		}
	}
	n := len(items)
	// Without a total, a short page ends the listing: set response.total
	// for a target that caps pages below paging.size.
	last := n == 0 || (total >= 0 && pos.offset+n >= total) || (total < 0 && n < pg.size)
	next := ""
	switch pg.style {
	case pageNumber:
		if !last {
			next = "p:" + strconv.Itoa(pos.page+1)
		}
	case pageOffset:
		if !last {
			next = "o:" + strconv.Itoa(pos.offset+n)
		}
	case pageCursor:
		if cur := text(pg.cursor.First(doc)); cur != "" && n > 0 {
			next = "c:" + cur
		}
	case pageLink, pageNext:
		link := ""
		if pg.style == pageLink {
			link = httpx.NextLink(resp.Header)
		} else {
			link = text(pg.next.First(doc))
		}
		if link != "" && n > 0 {
			abs, err := resp.SameOrigin(link, c.keyQuery)
			if err != nil {
				return nil, "", -1, err
			}
			next = "u:" + abs
		}
	}
	return items, next, total, nil
}
