package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/source"
	"github.com/accord-iam/accord/internal/store"
)

func (s *Server) listPersons(rq *request) (int, any, error) {
	p, err := rq.params("after", "limit", "q")
	if err != nil {
		return 0, nil, err
	}
	limit := p.limit()
	if err := p.err(); err != nil {
		return 0, nil, err
	}
	ps, err := s.personsStore().ListPersons(rq.Context(), store.PersonQuery{After: p.str("after"), Limit: limit + 1, Match: p.str("q")})
	if err != nil {
		return 0, nil, err
	}
	views := make([]personView, len(ps))
	for i := range ps {
		views[i] = toPersonView(&ps[i])
	}
	return http.StatusOK, pageOf(rq, views, limit, "after", func(v personView) string { return v.Key }), nil
}

// personBody is a person record as sent to create or replace a person:
// the attributes are validated against the source's schema, as a feed
// line would be.
type personBody struct {
	Source     string         `json:"source"`
	Attributes map[string]any `json:"attributes"`
}

type endBody struct {
	// Date is the last day of employment, YYYY-MM-DD; default today.
	Date string `json:"date"`
}

func (s *Server) createPerson(rq *request) (int, any, error) {
	ctx := rq.Context()
	if _, err := rq.params(); err != nil {
		return 0, nil, err
	}
	var body personBody
	if err := decodeBody(rq.Request, &body, true); err != nil {
		return 0, nil, err
	}
	spec, err := s.sourceFor(body.Source)
	if err != nil {
		return 0, nil, err
	}
	p, err := parsePerson(spec, body.Attributes)
	if err != nil {
		return 0, nil, err
	}
	rq.note.person = p.Key
	switch old, err := s.personsStore().GetPerson(ctx, p.Key); {
	case err == nil:
		return 0, nil, conflictf("person %s exists already (source %s); replace it with PUT /api/v1/persons/%s", p.Key, old.Source, p.Key)
	case !errors.Is(err, store.ErrNotFound):
		return 0, nil, err
	}
	p.UpdatedAt = s.app.Now()
	if err := s.personsStore().PutPerson(ctx, p); err != nil {
		return 0, nil, err
	}
	status, res, err := s.afterPersonChange(ctx, rq, &p, spec, "created")
	if err == nil && status != http.StatusAccepted {
		status = http.StatusCreated
		rq.header.Set("Location", "/api/v1/persons/"+p.Key)
	}
	return status, res, err
}

func (s *Server) updatePerson(rq *request) (int, any, error) {
	ctx := rq.Context()
	key := rq.PathValue("key")
	rq.note.person = key
	if _, err := rq.params(); err != nil {
		return 0, nil, err
	}
	var body personBody
	if err := decodeBody(rq.Request, &body, true); err != nil {
		return 0, nil, err
	}
	old, err := s.personsStore().GetPerson(ctx, key)
	if err != nil {
		return 0, nil, err
	}
	if body.Source != "" && body.Source != old.Source {
		return 0, nil, conflictf("person %s belongs to source %s, not %s", key, old.Source, body.Source)
	}
	spec, err := s.sourceFor(old.Source)
	if err != nil {
		return 0, nil, conflictf("person %s belongs to source %s, which is no longer configured", key, old.Source)
	}
	if body.Attributes != nil {
		if _, ok := body.Attributes[spec.Key]; !ok {
			// The path names the person; the record need not repeat it.
			body.Attributes[spec.Key] = old.Attributes[spec.Key]
		}
	}
	p, err := parsePerson(spec, body.Attributes)
	if err != nil {
		return 0, nil, err
	}
	if p.Key != key {
		return 0, nil, invalid("attributes."+spec.Key, fmt.Sprintf("is %q but the path names person %s; a key cannot change over the API", p.Key, key))
	}
	// Whether the person is still in their feed is the feed's to say.
	p.MissingSince = old.MissingSince
	p.UpdatedAt = s.app.Now()
	if err := s.personsStore().PutPerson(ctx, p); err != nil {
		return 0, nil, err
	}
	return s.afterPersonChange(ctx, rq, &p, spec, "updated")
}

func (s *Server) endEmployment(rq *request) (int, any, error) {
	ctx := rq.Context()
	key := rq.PathValue("key")
	rq.note.person = key
	pp, err := rq.params("dry_run")
	if err != nil {
		return 0, nil, err
	}
	dry := pp.bool("dry_run")
	if err := pp.err(); err != nil {
		return 0, nil, err
	}
	var body endBody
	if err := decodeBody(rq.Request, &body, false); err != nil {
		return 0, nil, err
	}
	end := s.app.Today()
	if body.Date != "" {
		d, err := model.ParseDate(body.Date)
		if err != nil {
			return 0, nil, invalid("date", err.Error())
		}
		end = d
	}
	p, err := s.personsStore().GetPerson(ctx, key)
	if err != nil {
		return 0, nil, err
	}
	if !p.Start.IsZero() && end.Before(p.Start) {
		return 0, nil, invalid("date", fmt.Sprintf("%s is before the start of employment (%s)", end, p.Start))
	}
	spec, _ := s.sourceFor(p.Source)
	p.End = end
	if spec != nil && spec.End != "" {
		p.Attributes = p.Attributes.Clone()
		if p.Attributes == nil {
			p.Attributes = model.Attributes{}
		}
		p.Attributes[spec.End] = end
	}
	p.UpdatedAt = s.app.Now()
	if dry {
		return s.endWhatIf(ctx, rq, &p)
	}
	if err := s.personsStore().PutPerson(ctx, p); err != nil {
		return 0, nil, err
	}
	return s.afterPersonChange(ctx, rq, &p, spec, "employment ended "+end.String())
}

// afterPersonChange enforces for the person at once: a leaver is disabled
// within seconds, not at the next scheduled run.
func (s *Server) afterPersonChange(ctx context.Context, rq *request, p *model.Person, spec *source.Spec, what string) (int, *runResult, error) {
	pv := toPersonView(p)
	ev, err := s.app.Policy.Evaluate(p, s.app.Today())
	var status int
	var body any
	switch {
	case err != nil:
		res := &runResult{Problems: []string{err.Error()}, Message: "stored, but policy cannot be evaluated for this person: nothing enforced"}
		status, body, err = s.runAnswer(ctx, rq, nil, res)
	case ev.Excluded:
		res := &runResult{Excluded: []excludedView{{Person: p.Key, Reason: ev.Reason}},
			Message: "stored; the person is excluded (" + ev.Reason + "), so nothing is enforced"}
		status, body, err = s.runAnswer(ctx, rq, nil, res)
	default:
		for _, d := range ev.Accounts {
			if strings.HasPrefix(d.Reason, "leaver") {
				s.learned.set(p.Key, p.UpdatedAt)
				break
			}
		}
		status, body, err = s.enforce(ctx, rq, app.Filter{Person: p.Key})
	}
	if err != nil {
		return 0, nil, err
	}
	res := body.(*runResult)
	res.Person = &pv
	if spec != nil && spec.Path != "" {
		res.Warnings = append(res.Warnings, fmt.Sprintf("person %s belongs to source %s, which is imported from a file: its next import replaces this change unless the file agrees", p.Key, spec.Name))
	} else if spec != nil && spec.Format == "http" {
		res.Warnings = append(res.Warnings, fmt.Sprintf("person %s belongs to source %s, which is pulled from an HR API: its next full pull replaces this change unless the HR system agrees", p.Key, spec.Name))
	}
	rq.note.message = fmt.Sprintf("person %s %s; %s", p.Key, what, res.Message)
	if rq.header == nil {
		rq.header = http.Header{}
	}
	if status != http.StatusAccepted {
		status = http.StatusOK
	}
	return status, res, nil
}

// sourceFor picks the source a person belongs to: the one named, or the
// only one there is.
func (s *Server) sourceFor(name string) (*source.Spec, error) {
	srcs := s.app.Cfg.Sources
	names := make([]string, len(srcs))
	for i := range srcs {
		names[i] = srcs[i].Name
		if srcs[i].Name == name {
			return &srcs[i], nil
		}
	}
	switch {
	case name != "":
		return nil, invalid("source", fmt.Sprintf("no source named %q (sources: %s)", name, strings.Join(names, ", ")))
	case len(srcs) == 1:
		return &srcs[0], nil
	case len(srcs) == 0:
		return nil, conflictf("no source is configured: persons cannot be created")
	default:
		return nil, invalid("source", "several sources are configured; name one ("+strings.Join(names, ", ")+")")
	}
}

// parsePerson validates a record against the source schema, reporting
// every field problem at once.
func parsePerson(spec *source.Spec, attrs map[string]any) (model.Person, error) {
	if attrs == nil {
		return model.Person{}, invalid("attributes", "required: the person's record, by column name")
	}
	p, probs := spec.ParseRecord(attrs)
	if len(probs) == 0 {
		return p, nil
	}
	fields := make([]FieldError, len(probs))
	msgs := make([]string, len(probs))
	for i, q := range probs {
		f := "attributes"
		if q.Field != "" {
			f += "." + q.Field
		}
		fields[i] = FieldError{Field: f, Reason: q.Reason}
		msgs[i] = f + ": " + q.Reason
	}
	return p, &Error{Status: http.StatusBadRequest, Code: CodeValidation,
		Message: fmt.Sprintf("the person record does not fit source %s: %s", spec.Name, strings.Join(msgs, "; ")),
		Details: map[string]any{"fields": fields}}
}
