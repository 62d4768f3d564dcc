package rpc

import (
	"testing"
	"time"
)

// TestWorkerStaysForMoreWork: after its job a worker waits for the next
// one, so the next call reuses it (and its grown stack).
func TestWorkerStaysForMoreWork(t *testing.T) {
	w := &workers{jobs: make(chan func())}
	first, second := make(chan struct{}), make(chan struct{})
	w.run(func() { close(first) })
	<-first
	select {
	case w.jobs <- func() { close(second) }: // taken by the idle worker
	case <-time.After(10 * time.Second):
		t.Fatal("no idle worker took the second job")
	}
	<-second
}

// TestWorkersRunConcurrentJobsAtOnce: a job never waits for another
// connection's job; each busy worker is joined by a new one.
func TestWorkersRunConcurrentJobsAtOnce(t *testing.T) {
	w := &workers{jobs: make(chan func())}
	const n = 8
	started, release := make(chan struct{}, n), make(chan struct{})
	for range n {
		w.run(func() {
			started <- struct{}{}
			<-release
		})
	}
	for range n {
		<-started
	}
	close(release)
}
