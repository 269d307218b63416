package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/recon"
)

// Drift by class with converge, and the access report with its CSV: each
// reads the API's report route (the CSV is the API's export, passed on).

type classCount struct {
	Class string
	Count int
}

type driftView struct {
	Target, Class, Person string
	All                   bool
	Offset                int
	Targets               []string
	Classes               []classCount
	Total                 int
	Items                 []recon.DriftItem
	Next                  string
	// Converge lists the targets the key may reconcile.
	Converge []string
}

// filters reads the report filters of the page's link.
func reportFilters(rq *Request, names ...string) (url.Values, int, error) {
	q := rq.URL.Query()
	p := url.Values{}
	for _, n := range names {
		setIf(p, n, strings.TrimSpace(q.Get(n)))
	}
	off := 0
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, 0, &apiFailure{Status: 400, Message: fmt.Sprintf("offset=%q: a page starts at a whole number of rows, 0 or more.", s)}
		}
		off = n
		p.Set("offset", s)
	}
	return p, off, nil
}

func (c *Console) targetNames(rq *Request) ([]string, error) {
	var d struct {
		Targets []struct {
			Name string `json:"name"`
		} `json:"targets"`
	}
	if err := rq.Get("/api/v1/targets", &d); err != nil {
		return nil, err
	}
	var out []string
	for _, t := range d.Targets {
		out = append(out, t.Name)
	}
	return out, nil
}

func (c *Console) listDrift(rq *Request) error {
	p, off, err := reportFilters(rq, "target", "class", "person", "all")
	if err != nil {
		return err
	}
	v := driftView{Target: p.Get("target"), Class: p.Get("class"), Person: p.Get("person"), All: p.Get("all") == "true", Offset: off}
	if v.Targets, err = c.targetNames(rq); err != nil {
		return err
	}
	p.Set("limit", fmt.Sprint(pageSize))
	var d struct {
		Items  []recon.DriftItem `json:"items"`
		Next   string            `json:"next"`
		Counts map[string]int    `json:"counts"`
		Total  int               `json:"total"`
	}
	if err := rq.Get("/api/v1/drift?"+p.Encode(), &d); err != nil {
		return err
	}
	v.Items, v.Total, v.Next = d.Items, d.Total, cursor(d.Next, "offset")
	for _, cl := range config.DriftClasses {
		v.Classes = append(v.Classes, classCount{Class: cl, Count: d.Counts[cl]})
	}
	for _, t := range v.Targets {
		if rq.Can("POST", "/api/v1/targets/"+url.PathEscape(t)+"/reconcile") {
			v.Converge = append(v.Converge, t)
		}
	}
	return rq.Render("Drift", v)
}

// passCSV answers an API CSV export as the page's own download.
func passCSV(rq *Request, path string) error {
	a := rq.C.api.Invoke(rq.Context(), rq.Key, rq.Request, http.MethodGet, path, nil)
	if a.Status >= 300 {
		return failureOf(a)
	}
	h := rq.W.Header()
	h.Set("Content-Type", a.Header.Get("Content-Type"))
	if cd := a.Header.Get("Content-Disposition"); cd != "" {
		h.Set("Content-Disposition", cd)
	}
	h.Set("Cache-Control", "no-store")
	rq.W.WriteHeader(a.Status)
	_, _ = rq.W.Write(a.Body)
	return nil
}

func (c *Console) driftCSV(rq *Request) error {
	p, _, err := reportFilters(rq, "target", "class", "person", "all")
	if err != nil {
		return err
	}
	p.Del("offset")
	p.Set("format", "csv")
	return passCSV(rq, "/api/v1/drift?"+p.Encode())
}

type convergeView struct {
	Target string
	Counts []classCount
	Total  int
}

// confirmConverge says what converging does before it is started.
func (c *Console) confirmConverge(rq *Request) error {
	t := rq.PathValue("target")
	if !rq.Can("POST", "/api/v1/targets/"+url.PathEscape(t)+"/reconcile") {
		return &apiFailure{Status: 403, Message: fmt.Sprintf("Your key %q may not reconcile targets (it has %s).", rq.Key.Name, strings.Join(rq.Key.Scopes, ", "))}
	}
	var d struct {
		Counts map[string]int `json:"counts"`
		Total  int            `json:"total"`
	}
	if err := rq.Get("/api/v1/drift?limit=1&target="+url.QueryEscape(t), &d); err != nil {
		return err
	}
	v := convergeView{Target: t, Total: d.Total}
	for _, cl := range config.DriftClasses {
		if d.Counts[cl] > 0 {
			v.Counts = append(v.Counts, classCount{Class: cl, Count: d.Counts[cl]})
		}
	}
	return rq.Render("Converge "+t, v)
}

// converge starts a reconciliation of the target, which converges each
// drift class as the target's reconcile policy says: the API's route.
func (c *Console) converge(rq *Request) error {
	t := rq.PathValue("target")
	var d struct {
		Reconciliation struct {
			ID string `json:"id"`
		} `json:"reconciliation"`
		Message string `json:"message"`
	}
	if err := rq.Post("/api/v1/targets/"+url.PathEscape(t)+"/reconcile", nil, &d); err != nil {
		return err
	}
	msg := fmt.Sprintf("Reconciliation %s of %s started: the target is read again and drift converged as its reconcile policy says. %s",
		d.Reconciliation.ID, t, d.Message)
	return rq.Redirect("/drift?target="+url.QueryEscape(t), msg)
}

type accessView struct {
	Person, Target string
	Offset         int
	Targets        []string
	Rows           []recon.AccessRow
	Next           string
}

func (c *Console) accessReport(rq *Request) error {
	p, off, err := reportFilters(rq, "person", "target")
	if err != nil {
		return err
	}
	v := accessView{Person: p.Get("person"), Target: p.Get("target"), Offset: off}
	if v.Targets, err = c.targetNames(rq); err != nil {
		return err
	}
	p.Set("limit", fmt.Sprint(pageSize))
	var page listPage[recon.AccessRow]
	if err := rq.Get("/api/v1/reports/access?"+p.Encode(), &page); err != nil {
		return err
	}
	v.Rows, v.Next = page.Items, cursor(page.Next, "offset")
	return rq.Render("Access report", v)
}

func (c *Console) accessCSV(rq *Request) error {
	p, _, err := reportFilters(rq, "person", "target")
	if err != nil {
		return err
	}
	p.Del("offset")
	p.Set("format", "csv")
	return passCSV(rq, "/api/v1/reports/access?"+p.Encode())
}
