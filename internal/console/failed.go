package console

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/accord-iam/accord/internal/api"
)

// failedLimit bounds the failed actions read for one page of groups.
const failedLimit = 500

type failedGroup struct {
	Target string
	Reason string
	IDs    string // space-separated, for "retry all of the group"
	Items  []api.ActionView
}

type failedView struct {
	Groups   []failedGroup
	Total    int
	More     bool
	Target   string
	Targets  []string
	CanRetry bool
}

// reasonOf is the target's own message for a failed action, else accord's.
func reasonOf(a *api.ActionView) string {
	if a.Error == nil {
		return "(no error recorded)"
	}
	if a.Error.Reason != "" {
		return a.Error.Reason
	}
	return a.Error.Message
}

// listFailed groups failed actions by target and by reason.
func (c *Console) listFailed(rq *Request) error {
	target := rq.URL.Query().Get("target")
	p := url.Values{"state": {"failed"}, "limit": {strconv.Itoa(failedLimit)}}
	if target != "" {
		p.Set("target", target)
	}
	var page listPage[api.ActionView]
	if err := rq.Get("/api/v1/actions?"+p.Encode(), &page); err != nil {
		return err
	}
	var ts struct {
		Targets []api.TargetView `json:"targets"`
	}
	if err := rq.Get("/api/v1/targets", &ts); err != nil {
		return err
	}
	v := failedView{Total: len(page.Items), More: page.Next != "", Target: target}
	for _, t := range ts.Targets {
		v.Targets = append(v.Targets, t.Name)
	}
	idx := map[[2]string]int{}
	for i := range page.Items {
		a := &page.Items[i]
		k := [2]string{a.Target, reasonOf(a)}
		j, ok := idx[k]
		if !ok {
			j = len(v.Groups)
			idx[k] = j
			v.Groups = append(v.Groups, failedGroup{Target: k[0], Reason: k[1]})
		}
		g := &v.Groups[j]
		g.Items = append(g.Items, *a)
		g.IDs = strings.TrimSpace(g.IDs + " " + strconv.FormatInt(a.ID, 10))
	}
	slices.SortStableFunc(v.Groups, func(a, b failedGroup) int {
		if c := strings.Compare(a.Target, b.Target); c != 0 {
			return c
		}
		return len(b.Items) - len(a.Items)
	})
	if len(page.Items) > 0 {
		v.CanRetry = rq.Can("POST", fmt.Sprintf("/api/v1/actions/%d/retry", page.Items[0].ID))
	}
	return rq.Render("Failed actions", v)
}

// retryFailed retries the actions chosen (one, a selection, or a whole
// group), each through the API's retry.
func (c *Console) retryFailed(rq *Request) error {
	var ids []int64
	for _, f := range append(rq.PostForm["id"], strings.Fields(rq.PostFormValue("ids"))...) {
		id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil || id <= 0 {
			return &apiFailure{Status: 400, Message: fmt.Sprintf("action %q: action IDs are positive whole numbers", f)}
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return &apiFailure{Status: 400, Message: "No action was chosen: tick the actions to retry, or use a group's Retry all."}
	}
	var done []string
	for _, id := range ids {
		if err := rq.Post(fmt.Sprintf("/api/v1/actions/%d/retry", id), nil, nil); err != nil {
			if len(done) == 0 {
				return err
			}
			msg := fmt.Sprintf("Retry of action %d refused: %s", id, err.Error())
			if len(done) > 0 {
				msg += fmt.Sprintf(" (queued again before it: %s)", strings.Join(done, ", "))
			}
			return rq.Redirect("/failed", msg)
		}
		done = append(done, strconv.FormatInt(id, 10))
	}
	return rq.Redirect("/failed", fmt.Sprintf("Queued again: %d action(s) (%s).", len(done), strings.Join(done, ", ")))
}
