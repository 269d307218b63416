// Command loadgen writes the initial-load population of issue 16 (see
// internal/population) into a directory: accord.yaml and hr.csv.
//
//	go run ./scripts/loadgen -persons 100000 -dir /tmp/load
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/accord-iam/accord/internal/population"
)

func main() {
	var s population.Spec
	dir := flag.String("dir", ".", "directory to write accord.yaml and hr.csv into")
	flag.IntVar(&s.Persons, "persons", 0, "number of persons (required)")
	flag.IntVar(&s.Targets, "targets", 5, "number of memory targets")
	flag.IntVar(&s.Depts, "depts", 20, "number of departments, one role each")
	flag.IntVar(&s.PerRole, "per-role", 8, "entitlements a role grants per target (besides 2 birthright)")
	flag.StringVar(&s.Creates, "creates", "1000", "the policy's creates threshold (\"\": none)")
	flag.Parse()
	if err := run(s, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(s population.Spec, dir string) error {
	if s.Persons <= 0 || s.Targets <= 0 || s.Depts <= 0 || s.PerRole <= 0 {
		return fmt.Errorf("-persons, -targets, -depts and -per-role must be positive (got %d, %d, %d, %d)", s.Persons, s.Targets, s.Depts, s.PerRole)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "accord.yaml"), []byte(s.Config()), 0o600); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, "hr.csv"), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if err := s.WriteFeed(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	return f.Close()
}
