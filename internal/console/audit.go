package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// auditRecord is an audit record as /api/v1/audit answers it. Secrets
// were redacted before the record was written; the console shows what
// the API gives.
type auditRecord struct {
	ID              int64             `json:"id"`
	Time            time.Time         `json:"time"`
	Kind            string            `json:"kind"`
	RunID           string            `json:"run_id"`
	ActionID        int64             `json:"action_id"`
	Attempt         int               `json:"attempt"`
	Person          string            `json:"person"`
	Target          string            `json:"target"`
	Operation       string            `json:"operation"`
	Actor           string            `json:"actor"`
	Method          string            `json:"method"`
	URL             string            `json:"url"`
	RequestHeaders  map[string]string `json:"request_headers"`
	RequestBody     string            `json:"request_body"`
	Status          int               `json:"status"`
	ResponseExcerpt string            `json:"response_excerpt"`
	DurationMS      int64             `json:"duration_ms"`
	Outcome         string            `json:"outcome"`
	ErrorKind       string            `json:"error_kind"`
	Message         string            `json:"message"`
}

// auditRow is a record with what a row shows: its correlation ID (the
// value sent to targets: run, or run/action) and sorted headers.
type auditRow struct {
	auditRecord
	Correlation string
	Headers     []string
	HasDetail   bool
}

func auditRows(recs []auditRecord) []auditRow {
	out := make([]auditRow, len(recs))
	for i, r := range recs {
		row := auditRow{auditRecord: r, Correlation: r.RunID}
		if r.RunID != "" && r.ActionID != 0 {
			row.Correlation = r.RunID + "/" + strconv.FormatInt(r.ActionID, 10)
		}
		for k, v := range r.RequestHeaders {
			row.Headers = append(row.Headers, k+": "+v)
		}
		sort.Strings(row.Headers)
		row.HasDetail = len(row.Headers) > 0 || r.RequestBody != "" || r.ResponseExcerpt != ""
		out[i] = row
	}
	return out
}

// The audit search takes one query line: field:value terms and free text.
// A term that looks like a correlation ID (RUN/ACTION) finds that action.
var auditFields = []string{"person", "target", "run", "action", "actor", "outcome", "kind", "since", "until"}

var correlationID = regexp.MustCompile(`^([A-Za-z0-9._:-]+)/([0-9]+)$`)

// parseAuditQuery turns the query line into the API's parameters, or
// says which term it cannot read.
func parseAuditQuery(line string) (url.Values, error) {
	p := url.Values{}
	var text []string
	for _, term := range strings.Fields(line) {
		if m := correlationID.FindStringSubmatch(term); m != nil && !strings.Contains(term, ":") {
			p.Set("run", m[1])
			p.Set("action", m[2])
			continue
		}
		name, val, ok := strings.Cut(term, ":")
		if !ok || !slices.Contains(auditFields, name) {
			text = append(text, term)
			continue
		}
		if val == "" {
			return nil, fmt.Errorf("the term %q has no value: write %s:VALUE", term, name)
		}
		if name == "action" {
			if n, err := strconv.ParseInt(val, 10, 64); err != nil || n <= 0 {
				return nil, fmt.Errorf("action:%s: an action ID is a positive whole number", val)
			}
		}
		if p.Has(name) && name != "kind" {
			return nil, fmt.Errorf("%s: is given twice", name)
		}
		p.Add(name, val)
	}
	if len(text) > 0 {
		p.Set("q", strings.Join(text, " "))
	}
	return p, nil
}

type auditView struct {
	Q       string
	Before  string
	Records []auditRow
	Next    string
	Problem string
	Fields  []string
}

// searchAudit: the audit trail newest first, filtered by the query line,
// paged by a keyset cursor so a deep page costs what the first does; the
// query and the page are in the link.
func (c *Console) searchAudit(rq *Request) error {
	q := rq.URL.Query()
	v := auditView{Q: strings.TrimSpace(q.Get("q")), Before: q.Get("before"), Fields: auditFields}
	p, err := parseAuditQuery(v.Q)
	if err != nil {
		return v.refuse(rq, err.Error())
	}
	if v.Before != "" {
		if n, err := strconv.ParseInt(v.Before, 10, 64); err != nil || n <= 0 {
			return &apiFailure{Status: 400, Message: fmt.Sprintf("before=%q: the cursor is a record ID, a positive whole number.", v.Before)}
		}
		p.Set("before", v.Before)
	}
	p.Set("order", "newest")
	p.Set("limit", fmt.Sprint(pageSize))
	var page listPage[auditRecord]
	if err := rq.Get("/api/v1/audit?"+p.Encode(), &page); err != nil {
		var af *apiFailure
		if errors.As(err, &af) && af.Status == http.StatusBadRequest {
			// A value the API cannot read (since:yesterday): the page
			// stays, with the query to correct.
			return v.refuse(rq, af.Message)
		}
		return err
	}
	v.Records, v.Next = auditRows(page.Items), cursor(page.Next, "before")
	return rq.Render("Audit", v)
}

// refuse shows the search page with the query and what is wrong with it.
func (v *auditView) refuse(rq *Request, problem string) error {
	v.Problem = problem
	rq.C.render(rq.W, rq.Request, rq, http.StatusBadRequest, rq.Page.Template, "Audit", v)
	return nil
}
