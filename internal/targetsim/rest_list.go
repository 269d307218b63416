package targetsim

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// restPage is where a list request starts and how it asked: the next
// page is offered in the same style (skip, page or cursor).
type restPage struct {
	style  string // "skip", "page" or "cursor"
	offset int
	limit  int
}

func (r *REST) pageOf(q url.Values) (restPage, error) {
	p := restPage{style: "cursor", limit: r.maxResults()}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return p, restErr(http.StatusBadRequest, "limit must be a positive number, not %q", v)
		}
		p.limit = min(n, r.maxResults())
	}
	num := func(key string, least int) (int, error) {
		n, err := strconv.Atoi(q.Get(key))
		if err != nil || n < least {
			return 0, restErr(http.StatusBadRequest, "%s must be a number of at least %d, not %q", key, least, q.Get(key))
		}
		return n, nil
	}
	var err error
	switch {
	case q.Has("skip"):
		p.style = "skip"
		p.offset, err = num("skip", 0)
	case q.Has("page"):
		p.style = "page"
		var n int
		n, err = num("page", 1)
		p.offset = (n - 1) * p.limit
	case q.Get("cursor") != "":
		b, derr := base64.RawURLEncoding.DecodeString(q.Get("cursor"))
		rest, ok := strings.CutPrefix(string(b), "o:")
		n, aerr := strconv.Atoi(rest)
		if derr != nil || !ok || aerr != nil || n < 0 {
			return p, restErr(http.StatusBadRequest, "cursor %q is not one this server gave", q.Get("cursor"))
		}
		p.offset = n
	}
	return p, err
}

// writePage answers one page of items, with the next page as a cursor,
// a link in the body and a Link header (RFC 8288).
func writePage(w http.ResponseWriter, req *http.Request, p restPage, items []map[string]any) {
	total := len(items)
	from := min(p.offset, total)
	to := min(from+p.limit, total)
	page := append([]map[string]any{}, items[from:to]...)
	out := map[string]any{"totalCount": total, "results": page}
	if to < total {
		q := req.URL.Query()
		q.Del("skip")
		q.Del("page")
		q.Del("cursor")
		q.Set("limit", strconv.Itoa(p.limit))
		switch p.style {
		case "skip":
			q.Set("skip", strconv.Itoa(to))
		case "page":
			q.Set("page", strconv.Itoa(to/p.limit+1))
		default:
			c := base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(to)))
			q.Set("cursor", c)
			out["nextCursor"] = c
		}
		next := req.URL.EscapedPath() + "?" + q.Encode()
		out["next"] = next
		w.Header().Set("Link", "<"+next+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, out)
}

func (r *REST) serveListUsers(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	p, err := r.pageOf(q)
	if err != nil {
		writeRESTError(w, err)
		return
	}
	r.mu.Lock()
	var items []map[string]any
	for _, id := range r.userOrder {
		u := r.users[id]
		if q.Has("username") && fold(u.attrs["username"].(string)) != fold(q.Get("username")) {
			continue
		}
		items = append(items, u.render())
	}
	r.mu.Unlock()
	writePage(w, req, p, items)
}

func (r *REST) serveListGroups(w http.ResponseWriter, req *http.Request) {
	p, err := r.pageOf(req.URL.Query())
	if err != nil {
		writeRESTError(w, err)
		return
	}
	r.mu.Lock()
	items := make([]map[string]any, 0, len(r.groupOrder))
	for _, id := range r.groupOrder {
		items = append(items, r.groups[id].render())
	}
	r.mu.Unlock()
	writePage(w, req, p, items)
}
