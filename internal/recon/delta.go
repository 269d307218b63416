package recon

import (
	"context"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/store"
)

// DeltaLister is a connector that can list only the accounts changed
// since a watermark of its own making (an LDAP directory's
// modifyTimestamp), so that reconciling a large target reads what
// changed, not everything.
type DeltaLister interface {
	// ListAccountsChanged pages like ListAccounts through the accounts
	// changed at or after since ("": every account). On the last page
	// (Next == "") watermark is what to pass as since next time.
	ListAccountsChanged(ctx context.Context, since, cursor string) (page connector.Page[connector.Account], watermark string, err error)
}

// deltaLister is the connector as a DeltaLister when the target's
// config asks for delta reconciliation, else nil.
func (r *run) deltaLister() DeltaLister {
	if !r.tcfg.Reconcile.Delta {
		return nil
	}
	dl, _ := r.conn.(DeltaLister)
	return dl
}

// planDelta decides whether a new reconciliation reads only changes: with
// delta configured, a connector that can, and the watermark of the last
// finished reconciliation, unless the last full_every-1 were all deltas.
// A full one (Watermark "") still ends with a watermark for the next.
func (r *run) planDelta(ctx context.Context) error {
	r.rec.Delta, r.rec.Watermark = false, ""
	if r.deltaLister() == nil {
		return nil
	}
	every := r.tcfg.Reconcile.FullEveryOrDefault()
	if every <= 1 {
		return nil
	}
	recent, err := r.env.Store.ListRecons(ctx, store.ReconQuery{Target: r.rec.Target, Limit: every + 1})
	if err != nil {
		return err
	}
	deltas := 0
	var last *store.Recon
	for i := range recent {
		rc := &recent[i]
		if rc.ID == r.rec.ID || rc.Phase != store.ReconDone || rc.DryRun {
			continue
		}
		if last == nil {
			last = rc
		}
		if !rc.Delta {
			break
		}
		deltas++
	}
	if last == nil || last.Watermark == "" || deltas >= every-1 {
		return nil
	}
	r.rec.Delta, r.rec.Watermark = true, last.Watermark
	return nil
}
