package fleet_test

import (
	"sync"
	"testing"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
)

// Replicas starting together on one empty PostgreSQL schema migrate it
// once: each waits for the others' migration instead of failing on it.
func TestConcurrentMigrations(t *testing.T) {
	engines := cloudtest.Engines(t)
	newEngine, ok := engines[fleet.Postgres]
	if !ok {
		t.Skipf("%s is not set: concurrent migrations are a PostgreSQL matter", cloudtest.EnvPostgres)
	}
	e := newEngine(t)
	const replicas = 6
	var wg sync.WaitGroup
	errs := make(chan error, replicas)
	for range replicas {
		wg.Go(func() {
			s, err := fleet.Open(ctx, fleet.Options{Driver: e.Driver, DSN: e.DSN})
			if err == nil {
				_, err = s.Sites(ctx)
				s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a replica: %v", err)
		}
	}
}
