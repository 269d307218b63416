package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
	"github.com/accord-iam/accord/internal/testkit"
)

// The kill loops of issue 11: `accord serve` killed with SIGKILL at random
// moments against a target that accepts duplicate user names, so that
// only accord's own bookkeeping (in-doubt creates looked up before they
// are repeated, one unfinished job per person, fenced leases) stands
// between a crash and a second account.

// TestServeKilledAgainstDuplicatingTargetMakesNoDuplicates: one SQLite
// daemon, killed several times during a 300-person run and restarted,
// then left to finish: the target holds exactly what policy says and no
// person has two accounts.
func TestServeKilledAgainstDuplicatingTargetMakesNoDuplicates(t *testing.T) {
	const persons, kills = 300, 8
	w := newE2EWith(t, persons, 8, targetsim.Options{AllowDuplicates: true}, withAPI)
	// A little latency keeps requests in flight when the kill comes.
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultLatency, Delay: targetsim.Duration(2 * time.Millisecond)})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(11, 11))
	n := startNode(t, w.dir, "serve", false)
	for range kills {
		waitForRequests(t, w.sim, len(w.sim.Requests())+1+rng.IntN(persons), n)
		n.kill(t)
		n = startNode(t, w.dir, "serve", false)
	}
	waitConverged(t, w, persons, 90*time.Second, n)
	n.kill(t)
	requireNoDuplicates(t, w.sim)
	w.checkExact(t, persons)
	requireAllDone(t, openStore(t, w.dir))
}

// clusterPersons is the size of the cluster kill loop's run: small enough
// for CI on two cores; ACCORD_CLUSTER_PERSONS raises it (the issue's
// 2,000) for a long run.
var clusterPersons = envInt("ACCORD_CLUSTER_PERSONS", 300)

// The cluster test's target limits, for all nodes together.
const clusterLimit, clusterBurst = 150, 10

// TestClusterKilledNodesMakeNoDuplicates: three `accord serve` nodes on
// one PostgreSQL (a schema of the test's own), one of them in its own PID
// namespace as in a container, killed at random and restarted during a
// run while enforce calls race on every node. Afterwards the target
// equals policy, no person has two accounts, every action is done, and
// no action was ever being executed by two nodes at once (no two
// requests of one action overlap at the target).
//
// Until the store enforces one unfinished job per person and fences
// leases (issue 11, branch h1), the racing enforce calls and a node in
// another PID namespace can make this fail; it asserts the full promise.
func TestClusterKilledNodesMakeNoDuplicates(t *testing.T) {
	ownNS := pidNamespaceAvailable(t)
	dsn := testkit.PostgresSchema(t)
	t.Setenv("ACCORD_DSN", dsn)
	persons := clusterPersons
	w := newE2EWith(t, persons, 4, targetsim.Options{AllowDuplicates: true}, func(cfg string) string {
		cfg = strings.Replace(cfg, "    concurrency: 4\n", fmt.Sprintf("    concurrency: 4\n    rate_limit: {per_second: %d, burst: %d}\n", clusterLimit, clusterBurst), 1)
		return withAPI(strings.Replace(cfg, "store:\n  path: accord.db\n", "store:\n  driver: postgres\n  dsn: ${env:ACCORD_DSN}\n", 1))
	})
	_, err := w.sim.AddFault(targetsim.Rule{Kind: targetsim.FaultLatency, Delay: targetsim.Duration(2 * time.Millisecond)})
	require.NoError(t, err)
	code, out := accord(t, w.dir, "keys", "create", "--name", "killloop", "--scope", "actions:write", "--json", "-c", "accord.yaml")
	require.Equal(t, 0, code, out)
	var key struct{ Key string }
	require.NoError(t, json.Unmarshal([]byte(out), &key))

	var all started
	nodes := make([]*node, 3)
	for i := range nodes {
		nodes[i] = all.add(startNode(t, w.dir, "node"+strconv.Itoa(i), ownNS && i == 0))
	}
	// Every node plans at start, and enforce calls race on all of them.
	raceEnforce(t, nodes, key.Key)

	rng := rand.New(rand.NewPCG(5, 17))
	for k := range 6 {
		waitForRequests(t, w.sim, len(w.sim.Requests())+1+rng.IntN(persons), nodes...)
		i := rng.IntN(len(nodes))
		nodes[i].kill(t)
		nodes[i] = all.add(startNode(t, w.dir, nodes[i].name, nodes[i].ownNS))
		if k == 2 {
			raceEnforce(t, nodes, key.Key)
		}
	}
	waitConverged(t, w, persons, 120*time.Second, nodes...)
	for _, n := range nodes {
		n.kill(t)
	}

	// Each promise is reported on its own, so that one broken promise
	// does not hide another.
	reqs := w.sim.Requests()
	inFlight, perSecond := observedPacing(w.sim, reqs)
	t.Logf("%d persons, %d requests; at the target: at most %d in flight, %d in one second", persons, len(reqs), inFlight, perSecond)
	// The limits are the cluster's, not each node's (issue 11: 2 nodes at
	// 20/s sent 40/s; 3 nodes with concurrency 4 had 11 in flight).
	if inFlight > 4 {
		t.Errorf("the target saw %d requests in flight at once; the cluster's concurrency is 4", inFlight)
	}
	if perSecond > clusterLimit+clusterBurst {
		t.Errorf("the target saw %d requests in one second; the cluster's rate_limit is %d/s with a burst of %d", perSecond, clusterLimit, clusterBurst)
	}
	overlaps := targetsim.Overlaps(reqs, actionOf)
	for i, o := range overlaps {
		if i == 10 {
			t.Errorf("... %d more", len(overlaps)-i)
			break
		}
		t.Errorf("action %s executed twice at once: %s %s at %s..%s and %s %s at %s..%s", o.Key,
			o.First.Method, o.First.Path, o.First.Time.Format(time.StampMicro), o.First.Done.Format(time.StampMicro),
			o.Then.Method, o.Then.Path, o.Then.Time.Format(time.StampMicro), o.Then.Done.Format(time.StampMicro))
	}
	st := openStore(t, w.dir)
	if dups := duplicates(w.sim); len(dups) > 0 {
		t.Errorf("%d persons with more than one account: %v", len(dups), dups[:min(len(dups), 10)])
		explainDuplicates(t, w.sim, st, reqs, dups, all)
	}
	w.checkExact(t, persons)
	requireAllDone(t, st)
}

// observedPacing is what the target saw of the cluster's pacing: the most
// requests in flight at once and in any one second. With cluster-wide
// limits (issue 11, branch h3) a test configures concurrency and
// rate_limit and asserts these stay within them (rate: per_second plus
// burst).
func observedPacing(sim *targetsim.Sim, reqs []targetsim.Request) (inFlight, perSecond int) {
	return sim.MaxInFlight(), targetsim.MaxRate(reqs, time.Second)
}

// actionOf keys a request by the action it was sent for ("" for requests
// of no action: discovery, reconciliation).
func actionOf(r targetsim.Request) string {
	corr := r.Header.Get("X-Correlation-ID")
	if _, id, ok := strings.Cut(corr, "/"); ok && id != "" {
		return corr
	}
	return ""
}

func withAPI(cfg string) string { return cfg + "api:\n  listen: 127.0.0.1:0\n" }

// pidNamespaceAvailable reports whether a node can be started in its own
// PID namespace (unshare, as root). Under ACCORD_REQUIRE_SERVICES its
// absence fails the test: CI must run the case the issue is about.
func pidNamespaceAvailable(t *testing.T) bool {
	t.Helper()
	err := exec.Command("unshare", "--pid", "--fork", "--kill-child", "true").Run()
	if err == nil {
		return true
	}
	if os.Getenv("ACCORD_REQUIRE_SERVICES") != "" {
		t.Fatalf("a node in its own PID namespace is required (ACCORD_REQUIRE_SERVICES is set), but `unshare --pid --fork` failed: %v (needs util-linux and root)", err)
	}
	t.Logf("no PID namespace (`unshare --pid --fork`: %v): every node shares the test's", err)
	return false
}

// node is one `accord serve` process.
type node struct {
	name   string
	ownNS  bool
	cmd    *exec.Cmd
	out    *testkit.SyncBuffer
	api    chan string // the API address, once listening
	addr   string
	exited chan error
	killed bool
}

// startNode starts `accord serve` in dir, in a PID namespace of its own
// when ownNS (killing unshare then kills the node: --kill-child).
func startNode(t testing.TB, dir, name string, ownNS bool) *node {
	t.Helper()
	return startNodeWith(t, dir, name, "accord.yaml", ownNS)
}

// startNodeWith is startNode with a config file of the node's own.
func startNodeWith(t testing.TB, dir, name, config string, ownNS bool) *node {
	t.Helper()
	cmd := accordCmd(t, dir, "serve", "-c", config)
	if ownNS {
		unshare, err := exec.LookPath("unshare")
		require.NoError(t, err)
		cmd.Args = append([]string{"unshare", "--pid", "--fork", "--kill-child", cmd.Path}, cmd.Args[1:]...)
		cmd.Path = unshare
	}
	n := &node{name: name, ownNS: ownNS, cmd: cmd, out: &testkit.SyncBuffer{}, api: make(chan string, 1), exited: make(chan error, 1)}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	cmd.Stdout = n.out
	require.NoError(t, cmd.Start())
	go func() {
		re := regexp.MustCompile(`msg="API listening" addr=(\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			n.out.WriteString(line + "\n")
			if m := re.FindStringSubmatch(line); m != nil {
				select {
				case n.api <- m[1]:
				default:
				}
			}
		}
		n.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if !n.killed {
			_ = n.cmd.Process.Kill()
			select {
			case <-n.exited:
			case <-time.After(10 * time.Second): // its exit was taken by a failing wait
			}
		}
	})
	return n
}

// kill ends the node with SIGKILL and waits for it to be gone.
func (n *node) kill(t testing.TB) {
	t.Helper()
	require.NoError(t, n.cmd.Process.Kill())
	<-n.exited
	n.killed = true
}

// apiAddr waits for the node's API to listen.
func (n *node) apiAddr(t testing.TB) string {
	t.Helper()
	if n.addr != "" {
		return n.addr
	}
	select {
	case n.addr = <-n.api:
		return n.addr
	case err := <-n.exited:
		t.Fatalf("%s exited before its API listened: %v\n%s", n.name, err, n.out)
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: the API did not listen within a minute\n%s", n.name, n.out)
	}
	return ""
}

// raceEnforce sends POST /api/v1/enforce to every node at once. Each is
// answered with a run, nothing to do, or a refusal naming the run that
// already holds the persons; never a server error.
func raceEnforce(t *testing.T, nodes []*node, key string) {
	t.Helper()
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.apiAddr(t)
	}
	type answer struct {
		status int
		body   string
		err    error
	}
	answers := make(chan answer, len(addrs))
	start := make(chan struct{})
	for _, a := range addrs {
		go func() {
			<-start
			req, _ := http.NewRequest("POST", "http://"+a+"/api/v1/enforce", strings.NewReader("{}"))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- answer{err: err}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers <- answer{status: resp.StatusCode, body: string(b)}
		}()
	}
	close(start)
	for range addrs {
		a := <-answers
		require.NoError(t, a.err)
		require.Less(t, a.status, 500, "enforce answered %d: %s", a.status, a.body)
	}
}

// waitForRequests waits until the target has seen want requests; a node
// exiting by itself meanwhile fails the test. Across processes there is
// no event to wait on: this polls.
func waitForRequests(t testing.TB, sim *targetsim.Sim, want int, nodes ...*node) {
	t.Helper()
	// Only a guard against a hang: under -race beside other packages on
	// two cores, a node restarted after a kill has been seen to need more
	// than a minute before the cluster sends again (slots and leases of the
	// killed node expire first).
	deadline := time.Now().Add(3 * time.Minute)
	for len(sim.Requests()) < want {
		for _, n := range nodes {
			select {
			case err := <-n.exited:
				t.Fatalf("%s exited by itself: %v\n%s", n.name, err, n.out)
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the target saw %d requests, waiting for %d", len(sim.Requests()), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitConverged waits until the target has an account per person and the
// store no unfinished run; a node exiting meanwhile fails the test.
func waitConverged(t testing.TB, w *e2eWorld, persons int, limit time.Duration, nodes ...*node) {
	t.Helper()
	st := openStore(t, w.dir)
	ctx := context.Background()
	deadline := time.Now().Add(limit)
	for {
		users := len(w.sim.SCIM().Users())
		runs, err := st.ListRuns(ctx, store.RunQuery{States: []model.RunState{model.RunPending, model.RunRunning, model.RunHeld}})
		require.NoError(t, err)
		if users >= persons && len(runs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			var logs strings.Builder
			for _, n := range nodes {
				fmt.Fprintf(&logs, "--- %s\n%s", n.name, n.out)
			}
			t.Fatalf("not done after %s: %d users for %d persons, unfinished runs %+v\n%s", limit, users, persons, runs, logs.String())
		}
		for _, n := range nodes {
			select {
			case err := <-n.exited:
				t.Fatalf("%s exited: %v\n%s", n.name, err, n.out)
			default:
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func requireNoDuplicates(t testing.TB, sim *targetsim.Sim) {
	t.Helper()
	require.Empty(t, duplicates(sim), "persons with more than one account")
}

// duplicates lists the user names held by more than one account, with
// their count, in order.
func duplicates(sim *targetsim.Sim) []string {
	var dups []string
	for name, n := range sim.SCIM().UserNameCounts() {
		if n > 1 {
			dups = append(dups, fmt.Sprintf("%s (%d)", name, n))
		}
	}
	slices.Sort(dups)
	return dups
}

// requireAllDone: every action succeeded (or was cancelled by a newer
// plan), none left running, pending or failed.
func requireAllDone(t testing.TB, st store.Store) {
	t.Helper()
	acts, err := st.ListActions(context.Background(), store.ActionQuery{})
	require.NoError(t, err)
	require.NotEmpty(t, acts)
	for _, a := range acts {
		require.Contains(t, []model.ActionState{model.ActionSucceeded, model.ActionCancelled}, a.State,
			"action %d %s %s: %+v", a.ID, a.Op, a.PersonKey, a.Error)
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(cmp.Or(os.Getenv(name), "x")); err == nil && n > 0 {
		return n
	}
	return def
}

// TestSimulatorAllowDuplicatesFlag: `accord simulator --allow-duplicates`
// takes a second user with a taken userName, as the kill loops' target
// does; without the flag the second is refused with 409.
func TestSimulatorAllowDuplicatesFlag(t *testing.T) {
	for _, c := range []struct {
		flags  []string
		second int
	}{
		{[]string{"--allow-duplicates"}, http.StatusCreated},
		{nil, http.StatusConflict},
	} {
		cmd := accordCmd(t, t.TempDir(), append([]string{"simulator", "--listen", "127.0.0.1:0"}, c.flags...)...)
		cmd.Env = append(cmd.Env, simTokenEnv+"=") // no token: this is about duplicates
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		sc := bufio.NewScanner(stdout)
		require.True(t, sc.Scan(), "the simulator prints its base URL")
		base := strings.TrimSpace(sc.Text())
		post := func() int {
			resp, err := http.Post(base+"/scim/v2/Users", "application/scim+json",
				strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@example.com"}`))
			require.NoError(t, err)
			resp.Body.Close()
			return resp.StatusCode
		}
		require.Equal(t, http.StatusCreated, post(), "%v", c.flags)
		require.Equal(t, c.second, post(), "%v", c.flags)
	}
}
