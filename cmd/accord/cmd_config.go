package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/accord-iam/accord/internal/app"
	"github.com/accord-iam/accord/internal/config"
	"github.com/accord-iam/accord/internal/source"
)

func (c *cli) configCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "work with the config file"}
	var syntaxOnly bool
	check := &cobra.Command{
		Use:   "check",
		Short: "validate the config without touching any target; print every problem",
		Long: "check validates the config and resolves every secret reference (${env:…}, ${file:…}) without printing\n" +
			"any value: a missing variable or file is a problem with its key path. --syntax-only skips resolving,\n" +
			"for CI that checks a config where its secrets are not present.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, probs, err := app.Check(c.configPath)
			if err != nil {
				return fail(exitFailed, err)
			}
			if !syntaxOnly {
				sprobs, err := app.CheckSecrets(c.configPath)
				if err != nil {
					return fail(exitFailed, err)
				}
				probs = append(probs, sprobs...)
				probs.Sort()
			}
			if len(probs) > 0 {
				if c.jsonOut {
					_ = json.NewEncoder(c.stdout).Encode(map[string]any{"ok": false, "problems": probs})
				} else {
					fmt.Fprintf(c.stderr, "%s: %d problem(s):\n", c.configPath, len(probs))
					for _, p := range probs {
						fmt.Fprintln(c.stderr, "  "+p.String())
					}
				}
				return fail(exitFailed, nil)
			}
			var warnings []string
			for i := range cfg.Sources {
				p := cfg.Resolve(cfg.Sources[i].Path)
				if _, err := os.Stat(p); err != nil {
					warnings = append(warnings, fmt.Sprintf("sources[%d].path: %s is not readable now: %v", i, p, errors.Unwrap(err)))
				}
			}
			if c.jsonOut {
				return json.NewEncoder(c.stdout).Encode(map[string]any{"ok": true, "warnings": warnings})
			}
			for _, w := range warnings {
				fmt.Fprintln(c.stderr, "warning:", w)
			}
			fmt.Fprintf(c.stdout, "%s: ok (%d sources, %d targets, %d roles)\n", c.configPath, len(cfg.Sources), len(cfg.Targets), len(cfg.Policy.Roles))
			return nil
		},
	}
	check.Flags().BoolVar(&c.jsonOut, "json", false, "print the result as JSON")
	check.Flags().BoolVar(&syntaxOnly, "syntax-only", false, "do not resolve secret references (CI without the secrets)")
	cmd.AddCommand(check, c.configSchemaCmd())
	return cmd
}

func (c *cli) importCmd() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "import",
		Short: "import HR sources: validate each whole feed, then apply it atomically",
		Args:  cobra.NoArgs,
		RunE: c.withApp(func(cmd *cobra.Command, args []string, a *app.App) error {
			sums, err := a.Import(cmd.Context(), name)
			c.printImport(sums)
			if err != nil {
				return fail(exitFailed, importError(err))
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&name, "source", "", "import only this source")
	cmd.Flags().BoolVar(&c.jsonOut, "json", false, "print the result as JSON")
	return cmd
}

// importError keeps a rejected feed's report readable: the report already
// says the file was rejected and lists every bad row.
func importError(err error) error {
	var rep *source.Report
	if errors.As(err, &rep) {
		return errors.New(rep.Error())
	}
	return err
}

func (c *cli) printImport(sums []app.ImportSummary) {
	if c.jsonOut {
		_ = json.NewEncoder(c.stdout).Encode(sums)
		return
	}
	for _, s := range sums {
		how := ""
		if s.Pull != "" {
			how = fmt.Sprintf(" [%s pull, %d pages]", strings.ReplaceAll(s.Pull, "_", " "), s.Pages)
		}
		fmt.Fprintf(c.stdout, "imported %s: %d persons (%d added, %d updated, %d unchanged, %d newly missing, %d back, %d re-keyed)%s\n",
			s.Source, s.Persons, s.Added, s.Updated, s.Unchanged, s.Missing, s.Returned, s.Rekeyed, how)
	}
}

const (
	// schemaFile is the schema's name beside a config.
	schemaFile = "accord.schema.json"
	// repoSchemaPath is where the examples find the schema in the repository.
	repoSchemaPath = "../../docs/accord.schema.json"
)

func (c *cli) configSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "print the JSON Schema (draft 2020-12) of accord.yaml, for editors",
		Long: "schema prints the JSON Schema of the config file, generated from the config structs, with each\n" +
			"key's description and default, and a connection block per connector type. Save it and point\n" +
			"your editor at it, e.g. with this first line in accord.yaml (YAML language server):\n\n" +
			"  # yaml-language-server: $schema=accord.schema.json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := config.Schema()
			if err != nil {
				return fail(exitFailed, err)
			}
			_, err = fmt.Fprintf(c.stdout, "%s\n", b)
			return err
		},
	}
}
