package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
	"github.com/accord-iam/accord/internal/textsafe"
)

func (c *cli) enforceCmd() *cobra.Command {
	var (
		f        app.Filter
		wait     bool
		doImport bool
	)
	cmd := &cobra.Command{
		Use:   "enforce",
		Short: "plan and queue a run that brings targets in accord with policy",
		Long: "enforce plans from the persons and known accounts in the store, checks thresholds, and stores the run.\n" +
			"With --wait it also executes the run (and any unfinished earlier run) in this process and waits for the end.\n" +
			"A run over a threshold is held: nothing executes until 'accord runs approve RUN_ID' (exit code 3).\n" +
			"--wait returns with exit code 4 (stalled) when nothing left can move: every remaining action waits on a\n" +
			"target whose credentials are refused or whose circuit has stayed open past failure.probe_max (at least a\n" +
			"minute), or the store cannot be written.",
		Args: cobra.NoArgs,
		RunE: stallWhenUnwritable(&wait, c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			ctx := cmd.Context()
			if doImport {
				sums, err := a.Import(ctx, "")
				c.printImport(sums)
				if err != nil {
					return fail(exitFailed, importError(err))
				}
			}
			run, pv, err := a.Enforce(ctx, f, "cli")
			if err != nil {
				return fail(exitFailed, err)
			}
			for _, p := range pv.Result.Problems {
				fmt.Fprintf(c.stderr, "problem: %v\n", p)
			}
			for _, as := range pv.Assumed {
				fmt.Fprintf(c.stdout, "assumed: %s\n", as)
			}
			switch {
			case run == nil:
				fmt.Fprintln(c.stdout, "nothing to do: every target is in accord with policy")
			case run.State == model.RunHeld:
				fmt.Fprintf(c.stdout, "run %s is HELD: %s\n", run.ID, plan.DescribeBreaches(run.Breaches))
				fmt.Fprintf(c.stdout, "  review it with 'accord runs show %s', then 'accord runs approve %s' or 'accord runs cancel %s'\n", run.ID, run.ID, run.ID)
				return fail(exitHeld, nil)
			default:
				fmt.Fprintf(c.stdout, "run %s queued: %s\n", run.ID, summarize(pv.Result.Tally()))
			}
			if !wait {
				if run != nil {
					fmt.Fprintln(c.stdout, "  'accord serve' executes it; or run 'accord enforce --wait' to execute it here")
				}
				return nil
			}
			return c.execute(ctx, a)
		})),
	}
	cmd.Flags().StringVar(&f.Person, "person", "", "enforce for one person (by key)")
	cmd.Flags().StringVar(&f.Target, "target", "", "enforce on one target")
	cmd.Flags().BoolVar(&wait, "wait", false, "execute here and wait until the run finishes")
	cmd.Flags().BoolVar(&doImport, "import", false, "import every source first")
	return cmd
}

// execute runs the engine in this process until every run that is
// executable now has finished, showing progress, then prints a summary.
func (c *cli) execute(ctx context.Context, a *app.App) error {
	runs, err := runsOf(a).ListRuns(ctx, store.RunQuery{States: []model.RunState{model.RunPending, model.RunRunning}})
	if err != nil {
		return fail(exitFailed, err)
	}
	if len(runs) == 0 {
		return nil
	}
	ids := make([]string, len(runs))
	total := 0
	for i, r := range runs {
		ids[i] = r.ID
		for _, n := range r.Counts {
			total += n
		}
		if r.State == model.RunRunning || r.Counts[model.ActionRunning] > 0 || r.Counts[model.ActionSucceeded] > 0 {
			fmt.Fprintf(c.stdout, "resuming run %s\n", r.ID)
		}
	}
	prog := newProgress(c.stdout, total)
	changed := make(chan struct{}, 1)
	ectx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	// Where the store allows one executor and a daemon is it, the daemon
	// executes the runs and this process only follows them.
	release, err := a.ClaimExecution(ctx)
	var statuses targetStatuser
	switch {
	case errors.Is(err, sqlstore.ErrExecutorRunning):
		fmt.Fprintln(c.stdout, "the daemon on this store executes the run; following it")
		done <- nil
		// Its targets' pacing is what the daemon publishes in the store.
		statuses = publishedStatus{ctx: ctx, st: a.Store}
	case err != nil:
		stop()
		return fail(exitFailed, err)
	default:
		defer release()
		eng := a.NewEngine(app.EngineOptions{OnEvent: func(ev engine.Event) {
			if ev.Type == engine.EventAction || ev.Type == engine.EventRunDone || ev.Type == engine.EventJobDone {
				select {
				case changed <- struct{}{}:
				default:
				}
			}
		}})
		go func() { done <- eng.Run(ectx) }()
		statuses = eng
	}

	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var finished []model.Run
	// idle: a tick passed without any action moving. Only then is it
	// worth asking whether anything can move at all.
	idle := false
	watch := newStallWatch(a, statuses)
	for {
		var final int
		finished, final, err = runStates(ctx, a, ids)
		if err == nil {
			prog.set(final)
		}
		if err == nil && len(finished) == len(ids) {
			break
		}
		if idle {
			why, serr := watch.stalled(ctx)
			if serr == nil && len(why) > 0 {
				stop()
				<-done
				prog.finish()
				fmt.Fprintln(c.stdout, "stalled: the remaining actions cannot move until this is fixed:")
				for _, w := range why {
					fmt.Fprintln(c.stdout, "  "+w)
				}
				fmt.Fprintln(c.stdout, "they stay queued and resume at the next 'accord enforce --wait' or in 'accord serve'")
				return fail(exitStalled, fmt.Errorf("%w: %s", errStalled, strings.Join(why, "; ")))
			}
		}
		select {
		case <-ctx.Done():
			stop()
			<-done
			prog.finish()
			fmt.Fprintln(c.stdout, "interrupted: unfinished actions stay queued and resume at the next 'accord enforce --wait' or 'accord serve'")
			return fail(exitFailed, nil)
		case <-changed:
			idle = false
		case <-tick.C:
			idle = true
		}
	}
	stop()
	<-done
	prog.finish()
	return c.printOutcome(ctx, a, finished)
}

// runStates returns the runs among ids that have finished and the number
// of final actions across all of them.
func runStates(ctx context.Context, a *app.App, ids []string) ([]model.Run, int, error) {
	var fin []model.Run
	final := 0
	for _, id := range ids {
		r, err := runsOf(a).GetRun(ctx, id)
		if err != nil {
			return nil, 0, err
		}
		for st, n := range r.Counts {
			if st.Final() {
				final += n
			}
		}
		if r.State.Final() {
			fin = append(fin, r)
		}
	}
	return fin, final, nil
}

func (c *cli) printOutcome(ctx context.Context, a *app.App, runs []model.Run) error {
	failed := 0
	for _, r := range runs {
		acts, err := runsOf(a).ListActions(ctx, store.ActionQuery{RunID: r.ID})
		if err != nil {
			return fail(exitFailed, err)
		}
		done := map[model.Op]int{}
		var bad []model.Action
		unverifiable := 0
		for _, act := range acts {
			switch act.State {
			case model.ActionSucceeded, model.ActionUnverifiable:
				if act.State == model.ActionUnverifiable {
					unverifiable++
				}
				n := 1
				if act.Op == model.OpGrant || act.Op == model.OpRevoke {
					n = len(act.Entitlements)
				}
				done[act.Op] += n
			case model.ActionFailed, model.ActionSkipped:
				bad = append(bad, act)
			}
		}
		failed += len(bad)
		fmt.Fprintf(c.stdout, "run %s %s: %s\n", r.ID, r.State, outcomeLine(done, len(bad)))
		if unverifiable > 0 {
			// Accepted by the target, but nothing it offers can show it:
			// said apart, never counted as verified.
			fmt.Fprintf(c.stdout, "  %d unverifiable: the target accepted them but cannot show the result ('accord actions list --run %s --state unverifiable')\n", unverifiable, r.ID)
		}
		sort.Slice(bad, func(i, j int) bool { return bad[i].ID < bad[j].ID })
		for i, act := range bad {
			if i == 10 {
				fmt.Fprintf(c.stdout, "  … and %d more: 'accord actions list --failed --run %s'\n", len(bad)-10, r.ID)
				break
			}
			msg := ""
			if act.Error != nil {
				msg = act.Error.Line()
			}
			fmt.Fprintf(c.stdout, "  action %d %s %s on %s %s: %s\n", act.ID, act.State, act.Op, act.Target, textsafe.Escape(act.PersonKey), textsafe.Escape(msg))
		}
	}
	fmt.Fprintln(c.stdout, "next: 'accord audit --run RUN_ID' shows every request and answer; 'accord plan' shows what is left to do")
	if failed > 0 {
		fmt.Fprintln(c.stdout, "retry a failed action with 'accord actions retry ID'")
		return fail(exitFailed, nil)
	}
	return nil
}

func outcomeLine(done map[model.Op]int, failed int) string {
	words := []struct {
		op   model.Op
		verb string
	}{
		{model.OpCreate, "created"}, {model.OpUpdate, "updated"}, {model.OpEnable, "enabled"},
		{model.OpGrant, "granted"}, {model.OpRevoke, "revoked"}, {model.OpDisable, "disabled"}, {model.OpDelete, "deleted"},
	}
	var parts []string
	for _, w := range words {
		parts = append(parts, fmt.Sprintf("%d %s", done[w.op], w.verb))
	}
	parts = append(parts, fmt.Sprintf("%d failed", failed))
	return strings.Join(parts, ", ")
}

// progress shows a bar on a terminal and a plain line per 10% otherwise.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	bar   *progressbar.ProgressBar
	total int
	last  int
}

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total, last: -1}
	if interactive(w) && total > 0 {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("actions"),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond))
	}
	return p
}

func (p *progress) set(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.total == 0 {
		return
	}
	if p.bar != nil {
		_ = p.bar.Set(n)
		return
	}
	step := n * 10 / p.total
	if step != p.last {
		p.last = step
		fmt.Fprintf(p.w, "progress: %d/%d actions done\n", n, p.total)
	}
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
