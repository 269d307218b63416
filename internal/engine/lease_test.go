package engine

import (
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
)

// A job is sent for only while its lease is surely this engine's: a
// heartbeat that found the lease unexpired extends it; a late heartbeat,
// after the lease may have passed to another owner, does not revive it,
// and requests stop a third of a lease before the end.
func TestRequestsStopBeforeTheLeaseMayPass(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	now := t0
	e := &Engine{opts: Options{Lease: 3 * time.Second, Now: func() time.Time { return now }},
		commit: newCommitter(nil, slog.New(slog.DiscardHandler))}
	defer e.commit.Close()
	e.commit.leases.hold([]model.Job{{ID: 1, LeaseUntil: t0.Add(3 * time.Second)}, {ID: 2, LeaseUntil: t0.Add(3 * time.Second)}})

	require.NoError(t, e.stillLeased(1), "a fresh lease")
	require.ErrorIs(t, e.stillLeased(3), errLeaseLost, "a job this engine does not hold")

	now = t0.Add(2500 * time.Millisecond)
	require.ErrorIs(t, e.stillLeased(1), errLeaseLost, "half a second left: too little to send")

	// A heartbeat answered at 2.5 s, before the leases ended: both held
	// until 5.5 s.
	e.commit.leases.extended(now, now.Add(3*time.Second))
	require.NoError(t, e.stillLeased(1))

	// Job 2's next heartbeat comes late: its answer arrives after the
	// lease ended, when another owner may have it. It stays lost.
	now = t0.Add(6 * time.Second)
	e.commit.leases.extended(now, now.Add(3*time.Second))
	require.ErrorIs(t, e.stillLeased(2), errLeaseLost)
	require.ErrorIs(t, e.stillLeased(1), errLeaseLost)
}
