package console

import (
	"net/url"
	"time"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/daemon"
	"github.com/accord-iam/accord/internal/pace"
)

// targetRow is a target's line of the overview: its health as
// /api/v1/health answers it (decoded into the type the API answers with,
// the daemon's, so the two cannot drift apart), with its pacing beside it.
type targetRow struct {
	daemon.TargetHealth
	Pace    pace.Status
	Running bool
	Paused  bool
	// CanResume: the key may resume it (the button shows only then).
	CanResume bool
}

type overviewView struct {
	Status   string
	Healthy  float64
	Incident float64
	Targets  []targetRow
	Runs     []api.RunView
	Held     []api.RunView
	Alerts   []string
	// FailedActions: some action failed and was not retried.
	FailedActions bool
}

func (c *Console) overview(rq *Request) error {
	var h daemon.HealthView
	if err := rq.Get("/api/v1/health", &h); err != nil {
		return err
	}
	var ts struct {
		Targets []api.TargetView `json:"targets"`
	}
	if err := rq.Get("/api/v1/targets", &ts); err != nil {
		return err
	}
	var runs struct {
		Items []api.RunView `json:"items"`
	}
	if err := rq.Get("/api/v1/runs?limit=10", &runs); err != nil {
		return err
	}
	var held struct {
		Items []api.RunView `json:"items"`
	}
	if err := rq.Get("/api/v1/runs?state=held&limit=20", &held); err != nil {
		return err
	}
	byName := map[string]api.TargetView{}
	for _, t := range ts.Targets {
		byName[t.Name] = t
	}
	v := overviewView{Status: h.Status, Healthy: h.Thresholds.Healthy, Incident: h.Thresholds.Incident, Runs: runs.Items, Held: held.Items}
	for _, th := range h.Targets {
		tv := byName[th.Target]
		row := targetRow{TargetHealth: th, Pace: tv.Status, Running: tv.Running,
			Paused:    !tv.PausedUntil.IsZero() || th.Circuit != "closed",
			CanResume: rq.Can("POST", "/api/v1/targets/"+url.PathEscape(th.Target)+"/resume")}
		v.Targets = append(v.Targets, row)
		if th.Status != daemon.StatusHealthy {
			v.Alerts = append(v.Alerts, th.Target+" is "+th.Status+": "+th.Reason)
		}
		if !tv.PausedUntil.IsZero() {
			v.Alerts = append(v.Alerts, th.Target+" is paused until "+tv.PausedUntil.UTC().Format(time.RFC3339)+": "+tv.PauseReason)
		}
	}
	for _, r := range held.Items {
		v.Alerts = append(v.Alerts, "run "+r.ID+" is held for approval")
	}
	var failed listPage[api.ActionView]
	if err := rq.Get("/api/v1/actions?state=failed&limit=1", &failed); err != nil {
		return err
	}
	if len(failed.Items) > 0 {
		v.FailedActions = true
		v.Alerts = append(v.Alerts, "failed actions wait for a decision: retry them once their cause is fixed")
	}
	return rq.Render("Overview", v)
}

// resumeTarget ends a target's pause or open circuit: the API's resume.
func (c *Console) resumeTarget(rq *Request) error {
	name := rq.PathValue("target")
	var out struct {
		Message string `json:"message"`
	}
	if err := rq.Post("/api/v1/targets/"+url.PathEscape(name)+"/resume", nil, &out); err != nil {
		return err
	}
	return rq.Redirect("/", out.Message)
}
