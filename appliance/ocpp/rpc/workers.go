package rpc

import "time"

// workerIdle is how long an idle worker waits for more work before it
// exits.
const workerIdle = 10 * time.Second

// workers runs connections' call handling on reused goroutines. A fresh
// goroutine per call would start on a small stack and grow it on nearly
// every call (JSON encoding is deep); a reused one has grown already. There
// are only as many workers as calls being handled at once, not one per
// connection, so idle connections still cost no goroutine.
type workers struct {
	jobs chan func() // unbuffered: a send succeeds only if a worker is idle
}

// pool serves every connection of the process.
var pool = &workers{jobs: make(chan func())}

// run runs f on an idle worker, or on a new one if none is idle.
func (w *workers) run(f func()) {
	select {
	case w.jobs <- f:
	default:
		go w.work(f)
	}
}

func (w *workers) work(f func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		f()
		idle.Reset(workerIdle)
		select {
		case f = <-w.jobs:
		case <-idle.C:
			return
		}
	}
}
