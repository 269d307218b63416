package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/accord-iam/accord/internal/buildinfo"
)

func (c *cli) versionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "print the version and the commit accord was built from",
		Long: "Prints the release version (set at link time with\n" +
			"-ldflags \"-X github.com/accord-iam/accord/internal/buildinfo.Version=vX.Y.Z\", else dev)\n" +
			"and the commit, commit time and whether the work tree was modified, as the Go toolchain\n" +
			"recorded them in the binary.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := buildinfo.Read()
			if asJSON {
				enc := json.NewEncoder(c.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			fmt.Fprintln(c.stdout, "accord", info)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: version, commit, commit_time, modified, go_version")
	return cmd
}
