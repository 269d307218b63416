package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/textsafe"
)

// planRowLimit is how many action rows `accord plan` prints before it
// stops listing and only counts: a larger plan ends with the counts per
// target and operation, the thresholds, and the flag that lists every
// row (--all). planChunk rows are column-aligned together, so the rows
// are streamed and never held whole to align them.
const (
	planRowLimit = 200
	planChunk    = 256
)

func (c *cli) planCmd() *cobra.Command {
	var f app.Filter
	var all bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "show what enforcement would do now (what-if); changes nothing",
		Long: fmt.Sprintf(`Show what enforcement would do now; nothing is changed.

A plan of more than %d actions prints its first %d rows, then the counts per
target and operation and the thresholds; --all prints every row. --json
prints JSON lines: one object per action ("type": "action"), then one
summary object ("type": "summary"). Output is streamed as the plan is
made, so memory does not grow with the plan.`, planRowLimit, planRowLimit),
		Args: cobra.NoArgs,
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			out := bufio.NewWriterSize(c.stdout, 64<<10)
			var err error
			if c.jsonOut {
				err = planJSONLines(cmd.Context(), a, f, out)
			} else {
				limit := planRowLimit
				if all {
					limit = -1
				}
				err = printPlan(cmd.Context(), a, f, out, limit)
			}
			if ferr := out.Flush(); err == nil {
				err = ferr
			}
			if err != nil {
				return fail(exitFailed, err)
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&f.Person, "person", "", "plan for one person (by key)")
	cmd.Flags().StringVar(&f.Target, "target", "", "plan for one target")
	cmd.Flags().BoolVar(&c.jsonOut, "json", false, "print the plan as JSON lines (an object per action, then a summary)")
	cmd.Flags().BoolVar(&all, "all", false, fmt.Sprintf("print every action row, also past the first %d", planRowLimit))
	return cmd
}

// planJSONLine is an action line of `accord plan --json`: what the
// action would do, without the fields only a stored action has (IDs,
// state, attempts, times), which would be zero on every line.
type planJSONLine struct {
	Type         string           `json:"type"`
	Person       string           `json:"person"`
	Target       string           `json:"target"`
	Seq          int              `json:"seq"`
	Op           model.Op         `json:"op"`
	Entitlements []string         `json:"entitlements,omitempty"`
	Attributes   model.Attributes `json:"attributes,omitempty"`
	Previous     model.Attributes `json:"previous,omitempty"`
	NativeID     string           `json:"native_id,omitempty"`
	Reason       string           `json:"reason"`
}

// planJSONLines writes each action as a JSON line as soon as it is
// planned, then the summary. A write error stops the planning.
func planJSONLines(ctx context.Context, a *app.App, f app.Filter, w io.Writer) error {
	enc := json.NewEncoder(w)
	pv, err := a.PlanStream(ctx, f, f.Person != "", func(j *model.Job) error {
		for k := range j.Actions {
			act := &j.Actions[k]
			line := planJSONLine{Type: "action", Person: act.PersonKey, Target: act.Target, Seq: act.Seq, Op: act.Op,
				Entitlements: act.Entitlements, Attributes: act.Attributes, Previous: act.Previous,
				NativeID: act.NativeID, Reason: act.Reason}
			if err := enc.Encode(&line); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return enc.Encode(previewSummaryJSON(pv))
}

// previewSummaryJSON is the summary line of `accord plan --json`.
func previewSummaryJSON(pv *app.Preview) map[string]any {
	res := pv.Result
	rows := res.SummaryRows()
	out := map[string]any{
		"type":      "summary",
		"actions":   res.Planned,
		"summary":   res.Counted,
		"excluded":  rows.Excluded,
		"problems":  rows.Problems,
		"busy":      rows.Busy,
		"busy_more": rows.BusyMore,
		"parked":    rows.Parked,
		"breaches":  orEmptyList(pv.Breaches),
		"held":      len(pv.Breaches) > 0,
		"persons":   res.Persons,
		"assumed":   orEmptyList(pv.Assumed),
	}
	if res.Desired != nil {
		out["desired"] = res.Desired
	}
	return out
}

func orEmptyList[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// printPlan prints the plan as it is made: up to limit action rows
// (every row when limit < 0), aligned planChunk rows at a time, then
// what was left out, the counts and the thresholds.
func printPlan(ctx context.Context, a *app.App, f app.Filter, w io.Writer, limit int) error {
	fmt.Fprintf(w, "Plan for %s (what-if: nothing has been changed)\n", a.Today())
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	rows := 0
	pv, err := a.PlanStream(ctx, f, f.Person != "", func(j *model.Job) error {
		for k := range j.Actions {
			rows++
			if limit >= 0 && rows > limit {
				continue
			}
			act := &j.Actions[k]
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t(%s)\n", textsafe.Escape(j.PersonKey), j.Target, act.Op, textsafe.Escape(actionDetail(act)), act.Reason)
			if rows%planChunk == 0 {
				if err := tw.Flush(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	res := pv.Result
	if rows == 0 {
		fmt.Fprintln(w, "  nothing to do: every target is in accord with policy")
	}
	hidden := 0
	if limit >= 0 && rows > limit {
		hidden = rows - limit
		fmt.Fprintf(w, "  … and %d more actions not listed\n", hidden)
	}
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
	for i, e := range res.Excluded {
		if limit >= 0 && i == limit {
			fmt.Fprintf(w, "  … and %d more excluded\n", len(res.Excluded)-limit)
			hidden++
			break
		}
		fmt.Fprintf(w, "  excluded: %s (%s)\n", textsafe.Escape(e.PersonKey), e.Reason)
	}
	for i, b := range res.Busy.First {
		if limit >= 0 && i == limit {
			fmt.Fprintf(w, "  … and %d more waiting\n", res.Busy.Count-limit)
			hidden++
			break
		}
		fmt.Fprintf(w, "  waiting: %s on %s has unfinished work in an earlier run\n", textsafe.Escape(b.Person), b.Target)
	}
	if more := res.Busy.More(); more > 0 && (limit < 0 || len(res.Busy.First) <= limit) {
		// Past the rows a plan keeps: --all would not list them either.
		fmt.Fprintf(w, "  … and %d more waiting (a plan lists the first %d)\n", more, plan.BusyShown)
	}
	for _, pk := range res.Parked {
		fmt.Fprintf(w, "  %s\n", plan.DescribeParked(pk))
	}
	for i, p := range res.Problems {
		if limit >= 0 && i == limit {
			fmt.Fprintf(w, "  … and %d more problems\n", len(res.Problems)-limit)
			hidden++
			break
		}
		fmt.Fprintf(w, "  problem: %v\n", p)
	}
	for _, as := range pv.Assumed {
		fmt.Fprintf(w, "  assumed: %s\n", as)
	}
	fmt.Fprintf(w, "Summary: %d actions for %d persons: %s\n", rows, res.Persons, summarize(res.Counted))
	if len(pv.Breaches) > 0 {
		fmt.Fprintf(w, "Thresholds: this run would be HELD for approval: %s\n", plan.DescribeBreaches(pv.Breaches))
	} else {
		fmt.Fprintln(w, "Thresholds: within limits")
	}
	if hidden > 0 {
		fmt.Fprintf(w, "Only the first %d rows of each list are shown: add --all to list every row, or --json for JSON lines.\n", limit)
	}
	return nil
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
