package console

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/model"
)

const pageSize = 50

// listPage is one page of an API list, and the cursor of the next.
type listPage[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}

// cursor is the value of param in the API's next-page URL ("" on the
// last page).
func cursor(next, param string) string {
	if next == "" {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil {
		return ""
	}
	return u.Query().Get(param)
}

var runStates = []string{"held", "pending", "running", "succeeded", "failed", "cancelled"}

type runsView struct {
	States []string
	State  string
	Runs   []api.RunView
	Next   string // the cursor of the next page
	First  bool
}

// listRuns: one page of runs, newest first, filtered by state; the
// filter and the page are in the link, so a link can be shared.
func (c *Console) listRuns(rq *Request) error {
	q := rq.URL.Query()
	state, before := q.Get("state"), q.Get("before")
	if state != "" && !slices.Contains(runStates, state) {
		return &apiFailure{Status: 400, Message: fmt.Sprintf("state %q is not one of %s", state, strings.Join(runStates, ", "))}
	}
	p := url.Values{"limit": {fmt.Sprint(pageSize)}}
	if state != "" {
		p.Set("state", state)
	}
	if before != "" {
		p.Set("before", before)
	}
	var page listPage[api.RunView]
	if err := rq.Get("/api/v1/runs?"+p.Encode(), &page); err != nil {
		return err
	}
	return rq.Render("Runs", runsView{States: runStates, State: state, Runs: page.Items, Next: cursor(page.Next, "before"), First: before == ""})
}

// opCount is how many actions of one operation a run has on one target.
type opCount struct {
	Target string
	Op     model.Op
	Count  int
}

type runView struct {
	Run api.RunView
	// Summary counts the listed actions of the run by target and
	// operation: all of them, unless the run has more than an answer
	// about a run lists (api.RunActionsShown; Partial).
	Summary []opCount
	// Listed is how many actions Summary counts, Total how many the run
	// has.
	Listed, Total int
	Partial       bool
	// Breaches say why a held run is held: which threshold, by how much.
	Breaches []breachView
	// Actions is one page of the run's actions, filtered.
	Actions   []api.ActionView
	Person    string
	Target    string
	Targets   []string
	Next      string
	After     string
	CanDecide bool
	Decision  string // on the confirmation page: approve or cancel
}

type breachView struct {
	model.Breach
	Over int
}

func (c *Console) runData(rq *Request) (*runView, error) {
	id := rq.PathValue("id")
	var d struct {
		Run         api.RunView      `json:"run"`
		Actions     []api.ActionView `json:"actions"`
		ActionsMore int              `json:"actions_more"`
	}
	if err := rq.Get("/api/v1/runs/"+url.PathEscape(id), &d); err != nil {
		return nil, err
	}
	v := &runView{Run: d.Run, Listed: len(d.Actions), Total: len(d.Actions) + d.ActionsMore, Partial: d.ActionsMore > 0}
	counts := map[[2]string]int{}
	targets := map[string]bool{}
	for _, a := range d.Actions {
		counts[[2]string{a.Target, string(a.Op)}]++
		targets[a.Target] = true
	}
	for k, n := range counts {
		v.Summary = append(v.Summary, opCount{Target: k[0], Op: model.Op(k[1]), Count: n})
	}
	slices.SortFunc(v.Summary, func(a, b opCount) int {
		if c := strings.Compare(a.Target, b.Target); c != 0 {
			return c
		}
		return strings.Compare(string(a.Op), string(b.Op))
	})
	for t := range targets {
		v.Targets = append(v.Targets, t)
	}
	slices.Sort(v.Targets)
	for _, b := range d.Run.Breaches {
		v.Breaches = append(v.Breaches, breachView{Breach: b, Over: b.Planned - b.Max})
	}
	v.CanDecide = d.Run.State == model.RunHeld && rq.Can("POST", "/api/v1/runs/"+url.PathEscape(id)+"/approve")
	return v, nil
}

// showRun: a run, why it is held, what it would do, and one page of its
// actions, searchable by person and target.
func (c *Console) showRun(rq *Request) error {
	v, err := c.runData(rq)
	if err != nil {
		return err
	}
	q := rq.URL.Query()
	v.Person, v.Target, v.After = strings.TrimSpace(q.Get("person")), q.Get("target"), q.Get("after")
	p := url.Values{"run": {v.Run.ID}, "limit": {fmt.Sprint(pageSize)}}
	for k, val := range map[string]string{"person": v.Person, "target": v.Target, "after": v.After} {
		if val != "" {
			p.Set(k, val)
		}
	}
	var page listPage[api.ActionView]
	if err := rq.Get("/api/v1/actions?"+p.Encode(), &page); err != nil {
		return err
	}
	v.Actions, v.Next = page.Items, cursor(page.Next, "after")
	return rq.Render("Run "+v.Run.ID, v)
}

func decision(rq *Request) (string, error) {
	d := rq.PathValue("decision")
	if d != "approve" && d != "cancel" {
		return "", &apiFailure{Status: 404, Message: fmt.Sprintf("There is no page %s: a run can be approved or cancelled.", rq.URL.Path)}
	}
	return d, nil
}

// confirmRun asks before approving or cancelling, repeating the numbers.
func (c *Console) confirmRun(rq *Request) error {
	d, err := decision(rq)
	if err != nil {
		return err
	}
	v, err := c.runData(rq)
	if err != nil {
		return err
	}
	v.Decision = d
	return rq.Render(strings.ToUpper(d[:1])+d[1:]+" run "+v.Run.ID, v)
}

// decideRun approves or cancels a held run: the API's approve or cancel.
func (c *Console) decideRun(rq *Request) error {
	d, err := decision(rq)
	if err != nil {
		return err
	}
	id := rq.PathValue("id")
	if err := rq.Post("/api/v1/runs/"+url.PathEscape(id)+"/"+d, nil, nil); err != nil {
		return err
	}
	msg := "Run " + id + " approved: it runs now."
	if d == "cancel" {
		msg = "Run " + id + " cancelled: none of its actions will run."
	}
	return rq.Redirect("/runs/"+url.PathEscape(id), msg)
}
