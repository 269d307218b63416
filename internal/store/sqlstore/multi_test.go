package sqlstore_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/accord-iam/accord/internal/model"
	"github.com/accord-iam/accord/internal/store"
	"github.com/accord-iam/accord/internal/store/sqlstore"
)

// TestTwoStoresOneDatabase is two processes on one database: each has its
// own Store (its own pools), both lease and commit at once. No job may
// go to both, and neither may fail with a busy or locked database.
func TestTwoStoresOneDatabase(t *testing.T) {
	t.Parallel()
	dsns := map[string]func(t *testing.T) (string, string){
		"sqlite": func(t *testing.T) (string, string) {
			return "sqlite", filepath.Join(t.TempDir(), "shared.sqlite")
		},
		"postgres": func(t *testing.T) (string, string) {
			return "postgres", freshSchema(t, postgresDSN(t))
		},
	}
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			driver, d := dsn(t)
			var stores []*sqlstore.Store
			for range 2 {
				s, err := sqlstore.Open(t.Context(), driver, d)
				require.NoError(t, err)
				t.Cleanup(func() { _ = s.Close() })
				stores = append(stores, s)
			}
			const persons = 60
			run := model.Run{ID: "r1", State: model.RunPending, CreatedAt: time.Unix(1700000000, 0).UTC()}
			var jobs []model.Job
			for i := range persons {
				jobs = append(jobs, model.Job{PersonKey: fmt.Sprintf("E%02d", i), Target: "crm",
					Actions: []model.Action{{Seq: 1, Op: model.OpUpdate}}})
			}
			require.NoError(t, stores[0].CreateRun(t.Context(), &run, jobs))

			var (
				mu     sync.Mutex
				owner  = map[int64]string{}
				errs   []error
				dupes  []int64
				wg     sync.WaitGroup
				leaseT = run.CreatedAt.Add(time.Minute)
			)
			for w, s := range append(stores, stores...) { // two workers per store
				name := fmt.Sprintf("w%d", w)
				wg.Go(func() {
					for {
						got, err := s.LeaseJobs(t.Context(), store.LeaseRequest{Owner: name, Max: 4, Now: leaseT, Until: leaseT.Add(time.Hour)})
						if err != nil || len(got) == 0 {
							mu.Lock()
							if err != nil {
								errs = append(errs, err)
							}
							mu.Unlock()
							return
						}
						var b store.Batch
						mu.Lock()
						for _, j := range got {
							if _, dup := owner[j.ID]; dup {
								dupes = append(dupes, j.ID)
							}
							owner[j.ID] = name
							b.Jobs = append(b.Jobs, store.JobUpdate{ID: j.ID, State: model.JobSucceeded, At: leaseT})
							b.Actions = append(b.Actions, store.ActionUpdate{ID: j.Actions[0].ID, State: model.ActionSucceeded, At: leaseT})
						}
						mu.Unlock()
						if err := s.Commit(t.Context(), b); err != nil {
							mu.Lock()
							errs = append(errs, err)
							mu.Unlock()
							return
						}
					}
				})
			}
			wg.Wait()
			require.Empty(t, errs)
			require.Empty(t, dupes)
			require.Len(t, owner, persons)
		})
	}
}
