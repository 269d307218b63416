package main

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/targetsim"
)

// A kill loop that finds a duplicate must say how it came about: which
// runs held work for the person, when each of their actions was created,
// attempted and finished, what the target was sent, and what the nodes
// logged about the person. Without that a rare failure is a guess.

// e2eUserName is the userName of the e2e world's person key ("E0024" is
// "p24@example.com", see newE2EWith); personOfUserName inverts it.
var e2eUserName = regexp.MustCompile(`^p(\d+)@example\.com`)

func personOfUserName(userName string) string {
	m := e2eUserName.FindStringSubmatch(userName)
	if m == nil {
		return ""
	}
	i, _ := strconv.Atoi(m[1])
	return fmt.Sprintf("E%04d", i)
}

// explainDuplicates logs, for each duplicated user (at most three), the
// person's story in the store, at the target and in the nodes' logs.
func explainDuplicates(t testing.TB, sim *targetsim.Sim, st store.Store, reqs []targetsim.Request, dups []string, nodes []*node) {
	t.Helper()
	for i, d := range dups {
		if i == 3 {
			t.Logf("(%d more duplicates not explained)", len(dups)-i)
			return
		}
		userName, _, _ := strings.Cut(d, " ")
		t.Logf("=== how %s came to have more than one account\n%s", userName, explainPerson(sim, st, reqs, userName, nodes))
	}
}

const stamp = "15:04:05.000000"

func explainPerson(sim *targetsim.Sim, st store.Store, reqs []targetsim.Request, userName string, nodes []*node) string {
	var b strings.Builder
	ctx := context.Background()
	key := personOfUserName(userName)
	fmt.Fprintf(&b, "person %s\n", key)

	ids := map[string]bool{}
	b.WriteString("-- users at the target\n")
	for _, u := range sim.SCIM().Users() {
		if name, _ := u.Attrs["userName"].(string); strings.EqualFold(name, userName) {
			ids[u.ID] = true
			fmt.Fprintf(&b, "user %s created %s\n", u.ID, u.Created.Format(stamp))
		}
	}
	b.WriteString("-- requests about the user (time..done, correlation, status)\n")
	for _, r := range reqs {
		about := strings.Contains(r.Body, userName) || strings.Contains(r.RawQuery, userName)
		for id := range ids {
			about = about || strings.Contains(r.Path, id)
		}
		if about {
			fmt.Fprintf(&b, "%s..%s %s %s?%s corr=%s status=%d\n", r.Time.Format(stamp), r.Done.Format(stamp),
				r.Method, r.Path, r.RawQuery, r.Header.Get("X-Correlation-ID"), r.Status)
		}
	}

	b.WriteString("-- actions of the person (id run job seq op state attempts created updated finished native error)\n")
	acts, err := st.ListActions(ctx, store.ActionQuery{PersonKey: key})
	if err != nil {
		fmt.Fprintf(&b, "list actions: %v\n", err)
	}
	var runIDs []string
	for _, a := range acts {
		fmt.Fprintf(&b, "%d %s job=%d seq=%d %s %s n=%d c=%s u=%s f=%s native=%q err=%v\n", a.ID, a.RunID, a.JobID, a.Seq, a.Op, a.State,
			a.Attempts, a.CreatedAt.Format(stamp), a.UpdatedAt.Format(stamp), a.FinishedAt.Format(stamp), a.NativeID, a.Error)
		if !slices.Contains(runIDs, a.RunID) {
			runIDs = append(runIDs, a.RunID)
		}
	}
	b.WriteString("-- their runs (id trigger scope state created updated finished note)\n")
	for _, id := range runIDs {
		r, err := st.GetRun(ctx, id)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", id, err)
			continue
		}
		fmt.Fprintf(&b, "%s %s %q %s c=%s u=%s f=%s note=%q\n", r.ID, r.Trigger, r.Scope, r.State,
			r.CreatedAt.Format(stamp), r.UpdatedAt.Format(stamp), r.FinishedAt.Format(stamp), r.Note)
	}
	b.WriteString("-- audit of the person (id time kind run action attempt op method url status outcome message)\n")
	recs, err := st.ListAudit(ctx, store.AuditQuery{PersonKey: key})
	if err != nil {
		fmt.Fprintf(&b, "list audit: %v\n", err)
	}
	for _, r := range recs {
		fmt.Fprintf(&b, "%d %s %s %s a=%d #%d %s %s %s %d %s %q\n", r.ID, r.Time.Format(stamp), r.Kind, r.RunID, r.ActionID,
			r.Attempt, r.Operation, r.Method, r.URL, r.Status, r.Outcome, r.Message)
	}
	if acct, err := st.GetAccount(ctx, "saas", key); err == nil {
		fmt.Fprintf(&b, "-- known saas account: native=%q state=%s\n", acct.NativeID, acct.State)
	}
	b.WriteString("-- node log lines naming the person or one of its runs\n")
	for _, n := range nodes {
		for line := range strings.Lines(n.out.String()) {
			if strings.Contains(line, key) || strings.Contains(line, userName) || slices.ContainsFunc(runIDs, func(id string) bool {
				return strings.Contains(line, id)
			}) {
				fmt.Fprintf(&b, "%s: %s", n.name, line)
			}
		}
	}
	return b.String()
}

// started collects every node a test started, killed ones included, so
// that a failure can show what each of them logged.
type started []*node

func (s *started) add(n *node) *node {
	*s = append(*s, n)
	return n
}
