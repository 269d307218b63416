package rest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/ohler55/ojg/oj"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/connector/httpx"
	"github.com/accord-iam/accord/internal/model"
)

// parse reads a JSON answer; an empty one is nil.
func parse(o *op, resp *httpx.Response) (any, error) {
	if len(bytes.TrimSpace(resp.Body)) == 0 {
		return nil, nil
	}
	doc, err := oj.Parse(resp.Body)
	if err != nil {
		e := connector.Errorf(connector.Unknown, "rest %s: %s %s answered %d with a body that is not JSON: %v", o.name, resp.Method, resp.URL, resp.Status, err)
		e.Status = resp.Status
		return nil, e
	}
	return doc, nil
}

// items are the list items of an answer: what items selects, else the
// answer itself when it is an array, else the answer as the one item.
func (r *reader) itemsOf(doc any) []any {
	switch {
	case doc == nil:
		return nil
	case r.items != nil:
		return r.items.Get(doc)
	}
	if list, ok := doc.([]any); ok {
		return list
	}
	return []any{doc}
}

// value turns a JSON value into an attribute value.
func value(v any) any {
	switch x := v.(type) {
	case nil, string, bool, int64, float64:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, model.FormatValue(value(e)))
		}
		return out
	case map[string]any:
		b, _ := json.Marshal(x) // keys sorted: the same object reads the same
		return string(b)
	}
	return model.FormatValue(v)
}

func text(v any) string {
	if v == nil {
		return ""
	}
	return model.FormatValue(value(v))
}

// account reads one account from an item. names are the account
// mapping's: what is read when attributes are not configured.
func (r *reader) account(item any, names []string) connector.Account {
	a := connector.Account{Attributes: model.Attributes{}, Active: true}
	if r.id != nil {
		a.NativeID = text(r.id.First(item))
	}
	if r.attrs != nil {
		for name, x := range r.attrs {
			if v, ok := x.FirstFound(item); ok {
				a.Attributes[name] = value(v)
			}
		}
	} else if obj, ok := item.(map[string]any); ok {
		for _, name := range names {
			if v, ok := obj[name]; ok {
				a.Attributes[name] = value(v)
			}
		}
	}
	if r.active != nil {
		if v, ok := r.active.FirstFound(item); ok {
			a.Active = strings.EqualFold(text(v), model.FormatValue(r.equals))
		}
	}
	if r.ents != nil {
		a.Entitlements = idsOf(r.ents.Get(item))
	}
	if len(r.link) > 0 {
		a.Link = map[string]string{}
		for name, x := range r.link {
			if v, ok := x.FirstFound(item); ok && v != nil {
				a.Link[name] = text(v)
			}
		}
	}
	return a
}

// idsOf makes a sorted set of ids, never nil: read, but empty.
func idsOf(vs []any) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, v := range vs {
		s := text(v)
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// locationID is the last segment of a Location header, for targets that
// answer a create with 201 and no body.
func locationID(h http.Header) string {
	loc := h.Get("Location")
	if loc == "" {
		return ""
	}
	u, err := url.Parse(loc)
	if err != nil {
		return ""
	}
	id := path.Base(strings.TrimRight(u.Path, "/"))
	if id == "." || id == "/" {
		return ""
	}
	return id
}
