package targetsim

import "net/http"

// serveCheckMember answers 204 when the user is a member of the group and
// 404 in words when not: the one-membership read some APIs offer instead
// of listing a user's groups.
func (r *REST) serveCheckMember(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := r.group(req)
	if err != nil {
		writeRESTError(w, err)
		return
	}
	uid := req.PathValue("uid")
	if _, ok := g.members[uid]; !ok {
		writeRESTError(w, restErr(http.StatusNotFound, "user %s is not a member of group %q", uid, g.id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
