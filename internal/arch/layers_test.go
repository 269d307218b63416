package arch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestImportsRunDown checks the module's real import graph (non-test
// imports, as go list reports them) against the table.
func TestImportsRunDown(t *testing.T) {
	pkgs := listModule(t)
	if len(pkgs) < len(Layers) {
		t.Fatalf("go list found %d packages; the table alone lists %d layers", len(pkgs), len(Layers))
	}
	for _, p := range Check(Layers, pkgs) {
		t.Error(p)
	}
}

// TestCheckFindsUpwardImport proves the check is not vacuous: an import
// from a lower layer to a higher one, one within a layer, a package
// nobody placed and a listed package that is gone are each reported.
func TestCheckFindsUpwardImport(t *testing.T) {
	table := []Layer{
		{"low", []string{"internal/a", "internal/b"}},
		{"high", []string{"internal/c", "internal/gone"}},
	}
	m := func(p string) string { return Module + "/" + p }
	pkgs := []Package{
		{ImportPath: m("internal/a"), Imports: []string{"fmt", m("internal/c")}},
		{ImportPath: m("internal/b"), Imports: []string{m("internal/a")}},
		{ImportPath: m("internal/c"), Imports: []string{m("internal/a"), "example.com/other/internal/z"}},
		{ImportPath: m("internal/new"), Imports: []string{m("internal/a")}},
	}
	got := Check(table, pkgs)
	want := []string{
		"internal/a (layer 0, low) imports internal/c (layer 1, high)",
		"internal/b (layer 0, low) imports internal/a (layer 0, low)",
		"internal/gone is listed in layer 1 (high) but is not a package of the module",
		"internal/new is in no layer",
	}
	if len(got) != len(want) {
		t.Fatalf("Check reported %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("problem %d = %q, want it to begin %q", i, got[i], w)
		}
	}

	// The real table with one upward import added to the real graph.
	real := listModule(t)
	i := slices.IndexFunc(real, func(p Package) bool { return p.ImportPath == m("internal/model") })
	if i < 0 {
		t.Fatal("go list did not report internal/model")
	}
	real[i].Imports = append(real[i].Imports, m("internal/app"))
	if got := Check(Layers, real); len(got) != 1 || !strings.HasPrefix(got[0], "internal/model (layer 0, plain data and leaves) imports internal/app (layer 10, assembly)") {
		t.Errorf("an added import internal/model -> internal/app was reported as %q", got)
	}
}

// listModule runs go list over the module this test is in.
func listModule(t *testing.T) []Package {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "list", "-json=ImportPath,Imports", Module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, stderr.String())
	}
	var pkgs []Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p Package
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}
