// Command accord is the one binary: CLI and daemon.
//
// Exit codes: 0 done; 1 failed actions or bad input; 2 usage; 3 a run is
// held by a threshold and waits for approval; 4 stalled: a --wait ended
// because nothing left could move (targets paused or down, store not
// writable).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/yamlx"

	// Connector types register themselves.
	_ "github.com/accord-iam/accord/internal/connector/ldap"
	_ "github.com/accord-iam/accord/internal/connector/memory"
	_ "github.com/accord-iam/accord/internal/connector/rest"
	_ "github.com/accord-iam/accord/internal/connector/scim"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
	exitHeld   = 3
	// exitStalled: --wait returned because the remaining work cannot move.
	exitStalled = 4
)

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "dev"

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func fail(code int, err error) error { return &exitError{code: code, err: err} }

// cli holds what every command shares.
type cli struct {
	configPath string
	jsonOut    bool
	logFormat  string
	logLevel   string
	stdout     io.Writer
	stderr     io.Writer
	// daemon: the command is serve, whose logs are its output.
	daemon bool
	// opener lets tests substitute the clock.
	openOpts app.Options
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr}
	root := c.rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "error:", ee.err)
		}
		return ee.code
	}
	// Cobra's own errors are usage errors (unknown flag, wrong args).
	fmt.Fprintln(stderr, "error:", err)
	fmt.Fprintln(stderr, "run 'accord --help' for usage")
	return exitUsage
}

func (c *cli) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "accord",
		Short:         "accord keeps accounts and entitlements in every target in accord with HR and policy",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			c.setupLogging()
			return nil
		},
	}
	root.PersistentFlags().StringVarP(&c.configPath, "config", "c", envOr("ACCORD_CONFIG", "accord.yaml"), "config file (env ACCORD_CONFIG)")
	root.PersistentFlags().StringVar(&c.logFormat, "log-format", "", "log format: text or json (default from config)")
	root.PersistentFlags().StringVar(&c.logLevel, "log-level", "", "log level: debug, info, warn, error (default from config, info)")
	root.AddCommand(
		c.versionCmd(), c.configCmd(), c.importCmd(), c.planCmd(), c.enforceCmd(),
		c.runsCmd(), c.actionsCmd(), c.auditCmd(), c.serveCmd(), c.simulatorCmd(), c.quickstartCmd(),
	)
	for _, mk := range extraCommands {
		root.AddCommand(mk(c))
	}
	return root
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// setupLogging sends structured logs to stderr; commands print their
// results to stdout, so output stays pipeable.
func (c *cli) setupLogging() {
	level := slog.LevelWarn
	switch strings.ToLower(c.logLevel) {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(c.stderr, opts)
	if c.logFormat == "json" {
		h = slog.NewJSONHandler(c.stderr, opts)
	}
	slog.SetDefault(slog.New(redactingHandler{h}))
}

// open opens the app or returns an exit error for bad config. The
// config's log settings apply unless a flag overrides them (its level only
// for serve: one-shot commands print results, and keep logs to warnings).
func (c *cli) open(ctx context.Context) (*app.App, error) {
	if cfg, err := config.Load(c.configPath); cfg != nil && (err == nil || errors.As(err, new(yamlx.Problems))) {
		changed := false
		if c.logFormat == "" && cfg.Log.Format != "" {
			c.logFormat, changed = cfg.Log.Format, true
		}
		if c.logLevel == "" && c.daemon && cfg.Log.Level != "" {
			c.logLevel, changed = cfg.Log.Level, true
		}
		if changed {
			c.setupLogging()
		}
	}
	if c.openOpts.Logger == nil {
		c.openOpts.Logger = slog.Default()
	}
	a, err := app.Open(ctx, c.configPath, c.openOpts)
	if err != nil {
		return nil, fail(exitFailed, err)
	}
	return a, nil
}

// withApp wraps a command body that needs the opened app: it opens it
// (a bad config is exit code 1, with every problem), and closes it after.
func (c *cli) withApp(body func(cmd *cobra.Command, args []string, a *app.App) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a, err := c.open(cmd.Context())
		if err != nil {
			return err
		}
		defer a.Close(context.WithoutCancel(cmd.Context()))
		return body(cmd, args, a)
	}
}

// interactive reports whether w is a terminal (progress bars) or a pipe
// (plain lines).
func interactive(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (c *cli) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(c.stdout, "accord", Version)
			return nil
		},
	}
}
