package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/daemon"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/recon"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/textsafe"
)

func (c *cli) reconcileCmd() *cobra.Command {
	var (
		target string
		dryRun bool
		wait   bool
	)
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "read every account and membership back from the targets, find drift, and plan its fixes",
		Long: "reconcile reads each target page by page (resuming an interrupted reconciliation where it stopped), matches\n" +
			"accounts to persons, lists the drift found ('accord drift' shows it) and, where the target's reconcile.drift\n" +
			"policy says converge, plans the fixes as a run, held like any run when over a threshold (exit code 3).\n" +
			"--dry-run reads and reports, and changes nothing.",
		Args: cobra.NoArgs,
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			ctx := cmd.Context()
			env := daemon.ReconEnv(a, a.Log)
			targets := env.Targets()
			if target != "" {
				targets = []string{target}
			}
			if len(targets) == 0 {
				return fail(exitFailed, errors.New("no target can be reconciled: none has a connector that lists accounts"))
			}
			held, failed := false, false
			for _, t := range targets {
				prog := newReconProgress(c.stdout)
				res, err := recon.Reconcile(ctx, env, t, recon.Options{DryRun: dryRun, Trigger: "cli", Progress: prog.update})
				prog.finish()
				if err != nil {
					fmt.Fprintf(c.stderr, "error: %v\n", err)
					if ctx.Err() != nil {
						fmt.Fprintln(c.stdout, "interrupted: run 'accord reconcile' again to resume from the last page read")
						return fail(exitFailed, nil)
					}
					failed = true
					continue
				}
				c.printReconcile(res)
				if res.Run != nil && res.Run.State == model.RunHeld {
					held = true
				}
			}
			switch {
			case failed:
				return fail(exitFailed, nil)
			case wait && !dryRun:
				if err := c.execute(ctx, a); err != nil {
					return err
				}
			}
			if held {
				return fail(exitHeld, nil)
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&target, "target", "", "reconcile one target (default: every target that can list accounts)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "read and report only: change no known state, record no drift, plan no run")
	cmd.Flags().BoolVar(&wait, "wait", false, "execute the fixes here and wait until they are done")
	return cmd
}

func (c *cli) printReconcile(res *recon.Result) {
	r := res.Recon
	how := "reconciled"
	if res.Resumed {
		how = "reconciled (resumed)"
	}
	if res.DryRun {
		how += " [dry run: nothing changed]"
	}
	fmt.Fprintf(c.stdout, "%s %s: %d accounts", r.Target, how, r.Accounts)
	if r.Memberships > 0 {
		fmt.Fprintf(c.stdout, ", %d memberships", r.Memberships)
	}
	fmt.Fprintf(c.stdout, " in %d pages; %d linked, %d corrected in known state\n", r.Pages, res.Linked, res.Corrected)
	if !r.EntitlementsRead {
		fmt.Fprintln(c.stdout, "  memberships could not be read: entitlement drift is not judged")
	}
	if res.Total() == 0 {
		fmt.Fprintln(c.stdout, "  no drift")
	}
	for _, class := range config.DriftClasses {
		if n := res.Counts[class]; n > 0 {
			fmt.Fprintf(c.stdout, "  %-20s %d\n", class, n)
		}
	}
	if res.Left > 0 {
		fmt.Fprintf(c.stdout, "  %-20s %d (reconcile.drift.orphan: leave)\n", "orphans left alone", res.Left)
	}
	if res.DryRun && len(res.Sample) > 0 {
		tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  CLASS\tPERSON\tACCOUNT\tSUBJECT\tEXPECTED\tACTUAL\tACTION")
		for _, d := range res.Sample {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Class, textsafe.Escape(d.PersonKey), textsafe.Escape(d.NativeID), textsafe.Escape(d.Subject), textsafe.Escape(d.Expected), textsafe.Escape(d.Actual), d.Action)
		}
		_ = tw.Flush()
	}
	for _, p := range res.Problems {
		fmt.Fprintf(c.stderr, "problem: %v\n", p)
	}
	switch {
	case res.Run == nil:
	case res.Run.State == model.RunHeld:
		fmt.Fprintf(c.stdout, "  run %s is HELD: %s\n", res.Run.ID, plan.DescribeBreaches(res.Run.Breaches))
		fmt.Fprintf(c.stdout, "  review it with 'accord runs show %s', then 'accord runs approve %s'\n", res.Run.ID, res.Run.ID)
	default:
		fmt.Fprintf(c.stdout, "  run %s queued with %d actions to fix the drift that converges\n", res.Run.ID, res.Actions)
	}
	if !res.DryRun && res.Total() > 0 {
		fmt.Fprintf(c.stdout, "  'accord drift --target %s' lists it\n", r.Target)
	}
}

// reconProgress shows a bar on a terminal and a plain line per phase and
// per tenth of the target (or per 50 pages when its size is unknown).
type reconProgress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	bar   *progressbar.ProgressBar
	phase string
	last  int
}

func newReconProgress(w io.Writer) *reconProgress {
	return &reconProgress{w: w, tty: interactive(w), last: -1}
}

func (p *reconProgress) update(pr recon.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	done := pr.Accounts
	if pr.Phase == store.ReconEntitlements {
		done = pr.Memberships
	}
	if pr.Phase != p.phase {
		p.closeBar()
		p.phase, p.last = pr.Phase, -1
		resumed := ""
		if pr.Resumed && pr.Pages > 0 {
			resumed = fmt.Sprintf(" (resumed after page %d)", pr.Pages)
		}
		fmt.Fprintf(p.w, "%s: %s%s\n", pr.Target, phaseWords(pr.Phase), resumed)
		if p.tty && (pr.Phase == store.ReconAccounts || pr.Phase == store.ReconEntitlements) {
			p.bar = progressbar.NewOptions(totalOrSpinner(pr.Total), progressbar.OptionSetWriter(p.w),
				progressbar.OptionSetDescription(pr.Phase), progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond))
		}
	}
	if p.bar != nil {
		if pr.Total > 0 && p.bar.GetMax() != pr.Total {
			p.bar.ChangeMax(pr.Total)
		}
		_ = p.bar.Set(done)
		return
	}
	if pr.Phase != store.ReconAccounts && pr.Phase != store.ReconEntitlements {
		return
	}
	step := pr.Pages / 50
	if pr.Total > 0 {
		step = done * 10 / pr.Total
	}
	if step != p.last {
		p.last = step
		of := ""
		if pr.Total > 0 {
			of = fmt.Sprintf(" of %d", pr.Total)
		}
		fmt.Fprintf(p.w, "progress: %d%s %s read, page %d\n", done, of, pr.Phase, pr.Pages)
	}
}

// totalOrSpinner: a bar needs a known total; -1 makes it a spinner.
func totalOrSpinner(total int) int {
	if total <= 0 {
		return -1
	}
	return total
}

func phaseWords(phase string) string {
	switch phase {
	case store.ReconAccounts:
		return "reading accounts"
	case store.ReconEntitlements:
		return "reading memberships"
	case store.ReconClassify:
		return "comparing with policy and known state"
	case store.ReconDone:
		return "done"
	}
	return phase
}

func (p *reconProgress) closeBar() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
		p.bar = nil
	}
}

func (p *reconProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closeBar()
}

func (c *cli) driftCmd() *cobra.Command {
	var (
		q      store.DriftQuery
		csvOut bool
	)
	cmd := &cobra.Command{
		Use:   "drift",
		Short: "list the drift the last reconciliations found (open unless --all)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if c.jsonOut && csvOut {
				return fail(exitUsage, errors.New("--json and --csv exclude each other"))
			}
			for _, cl := range q.Classes {
				if !slices.Contains(config.DriftClasses, cl) {
					return fail(exitUsage, fmt.Errorf("--class %q: one of %s", cl, strings.Join(config.DriftClasses, ", ")))
				}
			}
			a, err := c.open(ctx)
			if err != nil {
				return err
			}
			defer a.Close(context.WithoutCancel(ctx))
			if q.Target != "" {
				if _, ok := a.Cfg.Target(q.Target); !ok {
					return fail(exitFailed, fmt.Errorf("no target named %q", q.Target))
				}
			}
			switch {
			case csvOut:
				err = recon.WriteDriftCSV(ctx, c.stdout, a.Store, q)
			case c.jsonOut:
				items := []recon.DriftItem{}
				err = recon.Drift(ctx, a.Store, q, func(d recon.DriftItem) error {
					items = append(items, d)
					return nil
				})
				if err == nil {
					err = json.NewEncoder(c.stdout).Encode(items)
				}
			default:
				err = c.printDrift(ctx, a, q)
			}
			if err != nil {
				return fail(exitFailed, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&q.Target, "target", "", "one target")
	cmd.Flags().StringVar(&q.PersonKey, "person", "", "one person (by key)")
	cmd.Flags().StringSliceVar(&q.Classes, "class", nil, "only these classes: "+strings.Join(config.DriftClasses, ", "))
	cmd.Flags().BoolVar(&q.Resolved, "all", false, "include resolved drift")
	cmd.Flags().BoolVar(&c.jsonOut, "json", false, "print JSON")
	cmd.Flags().BoolVar(&csvOut, "csv", false, "print CSV (cells neutralised for spreadsheets)")
	return cmd
}

func (c *cli) printDrift(ctx context.Context, a *app.App, q store.DriftQuery) error {
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tCLASS\tPERSON\tACCOUNT\tSUBJECT\tEXPECTED\tACTUAL\tACTION\tDETECTED\tDETAIL")
	counts := map[string]int{}
	err := recon.Drift(ctx, a.Store, q, func(d recon.DriftItem) error {
		counts[d.Class]++
		detected := d.DetectedAt.Format("2006-01-02 15:04")
		if d.ResolvedAt != nil {
			detected += " (resolved " + d.ResolvedAt.Format("2006-01-02 15:04") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Target, d.Class, textsafe.Escape(d.Person), textsafe.Escape(d.NativeID), textsafe.Escape(d.Subject),
			textsafe.Escape(d.Expected), textsafe.Escape(d.Actual), d.Action, detected, textsafe.Escape(d.Detail))
		return nil
	})
	if err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(counts) == 0 {
		fmt.Fprintln(c.stdout, "no drift: run 'accord reconcile' to read the targets again")
		return nil
	}
	keys := slices.Sorted(maps.Keys(counts))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", counts[k], k)
	}
	fmt.Fprintln(c.stdout, "total:", strings.Join(parts, ", "))
	return nil
}

func (c *cli) accessReportCmd() *cobra.Command {
	var (
		f      recon.AccessFilter
		csvOut bool
	)
	cmd := &cobra.Command{
		Use:   "access-report",
		Short: "who has what, granted by which role, since when, verified when (for access reviews)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if c.jsonOut && csvOut {
				return fail(exitUsage, errors.New("--json and --csv exclude each other"))
			}
			a, err := c.open(ctx)
			if err != nil {
				return err
			}
			defer a.Close(context.WithoutCancel(ctx))
			env := daemon.ReconEnv(a, a.Log)
			switch {
			case csvOut:
				err = recon.WriteAccessCSV(ctx, c.stdout, env, f)
			case c.jsonOut:
				enc := json.NewEncoder(c.stdout)
				err = recon.AccessReport(ctx, env, f, func(r recon.AccessRow) error { return enc.Encode(r) })
			default:
				tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, strings.ToUpper(strings.Join(recon.AccessHeader, "\t")))
				err = recon.AccessReport(ctx, env, f, func(r recon.AccessRow) error {
					_, err := fmt.Fprintln(tw, strings.Join(r.CSVCells(), "\t"))
					return err
				})
				err = errors.Join(err, tw.Flush())
			}
			if err != nil {
				return fail(exitFailed, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&f.Person, "person", "", "one person (by key)")
	cmd.Flags().StringVar(&f.Target, "target", "", "one target")
	cmd.Flags().BoolVar(&c.jsonOut, "json", false, "print JSON lines, one row each")
	cmd.Flags().BoolVar(&csvOut, "csv", false, "print CSV (cells neutralised for spreadsheets)")
	return cmd
}
