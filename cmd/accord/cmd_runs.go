package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/accord-iam/accord/internal/api"
	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/textsafe"
)

func (c *cli) runsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "runs", Short: "list, show, approve and cancel runs"}
	var limit int
	var states []string
	list := &cobra.Command{
		Use:   "list",
		Short: "list runs, newest first",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			q := store.RunQuery{Limit: limit}
			for _, s := range states {
				q.States = append(q.States, model.RunState(s))
			}
			runs, err := runsOf(a).ListRuns(cmd.Context(), q)
			if err != nil {
				return fail(exitFailed, err)
			}
			if c.jsonOut {
				out := make([]api.RunView, len(runs))
				for i := range runs {
					out[i] = api.ToRunView(&runs[i])
				}
				return json.NewEncoder(c.stdout).Encode(out)
			}
			tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tCREATED\tSTATE\tTRIGGER\tSCOPE\tACTIONS\tNOTE")
			for _, r := range runs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.CreatedAt.Format(time.RFC3339), r.State, textsafe.Escape(r.Trigger), textsafe.Escape(r.Scope), countsLine(r.Counts), truncate(r.Note, 80))
			}
			return tw.Flush()
		}),
	}
	list.Flags().IntVar(&limit, "limit", 20, "how many runs")
	list.Flags().StringSliceVar(&states, "state", nil, "only runs in these states (held, pending, running, succeeded, failed, cancelled)")
	list.Flags().BoolVar(&c.jsonOut, "json", false, "print JSON")

	var showLimit int
	show := &cobra.Command{
		Use:   "show RUN_ID",
		Short: "show a run and its actions",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			r, err := runsOf(a).GetRun(cmd.Context(), args[0])
			if err != nil {
				return fail(exitFailed, fmt.Errorf("run %s: %w", args[0], err))
			}
			acts, err := runsOf(a).ListActions(cmd.Context(), store.ActionQuery{RunID: r.ID, Limit: showLimit})
			if err != nil {
				return fail(exitFailed, err)
			}
			more := 0
			if showLimit > 0 {
				for _, n := range r.Counts {
					more += n
				}
				more = max(more-len(acts), 0)
			}
			if c.jsonOut {
				out := struct {
					Run         api.RunView      `json:"run"`
					Actions     []api.ActionView `json:"actions"`
					ActionsMore int              `json:"actions_more,omitempty"`
				}{Run: api.ToRunView(&r), Actions: api.ToActionViews(acts), ActionsMore: more}
				return json.NewEncoder(c.stdout).Encode(out)
			}
			fmt.Fprintf(c.stdout, "run %s: %s (trigger %s, scope %s, created %s)\n", r.ID, r.State, textsafe.Escape(r.Trigger), textsafe.Escape(r.Scope), r.CreatedAt.Format(time.RFC3339))
			if len(r.Breaches) > 0 {
				fmt.Fprintf(c.stdout, "thresholds exceeded: %s\n", plan.DescribeBreaches(r.Breaches))
			}
			if r.Note != "" {
				fmt.Fprintf(c.stdout, "note: %s\n", textsafe.Escape(r.Note))
			}
			fmt.Fprintf(c.stdout, "actions: %s\n", countsLine(r.Counts))
			printActions(c.stdout, acts)
			if more > 0 {
				fmt.Fprintf(c.stdout, "... and %d more actions: 'accord actions list --run %s --limit 0' lists them all, 'accord runs show %s --limit N' more of them\n", more, r.ID, r.ID)
			}
			return nil
		}),
	}
	show.Flags().BoolVar(&c.jsonOut, "json", false, "print JSON")
	show.Flags().IntVar(&showLimit, "limit", 200, "list at most this many of the run's actions, the first by ID (0: all)")

	var wait bool
	approve := &cobra.Command{
		Use:   "approve RUN_ID",
		Short: "approve a held run so that it executes",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			if err := a.Approve(cmd.Context(), args[0], "cli:"+currentUser()); err != nil {
				return fail(exitFailed, err)
			}
			fmt.Fprintf(c.stdout, "run %s approved\n", args[0])
			if wait {
				return c.execute(cmd.Context(), a)
			}
			fmt.Fprintln(c.stdout, "  'accord serve' executes it; or run 'accord runs approve --wait' / 'accord enforce --wait'")
			return nil
		}),
	}
	approve.Flags().BoolVar(&wait, "wait", false, "execute here and wait until the run finishes")

	cancel := &cobra.Command{
		Use:   "cancel RUN_ID",
		Short: "cancel a run: its unfinished actions are cancelled",
		Args:  cobra.ExactArgs(1),
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			if err := a.Cancel(cmd.Context(), args[0], "cli:"+currentUser()); err != nil {
				return fail(exitFailed, err)
			}
			fmt.Fprintf(c.stdout, "run %s cancelled\n", args[0])
			return nil
		}),
	}
	cmd.AddCommand(list, show, approve, cancel)
	return cmd
}

func countsLine(m map[model.ActionState]int) string {
	s := ""
	for _, st := range model.ActionStates {
		if n := m[st]; n > 0 {
			if s != "" {
				s += ", "
			}
			s += fmt.Sprintf("%d %s", n, st)
		}
	}
	if s == "" {
		return "none"
	}
	return s
}

func (c *cli) actionsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "actions", Short: "list and retry actions"}
	var (
		q      store.ActionQuery
		failed bool
		states []string
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "list actions (filter by run, person, target, state)",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			if failed {
				// Failures a later success has made good are history, not
				// work: --state failed lists them too.
				q.StandingFailures()
			}
			for _, s := range states {
				q.States = append(q.States, model.ActionState(s))
			}
			acts, err := runsOf(a).ListActions(cmd.Context(), q)
			if err != nil {
				return fail(exitFailed, err)
			}
			if c.jsonOut {
				return json.NewEncoder(c.stdout).Encode(api.ToActionViews(acts))
			}
			printActions(c.stdout, acts)
			return nil
		}),
	}
	list.Flags().BoolVar(&failed, "failed", false, "only failures still standing (not made good by a later success of the same operation; --state failed lists every failure)")
	list.Flags().StringSliceVar(&states, "state", nil, "only actions in these states")
	list.Flags().StringVar(&q.RunID, "run", "", "only this run")
	list.Flags().StringVar(&q.PersonKey, "person", "", "only this person")
	list.Flags().StringVar(&q.Target, "target", "", "only this target")
	list.Flags().StringVar(&q.ErrorKind, "error-kind", "", "only actions whose error has this kind")
	list.Flags().IntVar(&q.Limit, "limit", 200, "at most this many (0: all)")
	list.Flags().BoolVar(&c.jsonOut, "json", false, "print JSON")

	var wait bool
	retry := &cobra.Command{
		Use:   "retry ACTION_ID",
		Short: "put a failed action (and the actions it blocked) back in the queue, or make a waiting one due now",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return fail(exitUsage, fmt.Errorf("action ID must be a number, got %q", args[0]))
			}
			a, err := c.open(cmd.Context())
			if err != nil {
				return err
			}
			defer a.Close(cmd.Context())
			act, err := a.Retry(cmd.Context(), id, "cli:"+currentUser())
			if err != nil {
				return fail(exitFailed, err)
			}
			if act.State == model.ActionPending {
				fmt.Fprintf(c.stdout, "action %d (%s on %s for %s) was waiting after %d attempt(s); it is due now\n", act.ID, act.Op, act.Target, textsafe.Escape(act.PersonKey), act.Attempts)
			} else {
				fmt.Fprintf(c.stdout, "action %d (%s on %s for %s) queued for retry\n", act.ID, act.Op, act.Target, textsafe.Escape(act.PersonKey))
			}
			if wait {
				return c.execute(cmd.Context(), a)
			}
			return nil
		},
	}
	retry.Flags().BoolVar(&wait, "wait", false, "execute here and wait")
	cmd.AddCommand(list, retry)
	return cmd
}

func (c *cli) auditCmd() *cobra.Command {
	var q store.AuditQuery
	var kinds []string
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "show the audit trail: every attempt, request and answer",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			for _, k := range kinds {
				q.Kinds = append(q.Kinds, audit.Kind(k))
			}
			recs, err := runsOf(a).ListAudit(cmd.Context(), q)
			if err != nil {
				return fail(exitFailed, err)
			}
			if c.jsonOut {
				enc := json.NewEncoder(c.stdout)
				for _, r := range recs {
					if err := enc.Encode(r); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTIME\tRUN\tACTION\tPERSON\tTARGET\tKIND\tDETAIL")
			for _, r := range recs {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Time.Format("2006-01-02T15:04:05.000Z07:00"), r.RunID,
					actionRef(r), textsafe.Escape(r.PersonKey), r.Target, r.Kind, truncate(auditDetail(r), 140))
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&q.PersonKey, "person", "", "only this person")
	cmd.Flags().StringVar(&q.RunID, "run", "", "only this run")
	cmd.Flags().StringVar(&q.Target, "target", "", "only this target")
	cmd.Flags().Int64Var(&q.ActionID, "action", 0, "only this action")
	cmd.Flags().StringSliceVar(&kinds, "kind", nil, "only these kinds (attempt_start, exchange, attempt_end, event)")
	cmd.Flags().IntVar(&q.Limit, "limit", 0, "at most this many (0: all)")
	cmd.Flags().BoolVar(&c.jsonOut, "json", false, "print JSON lines")
	return cmd
}

func actionRef(r audit.Record) string {
	if r.ActionID == 0 {
		return ""
	}
	return fmt.Sprintf("%d#%d", r.ActionID, r.Attempt)
}

func auditDetail(r audit.Record) string {
	switch r.Kind {
	case audit.KindExchange:
		s := fmt.Sprintf("%s %s -> %d (%dms)", r.Method, r.URL, r.Status, r.DurationMS)
		if r.Message != "" {
			s += " " + r.Message
		}
		return s
	case audit.KindAttemptEnd:
		s := r.Operation + " " + r.Outcome
		if r.ErrorKind != "" {
			s += " [" + r.ErrorKind + "]"
		}
		if r.Message != "" {
			s += ": " + r.Message
		}
		return s
	}
	if r.Operation != "" {
		return r.Operation + ": " + r.Message
	}
	return r.Message
}
