package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/plan"
	"github.com/accord-iam/accord/internal/targetsim"
)

// planRows counts the action rows of `accord plan` text output.
func planRows(out string) int {
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "  E") {
			n++
		}
	}
	return n
}

// TestPlanLargeSummarizesAllAndJSONLines: a plan over the row limit
// lists the first rows, then the counts, the thresholds and the flag
// that lists the rest; --all lists every row; --json is JSON lines whose
// action lines number what the summary line says, and what --all lists.
func TestPlanLargeSummarizesAllAndJSONLines(t *testing.T) {
	// 150 joiners (a create and grants each), over a creates limit of 100.
	w := newE2EWith(t, 150, 2, targetsim.Options{}, func(cfg string) string {
		return strings.Replace(cfg, `creates: "100000"`, `creates: "100"`, 1)
	})
	code, out := accord(t, w.dir, "import", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)

	code, out = accord(t, w.dir, "plan", "-c", "accord.yaml", "--json")
	require.Equal(t, 0, code, out)
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	actions, lines := 0, 0
	var summary struct {
		Type    string                    `json:"type"`
		Actions int                       `json:"actions"`
		Persons int                       `json:"persons"`
		Held    bool                      `json:"held"`
		Summary map[string]map[string]int `json:"summary"`
	}
	for sc.Scan() {
		lines++
		var line struct {
			Type   string `json:"type"`
			Person string `json:"person"`
			Op     string `json:"op"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), "line %d: %s", lines, sc.Text())
		switch line.Type {
		case "action":
			require.Equal(t, 0, summary.Actions, "no action after the summary")
			require.NotEmpty(t, line.Person)
			actions++
		case "summary":
			require.NoError(t, json.Unmarshal(sc.Bytes(), &summary))
		default:
			t.Fatalf("line %d has type %q", lines, line.Type)
		}
	}
	require.NoError(t, sc.Err())
	require.Equal(t, "summary", summary.Type, "the last line is the summary")
	require.Greater(t, actions, planRowLimit)
	require.Equal(t, actions, summary.Actions)
	require.Equal(t, 150, summary.Persons)
	require.Equal(t, 150, summary.Summary["saas"]["create_account"])
	require.True(t, summary.Held, "150 creates are over the limit of 100")

	code, out = accord(t, w.dir, "plan", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	require.Equal(t, planRowLimit, planRows(out), out)
	require.Contains(t, out, "… and "+strconv.Itoa(actions-planRowLimit)+" more actions not listed")
	require.Contains(t, out, "Summary: "+strconv.Itoa(actions)+" actions for 150 persons: saas: 150 creates")
	require.Contains(t, out, "Thresholds: this run would be HELD for approval: overall creates: 150 planned, limit 100")
	require.Contains(t, out, "add --all to list every row")

	code, out = accord(t, w.dir, "plan", "-c", "accord.yaml", "--all")
	require.Equal(t, 0, code, out)
	require.Equal(t, actions, planRows(out))
	require.NotContains(t, out, "more actions not listed")
	require.NotContains(t, out, "add --all")
}

// failingWriter takes up to room bytes, then fails every write; it keeps
// the size of the largest single write.
type failingWriter struct {
	room, taken, largest, writes int
}

var errNoRoom = errors.New("no room left on the device")

func (f *failingWriter) Write(p []byte) (int, error) {
	f.writes++
	f.largest = max(f.largest, len(p))
	if f.taken+len(p) > f.room {
		return 0, errNoRoom
	}
	f.taken += len(p)
	return len(p), nil
}

// TestPlanJSONWritesAsItGoes: `plan --json` hands its output on in
// bounded pieces while planning (no write larger than the buffer, where
// a document built whole would come in one), and an output that fails
// stops the command with that error instead of planning on.
func TestPlanJSONWritesAsItGoes(t *testing.T) {
	w := newE2E(t, 300, 2)
	code, out := accord(t, w.dir, "import", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	t.Setenv("ACCORD_SIM_TOKEN", "sim-secret-token")

	// What the whole output weighs, for comparison.
	var whole bytes.Buffer
	var errOut bytes.Buffer
	require.Equal(t, 0, run(t.Context(), []string{"plan", "--json", "-c", filepath.Join(w.dir, "accord.yaml")}, &whole, &errOut), errOut.String())
	require.Greater(t, whole.Len(), 2*(64<<10), "the plan is several buffers long")

	fw := &failingWriter{room: 80 << 10}
	errOut.Reset()
	code = run(t.Context(), []string{"plan", "--json", "-c", filepath.Join(w.dir, "accord.yaml")}, fw, &errOut)
	require.Equal(t, exitFailed, code)
	require.Contains(t, errOut.String(), errNoRoom.Error())
	require.LessOrEqual(t, fw.largest, 64<<10, "written in buffer-sized pieces, never whole")
	require.LessOrEqual(t, fw.taken, 80<<10)
	require.Greater(t, fw.taken, 0, "output came while planning")
	require.LessOrEqual(t, fw.writes, 3, "nothing more is tried after the failure")
}

// TestPlanListsTheFirstBusyPairsAndCountsTheRest: with a pending run
// holding every person's account, the plan lists the first busy pairs it
// keeps (plan.BusyShown) and says how many more there are, in text and
// in the JSON summary, instead of one row per pending pair.
func TestPlanListsTheFirstBusyPairsAndCountsTheRest(t *testing.T) {
	w := newE2EWith(t, 150, 2, targetsim.Options{}, nil)
	code, out := accord(t, w.dir, "import", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	code, out = accord(t, w.dir, "enforce", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)

	for _, args := range [][]string{{}, {"--all"}} {
		code, out = accord(t, w.dir, append([]string{"plan", "-c", "accord.yaml"}, args...)...)
		require.Equal(t, 0, code, out)
		require.Equal(t, plan.BusyShown, strings.Count(out, "  waiting: "), "%v: %s", args, out)
		require.Contains(t, out, "… and 50 more waiting (a plan lists the first 100)\n", args)
		require.Contains(t, out, "Summary: 0 actions for 150 persons", args)
	}

	code, out = accord(t, w.dir, "plan", "-c", "accord.yaml", "--json")
	require.Equal(t, 0, code, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var summary struct {
		Type     string            `json:"type"`
		Busy     []json.RawMessage `json:"busy"`
		BusyMore *int              `json:"busy_more"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &summary))
	require.Equal(t, "summary", summary.Type)
	require.Len(t, summary.Busy, plan.BusyShown)
	require.NotNil(t, summary.BusyMore)
	require.Equal(t, 50, *summary.BusyMore)
}
