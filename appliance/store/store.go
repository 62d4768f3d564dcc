// Package store is the appliance's durable storage: one bbolt file, written
// through a group committer so that every acknowledged write is committed and
// fsynced while many concurrent writers share one fsync, plus versioned
// schema migrations run at Open.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
)

// Sentinel errors of the package.
var (
	// ErrClosed is returned by Update after Close has begun.
	ErrClosed = errors.New("store: closed")
	// ErrNewerSchema is returned by Open for a file written by a newer
	// layout version than this binary knows; it is never downgraded.
	ErrNewerSchema = errors.New("store: database layout is newer than this program")
)

// Options tunes Open. The zero value is usable.
type Options struct {
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger
	// Migrations is the ordered schema; nil means Layout().
	Migrations []Migration
	// MaxBatch caps the writes grouped into one commit (default 1000) so a
	// burst cannot build one huge transaction.
	MaxBatch int
	// QueueSize is how many writes may wait for the committer (default 8192);
	// beyond it Update blocks (back-pressure) until ctx ends.
	QueueSize int
	// LockTimeout bounds waiting for the file lock held by another process
	// (default 5s), so a second daemon fails instead of hanging.
	LockTimeout time.Duration
	// InitialMmapSize lets readers run without blocking the writer while the
	// file grows up to this size.
	InitialMmapSize int
	// SyncFreelist writes bbolt's freelist at every commit. Off by default:
	// it saves at least a page per commit (SD card wear) at the cost of a
	// freelist scan at Open.
	SyncFreelist bool
}

// Stats counts the committer's work; Ops/Commits shows the grouping.
type Stats struct {
	Ops     uint64 // write functions committed
	Failed  uint64 // write functions that returned an error (not committed)
	Commits uint64 // successful bbolt commits (each one fsync round)
	Retries uint64 // groups rolled back and re-run without a failing function
	// PageWrites is bbolt's count of page write calls (dirty pages, meta not included).
	PageWrites int64
	// CommitTimes counts groups by how long committing them took (running
	// the functions, writing and fsyncing; failed groups included): CommitTimes[i] counts those
	// under CommitTimeBounds[i], the last one those longer than every bound.
	CommitTimes [len(CommitTimeBounds) + 1]uint64
}

// CommitTimeBounds are the upper bounds of the CommitTimes buckets.
var CommitTimeBounds = [...]time.Duration{
	500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
}

// DB is an open store. It is safe for concurrent use.
type DB struct {
	bolt     *bbolt.DB
	log      *slog.Logger
	maxBatch int
	version  int

	mu     sync.RWMutex // guards closed against sends on queue
	closed bool
	queue  chan *request
	done   chan struct{}

	ops, failed, commits, retries atomic.Uint64
	commitTimes                   [len(CommitTimeBounds) + 1]atomic.Uint64
}

type request struct {
	fn   func(*bbolt.Tx) error
	done chan error
}

// Open opens (or creates) the database at path, runs pending migrations in
// one transaction and starts the committer.
func Open(path string, opts Options) (*DB, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	migs := opts.Migrations
	if migs == nil {
		migs = Layout()
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 1000
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 8192
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 5 * time.Second
	}
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:         opts.LockTimeout,
		NoFreelistSync:  !opts.SyncFreelist,
		FreelistType:    bbolt.FreelistMapType,
		InitialMmapSize: opts.InitialMmapSize,
	})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	version, err := migrate(b, migs, log)
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db := &DB{
		bolt:     b,
		log:      log,
		maxBatch: opts.MaxBatch,
		version:  version,
		queue:    make(chan *request, opts.QueueSize),
		done:     make(chan struct{}),
	}
	go db.run()
	return db, nil
}

// LayoutVersion is the schema version of the open file.
func (db *DB) LayoutVersion() int { return db.version }

// Update runs fn in a read-write transaction and returns once that
// transaction is committed and fsynced, or with fn's (or the commit's) error.
//
// fn runs on the committer goroutine, grouped with other writers' functions
// in one transaction. It may be called more than once (the group is re-run
// without a function that failed), so it must have no effects outside tx
// other than setting its own result variables, and must not call Update.
// ctx is honoured only while waiting to be queued: once queued, the write is
// either committed or reported failed.
func (db *DB) Update(ctx context.Context, fn func(*bbolt.Tx) error) error {
	r := &request{fn: fn, done: make(chan error, 1)}
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return ErrClosed
	}
	select {
	case db.queue <- r:
	case <-ctx.Done():
		db.mu.RUnlock()
		return fmt.Errorf("store: waiting to queue a write: %w", ctx.Err())
	}
	db.mu.RUnlock()
	return <-r.done
}

// View runs fn in a read-only transaction over committed data.
func (db *DB) View(fn func(*bbolt.Tx) error) error {
	return db.bolt.View(fn)
}

// Stats returns the committer's counters.
func (db *DB) Stats() Stats {
	bs := db.bolt.Stats()
	st := Stats{
		Ops:        db.ops.Load(),
		Failed:     db.failed.Load(),
		Commits:    db.commits.Load(),
		Retries:    db.retries.Load(),
		PageWrites: bs.TxStats.GetWrite(),
	}
	for i := range st.CommitTimes {
		st.CommitTimes[i] = db.commitTimes[i].Load()
	}
	return st
}

// recordCommitTime counts one commit that took d.
func (db *DB) recordCommitTime(d time.Duration) {
	i := 0
	for i < len(CommitTimeBounds) && d >= CommitTimeBounds[i] {
		i++
	}
	db.commitTimes[i].Add(1)
}

// Close stops accepting writes, commits everything already queued and closes
// the file. It is safe to call more than once.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		<-db.done
		return nil
	}
	db.closed = true
	close(db.queue)
	db.mu.Unlock()
	<-db.done
	st := db.Stats()
	db.log.Info("store closed", "writes", st.Ops, "commits", st.Commits, "failed", st.Failed,
		"commit_times", formatCommitTimes(st.CommitTimes))
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// formatCommitTimes renders the histogram as "<500µs:12 <1ms:3 ... >=50ms:0".
func formatCommitTimes(counts [len(CommitTimeBounds) + 1]uint64) string {
	var b strings.Builder
	for i, n := range counts {
		if i > 0 {
			b.WriteByte(' ')
		}
		if i < len(CommitTimeBounds) {
			fmt.Fprintf(&b, "<%v:%d", CommitTimeBounds[i], n)
		} else {
			fmt.Fprintf(&b, ">=%v:%d", CommitTimeBounds[i-1], n)
		}
	}
	return b.String()
}

// run is the single committer: it takes whatever is queued (no timer: a
// lone write commits at once), commits it as one group and repeats; writes
// arriving meanwhile wait in the queue for the next group.
func (db *DB) run() {
	defer close(db.done)
	batch := make([]*request, 0, db.maxBatch)
	for first := range db.queue {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < db.maxBatch {
			select {
			case r, ok := <-db.queue:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		start := time.Now()
		db.commit(batch)
		db.recordCommitTime(time.Since(start))
		clear(batch) // drop references to finished requests
	}
}

// commit runs the group in one transaction. bbolt has no savepoints, so if
// any function fails the transaction is rolled back, the failing callers get
// their errors and the rest are re-run without them.
func (db *DB) commit(group []*request) {
	pending := append([]*request(nil), group...)
	errs := make([]error, len(pending))
	for len(pending) > 0 {
		tx, err := db.bolt.Begin(true)
		if err != nil {
			db.failAll(pending, fmt.Errorf("store: begin write: %w", err))
			return
		}
		failures := 0
		for i, r := range pending {
			errs[i] = call(r.fn, tx)
			if errs[i] != nil {
				failures++
			}
		}
		if failures == 0 {
			if err := tx.Commit(); err != nil {
				db.log.Error("commit failed", "writes", len(pending), "err", err)
				db.failAll(pending, fmt.Errorf("store: commit: %w", err))
				return
			}
			db.commits.Add(1)
			db.ops.Add(uint64(len(pending)))
			for _, r := range pending {
				r.done <- nil
			}
			return
		}
		_ = tx.Rollback()
		db.retries.Add(1)
		db.failed.Add(uint64(failures))
		keep := pending[:0]
		for i, r := range pending {
			if errs[i] != nil {
				r.done <- errs[i]
				continue
			}
			keep = append(keep, r)
		}
		pending = keep
	}
}

func (db *DB) failAll(rs []*request, err error) {
	db.failed.Add(uint64(len(rs)))
	for _, r := range rs {
		r.done <- err
	}
}

// call runs fn, turning a panic into an error so one bad write cannot take
// down the committer (and with it every other writer).
func call(fn func(*bbolt.Tx) error, tx *bbolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: write function panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(tx)
}
