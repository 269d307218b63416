package httpx

import (
	"context"

	"golang.org/x/sync/singleflight"
)

// flight runs a target's warm-up (a session login, a token fetch) once
// for every caller that needs it at the same time: the callers that come
// while it is in flight wait for it and share its outcome, failure
// included, rather than each sending one of their own after it. A
// refused login is then sent once, not once per waiting request, which
// would lock out accounts that count failures.
//
// The warm-up runs under the context of the caller that started it, so
// it is audited under that caller's action and passes the gate in it
// like any request. A caller waits only as long as its own context
// allows. If the caller that started it gives up, its outcome is not
// the others': the callers still waiting start a new one.
type flight struct{ g singleflight.Group }

func (f *flight) do(ctx context.Context, run func(context.Context) error) error {
	for {
		ch := f.g.DoChan("", func() (any, error) {
			err := run(ctx)
			return ctx.Err() != nil, err // whether the caller running it left
		})
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-ch:
			if left, _ := r.Val.(bool); left && r.Err != nil && ctx.Err() == nil {
				continue
			}
			return r.Err
		}
	}
}
