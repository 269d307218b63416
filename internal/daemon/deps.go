package daemon

import (
	"context"
	"time"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/store"
)

// What the daemon needs of the store, declared here, by its consumer. The
// app opens the whole store.Store; the daemon's work reaches it only
// through these (reconciliation itself takes recon.State, which recon
// declares). A new store call adds one line here (DESIGN-NOTES, "Store
// interfaces per consumer").

// healthStore is what judging the targets' health reads: the attempts'
// outcomes over a window and the queue.
type healthStore interface {
	AttemptOutcomes(ctx context.Context, since time.Time) (map[string]store.Outcomes, error)
	QueueStats(ctx context.Context, now time.Time) (map[string]store.QueueStat, error)
}

// reconStore is what the requested and scheduled reconciliations need
// around recon's own work: the lease on a target's reconciliation, the
// audit of one that failed, and the latest ones (an unfinished one to
// resume, one done in this cycle by another node).
type reconStore interface {
	StartRecon(ctx context.Context, target, owner string, now, leaseUntil, cycle time.Time) (rec store.Recon, resumed bool, err error)
	ListRecons(ctx context.Context, q store.ReconQuery) ([]store.Recon, error)
	AppendAudit(ctx context.Context, recs []audit.Record) error
}

// The app's store is the whole store.Store; it must give each of these.
var (
	_ healthStore = store.Store(nil)
	_ reconStore  = store.Store(nil)
)

// reconsStore is the store the reconciliation jobs use.
func (d *Daemon) reconsStore() reconStore { return d.app.Store }
