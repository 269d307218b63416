package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/accord-iam/accord/examples/quickstart"
	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/textsafe"
)

const quickstartTokenEnv = "ACCORD_QUICKSTART_TOKEN"

func (c *cli) quickstartCmd() *cobra.Command {
	var (
		dir string
		day int
	)
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "run accord's main job end to end on an example: HR feed, SCIM target (simulated), SQLite store",
		Long: "quickstart writes the example config and HR feed into a work directory, starts the target simulator\n" +
			"(a SCIM 2.0 service) in this process, then imports, plans, executes and prints a summary.\n" +
			"Day 1 provisions the joiners; --day 2 changes the feed (a mover and a leaver) and runs again.\n" +
			"The simulator's state is kept in the work directory between days.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.quickstart(cmd.Context(), dir, day)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "accord-quickstart", "work directory (created if missing)")
	cmd.Flags().IntVar(&day, "day", 1, "which day of the example to run: 1 or 2")
	return cmd
}

func (c *cli) quickstart(ctx context.Context, dir string, day int) error {
	if day != 1 && day != 2 {
		return fail(exitUsage, fmt.Errorf("--day must be 1 or 2, not %d", day))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail(exitFailed, err)
	}
	statePath := filepath.Join(dir, "simulator-state.json")
	if day == 2 {
		if _, err := os.Stat(statePath); err != nil {
			return fail(exitUsage, fmt.Errorf("run day 1 first ('accord quickstart'): %s has no simulator state", dir))
		}
	}
	token := os.Getenv(quickstartTokenEnv)
	if token == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		token = hex.EncodeToString(b)
		_ = os.Setenv(quickstartTokenEnv, token)
	}

	// The target: a simulated SCIM service, with the state it had at the
	// end of the previous day.
	sim := targetsim.New(targetsim.Options{Token: token, LogLimit: 10000})
	if data, err := os.ReadFile(statePath); err == nil && day == 2 {
		if err := sim.LoadState(bytes.NewReader(data)); err != nil {
			return fail(exitFailed, fmt.Errorf("simulator state: %w", err))
		}
	} else {
		for _, g := range quickstart.Groups {
			if _, err := sim.SCIM().CreateGroup(g); err != nil {
				return fail(exitFailed, err)
			}
		}
	}
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		return fail(exitFailed, fmt.Errorf("start simulator: %w", err))
	}
	defer sim.Close()

	// The config, pointed at the simulator, and the day's HR feed.
	cfg, err := quickstart.Files.ReadFile("accord.yaml")
	if err != nil {
		return fail(exitFailed, err)
	}
	cfg = bytes.Replace(cfg, []byte("http://127.0.0.1:8099"), []byte(base), 1)
	// The editor's schema sits beside the config in the work directory.
	cfg = bytes.Replace(cfg, []byte("$schema="+repoSchemaPath), []byte("$schema="+schemaFile), 1)
	schema, err := config.Schema()
	if err != nil {
		return fail(exitFailed, err)
	}
	if err := os.WriteFile(filepath.Join(dir, schemaFile), append(schema, '\n'), 0o600); err != nil {
		return fail(exitFailed, err)
	}
	cfgPath := filepath.Join(dir, "accord.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return fail(exitFailed, err)
	}
	feed, err := quickstart.Feed(day, model.DateOf(c.now()))
	if err != nil {
		return fail(exitFailed, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hr.csv"), feed, 0o600); err != nil {
		return fail(exitFailed, err)
	}
	if day == 1 {
		// Day 1 starts from scratch, so it can be run again.
		for _, f := range []string{"accord.db", "accord.db-wal", "accord.db-shm"} {
			_ = os.Remove(filepath.Join(dir, f))
		}
	}
	fmt.Fprintf(c.stdout, "accord quickstart, day %d: config %s, HR feed %s, SCIM target simulated at %s\n",
		day, cfgPath, filepath.Join(dir, "hr.csv"), base+"/scim/v2")
	if day == 2 {
		fmt.Fprintln(c.stdout, "HR changed: Edsger Dijkstra moved from People to Sales; Grace Hopper leaves today.")
	}

	c.configPath = cfgPath
	a, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer a.Close(context.WithoutCancel(ctx))
	sums, err := a.Import(ctx, "")
	c.printImport(sums)
	if err != nil {
		return fail(exitFailed, importError(err))
	}
	run, pv, err := a.Enforce(ctx, app.Filter{}, "quickstart")
	if err != nil {
		return fail(exitFailed, err)
	}
	for _, e := range pv.Result.Excluded {
		fmt.Fprintf(c.stdout, "excluded: %s (%s)\n", textsafe.Escape(e.PersonKey), e.Reason)
	}
	var execErr error
	switch {
	case run == nil:
		fmt.Fprintln(c.stdout, "nothing to do: the target is already in accord with policy")
	case run.State == model.RunHeld:
		fmt.Fprintf(c.stdout, "run %s is HELD by a threshold: %s\n", run.ID, run.Note)
	default:
		fmt.Fprintf(c.stdout, "run %s: %s\n", run.ID, summarize(pv.Result.Tally()))
		execErr = c.execute(ctx, a)
	}
	if err := saveSimState(sim, statePath); err != nil {
		return fail(exitFailed, err)
	}
	users := sim.SCIM().Users()
	active := 0
	for _, u := range users {
		if u.Get("active") == true {
			active++
		}
	}
	fmt.Fprintf(c.stdout, "the target now has %d accounts (%d active) and %d groups\n", len(users), active, len(sim.SCIM().Groups()))
	fmt.Fprintln(c.stdout, "look next:")
	fmt.Fprintf(c.stdout, "  accord audit -c %s --limit 20        every request sent and every answer, by run and action\n", cfgPath)
	fmt.Fprintf(c.stdout, "  accord plan -c %s                    what enforcement would do now (nothing, if all went well)\n", cfgPath)
	fmt.Fprintf(c.stdout, "  accord plan -c %s --person E0004     one person: desired accounts and why\n", cfgPath)
	fmt.Fprintf(c.stdout, "  accord runs list -c %s\n", cfgPath)
	if day == 1 {
		fmt.Fprintln(c.stdout, "then: accord quickstart --day 2       (a mover and a leaver)")
	}
	var ee *exitError
	if errors.As(execErr, &ee) && ee.code == exitFailed {
		return execErr
	}
	return nil
}

func saveSimState(sim *targetsim.Sim, path string) error {
	data, err := json.MarshalIndent(sim.SCIM().State(), "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// now is the CLI's clock; tests may move it.
func (c *cli) now() time.Time {
	if c.openOpts.Now != nil {
		return c.openOpts.Now()
	}
	return time.Now().UTC()
}
