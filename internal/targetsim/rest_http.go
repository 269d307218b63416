package targetsim

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
)

func (r *REST) mount(mux *http.ServeMux) {
	inner := http.NewServeMux()
	p := restPrefix
	inner.HandleFunc("POST "+p+"/session", r.serveLogin)
	inner.HandleFunc("DELETE "+p+"/session", r.serveLogout)
	inner.HandleFunc("POST "+p+"/oauth/token", r.serveToken)
	inner.HandleFunc("GET "+p+"/users", r.serveListUsers)
	inner.HandleFunc("POST "+p+"/users", r.serveCreateUser)
	inner.HandleFunc("GET "+p+"/users/{id}", r.withUser(r.serveGetUser))
	inner.HandleFunc("PUT "+p+"/users/{id}", r.withUser(r.serveUpdateUser))
	inner.HandleFunc("PATCH "+p+"/users/{id}", r.withUser(r.serveUpdateUser))
	inner.HandleFunc("DELETE "+p+"/users/{id}", r.withUser(r.serveDeleteUser))
	inner.HandleFunc("POST "+p+"/users/{id}/groups", r.withUser(r.serveUserGroups))
	inner.HandleFunc("GET "+p+"/usergroups", r.serveListGroups)
	inner.HandleFunc("POST "+p+"/usergroups", r.serveCreateGroup)
	inner.HandleFunc("GET "+p+"/usergroups/{id}", r.serveGetGroup)
	inner.HandleFunc("GET "+p+"/usergroups/{id}/members", r.serveListMembers)
	inner.HandleFunc("POST "+p+"/usergroups/{id}/members", r.serveMembers)
	inner.HandleFunc("DELETE "+p+"/usergroups/{id}/members/{uid}", r.serveRemoveMember)
	inner.HandleFunc("GET "+p+"/usergroups/{id}/members/{uid}", r.serveCheckMember)
	inner.HandleFunc(p+"/", func(w http.ResponseWriter, req *http.Request) {
		writeRESTError(w, restErr(http.StatusNotFound, "no such endpoint %s %s", req.Method, req.URL.EscapedPath()))
	})
	mux.HandleFunc(p+"/", func(w http.ResponseWriter, req *http.Request) {
		r.record(req)
		if !r.public(req) && !r.authorized(req) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="targetsim"`)
			writeRESTError(w, restErr(http.StatusUnauthorized, "not authenticated"))
			return
		}
		inner.ServeHTTP(w, req)
	})
}

// record keeps the path as sent, within the request log's limits.
func (r *REST) record(req *http.Request) {
	o := r.sim.opts
	if o.DisableLog {
		return
	}
	r.mu.Lock()
	r.calls = append(r.calls, RESTCall{Method: req.Method, RawPath: req.URL.EscapedPath(), RawQuery: req.URL.RawQuery})
	if o.LogLimit > 0 && len(r.calls) >= 2*o.LogLimit {
		r.calls = slices.Clone(r.calls[len(r.calls)-o.LogLimit:])
	}
	r.mu.Unlock()
}

func writeRESTError(w http.ResponseWriter, err error) {
	st := http.StatusInternalServerError
	msg := err.Error()
	if e, ok := err.(*errStatus); ok {
		st = e.status
	}
	writeJSON(w, st, map[string]string{"message": msg})
}

// readObject decodes a JSON object body.
func readObject(req *http.Request) (map[string]any, error) {
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(requestBody(req)))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, restErr(http.StatusBadRequest, "the body must be a JSON object")
	}
	return obj, nil
}

func stringList(v any) ([]string, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, v == nil
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func (r *REST) serveCreateUser(w http.ResponseWriter, req *http.Request) {
	obj, err := readObject(req)
	if err != nil {
		writeRESTError(w, err)
		return
	}
	groups, ok := stringList(obj["groups"])
	if !ok {
		writeRESTError(w, restErr(http.StatusBadRequest, "groups must be a list of group ids"))
		return
	}
	delete(obj, "groups")
	r.mu.Lock()
	u, err := r.createUser(obj, groups)
	var out map[string]any
	if err == nil {
		out = u.render()
	}
	r.mu.Unlock()
	if err != nil {
		writeRESTError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

// withUser finds the user named by {id} or answers 404.
func (r *REST) withUser(h func(http.ResponseWriter, *http.Request, *restUser)) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		u, ok := r.users[req.PathValue("id")]
		r.mu.Unlock()
		if !ok {
			writeRESTError(w, restErr(http.StatusNotFound, "no user %q", req.PathValue("id")))
			return
		}
		h(w, req, u)
	}
}

func (r *REST) serveGetUser(w http.ResponseWriter, _ *http.Request, u *restUser) {
	r.mu.Lock()
	out := u.render()
	r.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (r *REST) serveUpdateUser(w http.ResponseWriter, req *http.Request, u *restUser) {
	obj, err := readObject(req)
	if err != nil {
		writeRESTError(w, err)
		return
	}
	r.mu.Lock()
	if r.users[u.id] != u {
		err = restErr(http.StatusNotFound, "no user %q", u.id)
	} else {
		err = r.updateUser(u, obj)
	}
	out := u.render()
	r.mu.Unlock()
	if err != nil {
		writeRESTError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (r *REST) serveDeleteUser(w http.ResponseWriter, _ *http.Request, u *restUser) {
	r.mu.Lock()
	gone := r.users[u.id] != u
	if !gone {
		r.deleteUser(u)
	}
	r.mu.Unlock()
	if gone {
		writeRESTError(w, restErr(http.StatusNotFound, "no user %q", u.id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveUserGroups is the batch form: several groups of one user in one
// request, idempotent (a member added again is no error).
func (r *REST) serveUserGroups(w http.ResponseWriter, req *http.Request, u *restUser) {
	obj, err := readObject(req)
	if err != nil {
		writeRESTError(w, err)
		return
	}
	ids, ok := stringList(obj["groups"])
	if !ok || len(ids) == 0 {
		writeRESTError(w, restErr(http.StatusBadRequest, "groups must be a non-empty list of group ids"))
		return
	}
	op, _ := obj["op"].(string)
	if op != "add" && op != "remove" {
		writeRESTError(w, restErr(http.StatusBadRequest, `op must be "add" or "remove"`))
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var missing []string
	for _, id := range ids {
		if r.groups[id] == nil {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		writeRESTError(w, restErr(http.StatusNotFound, "no groups %s", strings.Join(missing, ", ")))
		return
	}
	for _, id := range ids {
		if op == "add" {
			r.link(u, r.groups[id])
		} else {
			r.unlink(u, r.groups[id])
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (g *restGroup) render() map[string]any {
	return map[string]any{"id": g.id, "name": g.name, "type": "user_group"}
}

func (r *REST) serveCreateGroup(w http.ResponseWriter, req *http.Request) {
	obj, err := readObject(req)
	if err != nil {
		writeRESTError(w, err)
		return
	}
	name, _ := obj["name"].(string)
	if strings.TrimSpace(name) == "" {
		writeRESTError(w, restErr(http.StatusBadRequest, "name is required"))
		return
	}
	id, _ := obj["id"].(string) // a client may choose the id, as some APIs allow
	r.mu.Lock()
	g, err := r.addGroup(id, name)
	r.mu.Unlock()
	if err != nil {
		writeRESTError(w, restErr(http.StatusConflict, "%v", err))
		return
	}
	writeJSON(w, http.StatusCreated, g.render())
}

func (r *REST) group(req *http.Request) (*restGroup, error) {
	g, ok := r.groups[req.PathValue("id")]
	if !ok {
		return nil, restErr(http.StatusNotFound, "no group %q", req.PathValue("id"))
	}
	return g, nil
}

func (r *REST) serveGetGroup(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	g, err := r.group(req)
	var out map[string]any
	if err == nil {
		out = g.render()
	}
	r.mu.Unlock()
	if err != nil {
		writeRESTError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (r *REST) serveListMembers(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	g, err := r.group(req)
	var out []map[string]any
	if err == nil {
		out = []map[string]any{}
		for _, id := range slices.Sorted(maps.Keys(g.members)) {
			out = append(out, map[string]any{"id": id, "type": "user"})
		}
	}
	r.mu.Unlock()
	if err != nil {
		writeRESTError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": out})
}

// serveMembers is the per-group membership call, JumpCloud's
// {"op": "add", "type": "user", "id": …}; op defaults to add.
func (r *REST) serveMembers(w http.ResponseWriter, req *http.Request) {
	obj, err := readObject(req)
	if err != nil {
		writeRESTError(w, err)
		return
	}
	op, _ := obj["op"].(string)
	if op == "" {
		op = "add"
	}
	typ, _ := obj["type"].(string)
	uid, _ := obj["id"].(string)
	switch {
	case op != "add" && op != "remove":
		err = restErr(http.StatusBadRequest, `op must be "add" or "remove"`)
	case typ != "" && typ != "user":
		err = restErr(http.StatusBadRequest, `type must be "user"`)
	case uid == "":
		err = restErr(http.StatusBadRequest, "id (the user's id) is required")
	}
	if err != nil {
		writeRESTError(w, err)
		return
	}
	r.mu.Lock()
	err = r.member(req, op, uid)
	r.mu.Unlock()
	if err != nil {
		writeRESTError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *REST) serveRemoveMember(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	err := r.member(req, "remove", req.PathValue("uid"))
	r.mu.Unlock()
	if err != nil {
		writeRESTError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// member adds or removes one member. Must hold r.mu.
func (r *REST) member(req *http.Request, op, uid string) error {
	g, err := r.group(req)
	if err != nil {
		return err
	}
	u, ok := r.users[uid]
	if !ok {
		return restErr(http.StatusNotFound, "no user %q", uid)
	}
	_, member := g.members[uid]
	switch {
	case op == "add" && member:
		return restErr(http.StatusConflict, "Already Exists: user %s is a member of group %q", uid, g.id)
	case op == "add":
		r.link(u, g)
	case !member:
		return restErr(http.StatusNotFound, "user %s is not a member of group %q", uid, g.id)
	default:
		r.unlink(u, g)
	}
	return nil
}
