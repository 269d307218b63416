package main

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Commands and serve components are wired in one explicit list each
// (rootCmd, serveHooks), never by a file's init.
func TestCommandsAreWiredByOneList(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		require.NoError(t, err)
		for _, d := range file.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "init" {
				t.Errorf("%s: func init wires by side effect; add to the list in rootCmd or serveHooks", fset.Position(fd.Pos()))
			}
		}
	}

	var out, errOut bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"--help"}, &out, &errOut), errOut.String())
	for _, name := range []string{"keys", "reconcile", "drift", "access-report", "targets", "healthcheck", "version", "serve"} {
		require.Regexp(t, `(?m)^  `+name+` `, out.String())
	}
}
