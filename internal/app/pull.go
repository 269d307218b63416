package app

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/accord-iam/accord/internal/audit"
	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/notify"
	"github.com/accord-iam/accord/internal/pace"
	"github.com/accord-iam/accord/internal/source"
	"github.com/accord-iam/accord/internal/store"
)

// pullSource is an http source's client and pacing, kept between pulls
// (connections, an OAuth2 token, the rate limit, a Retry-After hold).
type pullSource struct {
	mu     sync.Mutex // one pull of a source at a time
	puller *source.Puller
	pace   *pace.Target
}

func (a *App) openPulls() error {
	a.pulls = map[string]*pullSource{}
	for i := range a.Cfg.Sources {
		s := &a.Cfg.Sources[i]
		if s.Format != "http" {
			continue
		}
		p, err := s.NewPuller(source.PullOptions{Now: a.Now})
		if err != nil {
			return err
		}
		rl := s.HTTP.RateLimit
		a.pulls[s.Name] = &pullSource{puller: p,
			pace: pace.New("source:"+s.Name, pace.Settings{Concurrency: 1, PerSecond: rl.PerSecond, Burst: rl.Burst}, pace.Options{})}
	}
	return nil
}

func (a *App) closePulls(ctx context.Context) {
	for name, p := range a.pulls {
		if err := p.puller.Close(ctx); err != nil {
			a.Log.Warn("close source client", "source", name, "error", err)
		}
	}
}

// pull reads an http source whole, its persons spooled to disk, and
// applies it: a full read replaces
// the source's persons (those left out go missing), a delta changes only
// the persons it holds, a 304 changes none. The pull state advances in
// the import's transaction, so a pull that fails or is refused leaves it
// where it was and the next pull asks for the same changes again.
func (a *App) pull(ctx context.Context, s *source.Spec) (ImportSummary, error) {
	ps, ok := a.pulls[s.Name]
	if !ok {
		return ImportSummary{}, fmt.Errorf("source %s: not opened for pulling", s.Name)
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	st, err := a.Store.PullState(ctx, s.Name)
	if err != nil {
		return ImportSummary{}, fmt.Errorf("source %s: %w", s.Name, err)
	}
	// Every request of the pull is audited (redacted by httpx), whether
	// the pull is applied or not: a failed pull's evidence matters most.
	var (
		exMu      sync.Mutex
		exchanges []audit.Record
	)
	sink := audit.SinkFunc(func(_ context.Context, recs ...audit.Record) {
		exMu.Lock()
		defer exMu.Unlock()
		for _, r := range recs {
			r.Actor = "accord"
			exchanges = append(exchanges, r)
		}
	})
	pctx := audit.WithCall(ps.pace.With(ctx), audit.Call{Target: "source:" + s.Name, Operation: "pull", Sink: sink})
	res, err := ps.puller.Pull(pctx, source.PullState{ETag: st.ETag, Watermark: st.Watermark, LastFull: st.LastFull})
	if res != nil {
		defer func() { _ = res.Close() }()
	}
	exMu.Lock()
	recs := exchanges
	exMu.Unlock()
	if aerr := a.Store.AppendAudit(ctx, recs); aerr != nil && err == nil {
		return ImportSummary{}, fmt.Errorf("source %s: the pull's requests could not be audited, so it is not applied: %w", s.Name, aerr)
	}
	if err != nil {
		return ImportSummary{}, err
	}
	next := &store.PullState{ETag: res.State.ETag, Watermark: res.State.Watermark, LastFull: res.State.LastFull}
	o := feedOptions{partial: res.Delta || res.NotModified, pull: next}
	mode := "full"
	switch {
	case res.NotModified:
		mode = "not_modified"
		o.note = "; the API answered 304 Not Modified to the last full read's ETag: nothing changed"
	case res.Delta:
		mode = "delta"
		o.note = fmt.Sprintf("; a delta read of changes since %s: nobody is missing by omission", st.Watermark.Format("2006-01-02T15:04:05Z07:00"))
	}
	if res.Waited > 0 {
		o.note += fmt.Sprintf("; waited %s for the API's rate limit", res.Waited)
	}
	each := func(fn func(model.Person) error) error { return res.Each(ctx, fn) }
	sum, err := a.applyFeed(ctx, s, each, res.Rekeys, o)
	if err != nil {
		return ImportSummary{}, err
	}
	sum.Pull, sum.Pages = mode, res.Pages
	return sum, nil
}

// alertSource raises source.failed for an import that changed nothing:
// a rejected feed, a pull that failed part way.
func (a *App) alertSource(ctx context.Context, s *source.Spec, err error) {
	details := map[string]any{"source": s.Name, "format": s.Format}
	var (
		rep *source.Report
		pe  *source.PullError
	)
	msg := err.Error()
	switch {
	case errors.As(err, &rep):
		msg = rep.Summary()
		details["bad_records"] = rep.BadRows
	case errors.As(err, &pe):
		details["page"] = pe.Page
	}
	a.Notifier.Notify(ctx, notify.Event{Kind: notify.SourceFailed, Time: a.Now(), Message: msg, Details: details})
}
