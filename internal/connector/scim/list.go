package scim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/accord-iam/accord/internal/connector"
)

// listPage is one page of a ListResponse.
type listPage struct {
	items []resource
	total int // -1 if not reported
}

// list GETs one page of a listing or search.
func (c *Conn) list(ctx context.Context, endpoint string, q url.Values) (listPage, error) {
	resp, err := c.do(ctx, http.MethodGet, endpoint+"?"+q.Encode(), nil, nil)
	if err != nil {
		return listPage{}, err
	}
	r, err := decodeResource(resp.Body)
	if err != nil {
		return listPage{}, connector.Errorf(connector.Unknown, "scim: %v", err)
	}
	p := listPage{total: -1}
	if _, v, ok := lookup(r, "totalResults"); ok {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				p.total = int(i)
			}
		}
	}
	_, v, _ := lookup(r, "Resources")
	list, _ := v.([]any)
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			p.items = append(p.items, m)
		}
	}
	return p, nil
}

// pageQuery builds startIndex/count paging from an opaque cursor, which
// is the next startIndex.
func (c *Conn) pageQuery(cursor string) (url.Values, int, error) {
	start := 1
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 1 {
			return nil, 0, connector.Errorf(connector.Validation, "scim: bad cursor %q", cursor)
		}
		start = n
	}
	return url.Values{"startIndex": {strconv.Itoa(start)}, "count": {strconv.Itoa(c.set.PageSize)}}, start, nil
}

// next is the cursor after a page that started at start. Paging stops on
// an empty page or past totalResults: some targets answer a startIndex
// beyond the end with the first page again.
func next(start int, p listPage) string {
	n := start + len(p.items)
	if len(p.items) == 0 || (p.total >= 0 && n > p.total) {
		return ""
	}
	return strconv.Itoa(n)
}

// ListAccounts pages through all Users.
func (c *Conn) ListAccounts(ctx context.Context, cursor string) (connector.Page[connector.Account], error) {
	users, _, err := c.usersURL(ctx)
	if err != nil {
		return connector.Page[connector.Account]{}, err
	}
	return listing(ctx, c, users, cursor, func(r resource) (connector.Account, error) { return c.account(ctx, r) })
}

// listing reads the page of endpoint at cursor, converting each resource.
func listing[T any](ctx context.Context, c *Conn, endpoint, cursor string, conv func(resource) (T, error)) (connector.Page[T], error) {
	q, start, err := c.pageQuery(cursor)
	if err != nil {
		return connector.Page[T]{}, err
	}
	p, err := c.list(ctx, endpoint, q)
	if err != nil {
		return connector.Page[T]{}, err
	}
	out := connector.Page[T]{Next: next(start, p), Total: p.total}
	for _, r := range p.items {
		x, err := conv(r)
		if err != nil {
			return connector.Page[T]{}, err
		}
		out.Items = append(out.Items, x)
	}
	return out, nil
}
