package recon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/accord-iam/accord/internal/connector"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/pace"
	"github.com/accord-iam/accord/internal/store"
)

// discoverer is a connector whose capabilities come from the target
// itself (SCIM discovery). Discover runs that discovery unless it has
// run already, single-flight.
type discoverer interface {
	Discover(ctx context.Context) error
}

// indexBatch is how many correlation keys go to the store at once.
const indexBatch = 2000

// buildIndex writes the correlation index of this reconciliation: every
// person's value under every rule, streamed from the store. Interrupted,
// it is simply built again (the writes are idempotent).
func (r *run) buildIndex(ctx context.Context) error {
	rules := r.tcfg.Reconcile.Correlate
	if len(rules) > 0 {
		var batch []store.ReconKey
		flush := func() error {
			err := r.env.Store.PutReconKeys(ctx, r.rec.ID, batch)
			batch = batch[:0]
			return err
		}
		err := r.env.Store.EachPerson(ctx, func(p model.Person) error {
			for i, rule := range rules {
				if v := personValue(&p, rule); v != "" {
					batch = append(batch, store.ReconKey{Rule: i + 1, Value: v, PersonKey: p.Key})
				}
			}
			if len(batch) >= indexBatch {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			return fmt.Errorf("correlation index: %w", err)
		}
	}
	r.rec.Phase = store.ReconAccounts
	// Memberships come with the accounts when the connector reads them
	// there; otherwise a second listing reads them per entitlement. A
	// connector that learns this from the target asks it first: a fresh
	// process has not discovered anything yet.
	if d, ok := r.conn.(discoverer); ok {
		if err := r.retry(ctx, "discovery", func() error { return d.Discover(ctx) }); err != nil {
			return err
		}
	}
	r.rec.EntitlementsRead = r.conn.Capabilities().EntitlementsOnRead
	return r.save(ctx, nil)
}

// readAccounts reads account pages from the saved cursor on, saving each
// page, correlated, with the cursor after it.
func (r *run) readAccounts(ctx context.Context) error {
	corr := &correlator{st: r.env.Store, target: r.rec.Target, reconID: r.rec.ID, rules: r.tcfg.Reconcile.Correlate}
	r.progress(-1)
	for {
		cursor := r.rec.Cursor
		var page connector.Page[connector.Account]
		var mark string
		err := r.retry(ctx, "list accounts", func() error {
			var err error
			if dl := r.deltaLister(); dl != nil {
				page, mark, err = dl.ListAccountsChanged(ctx, r.rec.Watermark, cursor)
			} else {
				page, err = r.conn.ListAccounts(ctx, cursor)
			}
			return err
		})
		if err != nil {
			return err
		}
		if page.Next != "" && page.Next == cursor {
			return fmt.Errorf("list accounts: the connector answered cursor %q with the same cursor", cursor)
		}
		now := r.env.Now()
		obs, err := corr.page(ctx, page.Items, now)
		if err != nil {
			return err
		}
		r.rec.Pages++
		r.rec.Accounts += len(page.Items)
		r.rec.Cursor = page.Next
		if page.Next == "" {
			if r.deltaLister() != nil {
				r.rec.Watermark = mark
			}
			r.rec.Phase = store.ReconClassify
			if !r.rec.EntitlementsRead && r.conn.Capabilities().ListEntitlements {
				r.rec.Phase = store.ReconEntitlements
			}
		}
		if err := r.save(ctx, &store.ReconPage{Accounts: obs}); err != nil {
			return err
		}
		r.progress(page.Total)
		if page.Next == "" {
			return nil
		}
	}
}

// readMemberships lists entitlements with their members, for targets that
// do not report memberships on the account.
func (r *run) readMemberships(ctx context.Context) error {
	r.progress(-1)
	for {
		cursor := r.rec.Cursor
		var page connector.Page[connector.Entitlement]
		err := r.retry(ctx, "list entitlements", func() error {
			var err error
			page, err = r.conn.ListEntitlements(ctx, cursor)
			return err
		})
		if err != nil {
			return err
		}
		if page.Next != "" && page.Next == cursor {
			return fmt.Errorf("list entitlements: the connector answered cursor %q with the same cursor", cursor)
		}
		var mems []store.ObservedMembership
		for _, e := range page.Items {
			for _, m := range e.Members {
				mems = append(mems, store.ObservedMembership{NativeID: m, Entitlement: e.ID})
			}
		}
		r.rec.Pages++
		r.rec.Memberships += len(mems)
		r.rec.Cursor = page.Next
		if page.Next == "" {
			r.rec.Phase, r.rec.EntitlementsRead = store.ReconClassify, true
		}
		if err := r.save(ctx, &store.ReconPage{Memberships: mems}); err != nil {
			return err
		}
		r.progress(page.Total)
		if page.Next == "" {
			return nil
		}
	}
}

// retry calls f until it succeeds, fails for good, or the target's retry
// budget is spent. Transient failures (rate limited, unavailable,
// timeout) wait as the target asks, or back off.
func (r *run) retry(ctx context.Context, what string, f func() error) error {
	rt := r.tcfg.Retry
	for attempt := 1; ; attempt++ {
		if !r.conn.Capabilities().GatesRequests {
			// The connector does not pass its requests through the gate
			// itself: each call waits for it instead.
			if err := connector.GateFrom(ctx)(ctx); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
		}
		err := f()
		if err == nil {
			return nil
		}
		var ce *connector.Error
		if ctx.Err() != nil || !errors.As(err, &ce) || attempt >= max(rt.MaxAttempts, 1) {
			return fmt.Errorf("%s: %w", what, err)
		}
		switch ce.Kind {
		case connector.RateLimited, connector.Unavailable, connector.Timeout, connector.Unknown:
		default:
			return fmt.Errorf("%s: %w", what, err)
		}
		wait := max(pace.Backoff(rt.Base, rt.Max, attempt), ce.RetryAfter)
		r.env.Log.Warn("reconciliation: retrying", "target", r.rec.Target, "what", what, "attempt", attempt, "wait", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}
