package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/daemon"
	"github.com/accord-iam/accord/internal/engine"
	"github.com/accord-iam/accord/internal/pace"
	"github.com/accord-iam/accord/internal/store/sqlstore"
)

// paceBoard is what `accord targets` needs of the store: the daemons'
// published pacing, and a way to ask them to resume a target.
type paceBoard interface {
	PaceViews(ctx context.Context) ([]sqlstore.PaceView, error)
	RequestResume(ctx context.Context, target string, now time.Time) error
}

// publishPacing runs with `accord serve`: the engine's pacing of each
// target goes on the store's board, and resumes asked for there reach it.
func publishPacing(ctx context.Context, _ *cli, a *app.App, eng *engine.Engine, _ *daemon.Daemon) error {
	if b, ok := a.Store.(pace.Board); ok {
		pace.Watch(ctx, b, eng.Owner(), eng.Paces())
	}
	return nil
}

func (c *cli) targetsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "targets", Short: "show each target's pacing (pauses, circuit, rate) and resume a paused one"}
	list := &cobra.Command{
		Use:   "list",
		Short: "each target's state as the running daemons last published it",
		Long: "Shows, per target and per daemon (node), the circuit (closed, open, half_open, paused) and why, " +
			"a pause and until when, when a paused or open circuit is probed next, the request rate now and the configured one, " +
			"and the calls in flight. Daemons publish every second; a target no daemon runs shows as not running.",
		Args: cobra.NoArgs,
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			b, ok := a.Store.(paceBoard)
			if !ok {
				return fail(exitFailed, fmt.Errorf("the store keeps no target states"))
			}
			views, err := b.PaceViews(cmd.Context())
			if err != nil {
				return fail(exitFailed, err)
			}
			byTarget := map[string][]sqlstore.PaceView{}
			for _, v := range views {
				byTarget[v.Status.Name] = append(byTarget[v.Status.Name], v)
			}
			if c.jsonOut {
				out := []sqlstore.PaceView{}
				for i := range a.Cfg.Targets {
					out = append(out, byTarget[a.Cfg.Targets[i].Name]...)
				}
				return json.NewEncoder(c.stdout).Encode(out)
			}
			now := a.Now()
			tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TARGET\tNODE\tSEEN\tCIRCUIT\tPAUSED\tRATE\tIN FLIGHT\tWHY")
			for i := range a.Cfg.Targets {
				name := a.Cfg.Targets[i].Name
				vs := byTarget[name]
				if len(vs) == 0 {
					fmt.Fprintf(tw, "%s\t-\t-\tnot running\t-\t-\t-\tno daemon has published this target\n", name)
				}
				for _, v := range vs {
					st := v.Status
					paused := "-"
					if st.PausedUntil.After(now) {
						paused = "for " + st.PausedUntil.Sub(now).Round(time.Second).String()
					}
					if st.Circuit != pace.CircuitClosed && !st.ProbeAt.IsZero() {
						paused = "probe in " + max(0, st.ProbeAt.Sub(now)).Round(time.Second).String()
					}
					why := strings.TrimSpace(st.Reason + " " + st.PauseReason)
					fmt.Fprintf(tw, "%s\t%s\t%s ago\t%s\t%s\t%s\t%d/%d\t%s\n", name, v.Node,
						now.Sub(v.At).Round(time.Second), st.Circuit, paused, rateLine(st), st.InFlight, st.Concurrency, truncate(why, 100))
				}
			}
			return tw.Flush()
		}),
	}
	list.Flags().BoolVar(&c.jsonOut, "json", false, "print JSON")
	resume := &cobra.Command{
		Use:   "resume NAME",
		Short: "end a target's pauses now: probe a paused or open circuit at once, lift a hold",
		Long: "After fixing a refused token (or a target that was down), the daemons would wait up to failure.auth_probe " +
			"(default 1m) or the probe backoff before trying again. resume makes every running daemon probe the target " +
			"within a second; the circuit closes when the probe succeeds.",
		Args: cobra.ExactArgs(1),
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			name := args[0]
			if _, ok := a.Cfg.Target(name); !ok {
				return fail(exitFailed, fmt.Errorf("no target %q in the configuration", name))
			}
			b, ok := a.Store.(paceBoard)
			if !ok {
				return fail(exitFailed, fmt.Errorf("the store keeps no target states"))
			}
			if err := b.RequestResume(cmd.Context(), name, a.Now()); err != nil {
				return fail(exitFailed, err)
			}
			fmt.Fprintf(c.stdout, "target %s: resume asked; running daemons probe it within %s\n", name, pace.BoardEvery)
			return nil
		}),
	}
	cmd.AddCommand(list, resume)
	return cmd
}

func rateLine(st pace.Status) string {
	cur := "unlimited"
	if st.RateLimit > 0 {
		cur = fmt.Sprintf("%.3g/s", st.RateLimit)
	}
	if st.Configured > 0 {
		return fmt.Sprintf("%s of %.3g/s", cur, st.Configured)
	}
	return cur
}
