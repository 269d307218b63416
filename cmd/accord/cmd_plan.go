package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/textsafe"
)

func (c *cli) planCmd() *cobra.Command {
	var f app.Filter
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "show what enforcement would do now (what-if); changes nothing",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			pv, err := a.Plan(cmd.Context(), f, f.Person != "")
			if err != nil {
				return fail(exitFailed, err)
			}
			if c.jsonOut {
				return json.NewEncoder(c.stdout).Encode(previewJSON(pv))
			}
			c.printPreview(pv, a.Today())
			return nil
		}),
	}
	cmd.Flags().StringVar(&f.Person, "person", "", "plan for one person (by key)")
	cmd.Flags().StringVar(&f.Target, "target", "", "plan for one target")
	cmd.Flags().BoolVar(&c.jsonOut, "json", false, "print the plan as JSON")
	return cmd
}

func previewJSON(pv *app.Preview) map[string]any {
	acts := []api.ActionView{}
	for i := range pv.Result.Jobs {
		for j := range pv.Result.Jobs[i].Actions {
			acts = append(acts, api.ToActionView(&pv.Result.Jobs[i].Actions[j]))
		}
	}
	problems := make([]string, len(pv.Result.Problems))
	for i, p := range pv.Result.Problems {
		problems[i] = p.Error()
	}
	busy := make([]map[string]string, len(pv.Result.Busy))
	for i, b := range pv.Result.Busy {
		busy[i] = map[string]string{"person": b.Person, "target": b.Target}
	}
	out := map[string]any{
		"actions":  acts,
		"summary":  plan.Count(pv.Result.Jobs),
		"excluded": pv.Result.Excluded,
		"problems": problems,
		"busy":     busy,
		"parked":   orEmptyParks(pv.Result.Parked),
		"breaches": pv.Breaches,
		"held":     len(pv.Breaches) > 0,
		"persons":  pv.Result.Persons,
	}
	if pv.Result.Desired != nil {
		out["desired"] = pv.Result.Desired
	}
	return out
}

func (c *cli) printPreview(pv *app.Preview, today model.Date) {
	w := c.stdout
	res := pv.Result
	fmt.Fprintf(w, "Plan for %s (what-if: nothing has been changed)\n", today)
	if len(res.Jobs) == 0 {
		fmt.Fprintln(w, "  nothing to do: every target is in accord with policy")
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for i := range res.Jobs {
		j := &res.Jobs[i]
		for k := range j.Actions {
			a := &j.Actions[k]
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t(%s)\n", textsafe.Escape(j.PersonKey), j.Target, a.Op, textsafe.Escape(actionDetail(a)), a.Reason)
		}
	}
	tw.Flush()
	for _, d := range res.Desired {
		fmt.Fprintf(w, "  desired on %s: %s (%s)", d.Target, orNone(string(d.Desire)), d.Reason)
		if len(d.Grants) > 0 {
			var gs []string
			for _, g := range d.Grants {
				gs = append(gs, fmt.Sprintf("%s [%s]", g.Entitlement, strings.Join(g.Roles, ", ")))
			}
			fmt.Fprintf(w, "; entitlements: %s", strings.Join(gs, "; "))
		}
		fmt.Fprintln(w)
	}
	for _, e := range res.Excluded {
		fmt.Fprintf(w, "  excluded: %s (%s)\n", textsafe.Escape(e.PersonKey), e.Reason)
	}
	for _, b := range res.Busy {
		fmt.Fprintf(w, "  waiting: %s on %s has unfinished work in an earlier run\n", textsafe.Escape(b.Person), b.Target)
	}
	for _, pk := range res.Parked {
		fmt.Fprintf(w, "  %s\n", plan.DescribeParked(pk))
	}
	for _, p := range res.Problems {
		fmt.Fprintf(w, "  problem: %v\n", p)
	}
	fmt.Fprintf(w, "Summary: %s\n", summarize(plan.Count(res.Jobs)))
	if len(pv.Breaches) > 0 {
		fmt.Fprintf(w, "Thresholds: this run would be HELD for approval: %s\n", plan.DescribeBreaches(pv.Breaches))
	} else {
		fmt.Fprintln(w, "Thresholds: within limits")
	}
}

func orNone(s string) string {
	if s == "" {
		return "no account"
	}
	return s
}

func actionDetail(a *model.Action) string {
	switch a.Op {
	case model.OpGrant, model.OpRevoke:
		return strings.Join(a.Entitlements, ", ")
	case model.OpCreate:
		return formatAttrs(a.Attributes, nil)
	case model.OpUpdate:
		return formatAttrs(a.Attributes, a.Previous)
	}
	return ""
}

func formatAttrs(attrs, prev model.Attributes) string {
	var parts []string
	for _, k := range attrs.Keys() {
		if prev != nil {
			if old, ok := prev[k]; ok {
				parts = append(parts, fmt.Sprintf("%s: %q -> %q", k, model.FormatValue(old), model.FormatValue(attrs[k])))
				continue
			}
		}
		parts = append(parts, fmt.Sprintf("%s=%q", k, model.FormatValue(attrs[k])))
	}
	return strings.Join(parts, " ")
}

// summarize renders a tally: "3 create_account, 9 grant on saas; ...".
func summarize(t plan.Tally) string {
	if len(t) == 0 {
		return "no changes"
	}
	targets := make([]string, 0, len(t))
	for k := range t {
		targets = append(targets, k)
	}
	sort.Strings(targets)
	var parts []string
	for _, tg := range targets {
		var ops []string
		for _, op := range model.Ops {
			if n := t[tg][op]; n > 0 {
				ops = append(ops, fmt.Sprintf("%d %s", n, opLabel(op, n)))
			}
		}
		parts = append(parts, fmt.Sprintf("%s: %s", tg, strings.Join(ops, ", ")))
	}
	return strings.Join(parts, "; ")
}

func opLabel(op model.Op, n int) string {
	label := map[model.Op]string{
		model.OpCreate: "create", model.OpUpdate: "update", model.OpEnable: "enable", model.OpDisable: "disable",
		model.OpDelete: "delete", model.OpGrant: "grant", model.OpRevoke: "account(s) with revokes",
	}[op]
	if n != 1 && op != model.OpRevoke {
		label += "s"
	}
	return label
}

func printActions(w io.Writer, acts []model.Action) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRUN\tPERSON\tTARGET\tOP\tDETAIL\tSTATE\tATTEMPTS\tERROR")
	for i := range acts {
		a := &acts[i]
		errText := ""
		if a.Error != nil {
			errText = a.Error.Line()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", a.ID, a.RunID, textsafe.Escape(a.PersonKey), a.Target, a.Op,
			truncate(actionDetail(a), 60), a.State, a.Attempts, truncate(errText, 100))
	}
	tw.Flush()
}

// truncate shortens a value for a table cell, escaped first: values come
// from HR feeds and targets, and a control or bidi character in them
// must not reach the terminal.
func truncate(s string, n int) string {
	s = textsafe.Escape(s)
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func orEmptyParks(ps []model.Park) []model.Park {
	if ps == nil {
		return []model.Park{}
	}
	return ps
}
