package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

var testBucket = []byte("test")

func testMigrations() []Migration {
	return []Migration{{Version: 1, Name: "test bucket", Up: func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(testBucket)
		return err
	}}}
}

func openTest(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(path, Options{Migrations: testMigrations()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func put(key string) func(*bbolt.Tx) error {
	return func(tx *bbolt.Tx) error { return tx.Bucket(testBucket).Put([]byte(key), []byte("v")) }
}

func has(t *testing.T, db *DB, key string) bool {
	t.Helper()
	var ok bool
	if err := db.View(func(tx *bbolt.Tx) error {
		ok = tx.Bucket(testBucket).Get([]byte(key)) != nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return ok
}

// hold queues a write that blocks the committer inside its transaction
// until release is closed, and returns once the committer is inside it.
func hold(t *testing.T, db *DB) (release func(), wait func()) {
	t.Helper()
	inside := make(chan struct{})
	gate := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- db.Update(context.Background(), func(tx *bbolt.Tx) error {
			select {
			case <-inside:
			default:
				close(inside)
			}
			<-gate
			return put("gate")(tx)
		})
	}()
	<-inside
	return func() { close(gate) }, func() {
		if err := <-errc; err != nil {
			t.Errorf("gate write: %v", err)
		}
	}
}

// waitQueued yields until n writes wait in the queue; no clock involved.
func waitQueued(db *DB, n int) {
	for len(db.queue) < n {
		runtime.Gosched()
	}
}

func TestGroupCommit(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "db"))
	release, wait := hold(t, db)
	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = db.Update(context.Background(), put(fmt.Sprint(i))) })
	}
	waitQueued(db, n)
	release()
	wait()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if !has(t, db, fmt.Sprint(i)) {
			t.Fatalf("write %d acknowledged but missing", i)
		}
	}
	st := db.Stats()
	if st.Ops != n+1 || st.Commits != 2 {
		t.Fatalf("stats = %+v, want %d ops in 2 commits", st, n+1)
	}
	var timed uint64
	for _, c := range st.CommitTimes {
		timed += c
	}
	if timed != st.Commits {
		t.Errorf("commit time histogram counts %d commits, want %d", timed, st.Commits)
	}
}

func TestCommitTimeBuckets(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "db"))
	for _, d := range []time.Duration{0, 499 * time.Microsecond, 500 * time.Microsecond, 3 * time.Millisecond, 50 * time.Millisecond, time.Hour} {
		db.recordCommitTime(d)
	}
	got := db.Stats().CommitTimes
	want := [len(CommitTimeBounds) + 1]uint64{2, 1, 0, 1, 0, 0, 0, 2}
	if got != want {
		t.Fatalf("buckets = %v, want %v", got, want)
	}
	if s := formatCommitTimes(want); s != "<500µs:2 <1ms:1 <2ms:0 <5ms:1 <10ms:0 <20ms:0 <50ms:0 >=50ms:2" {
		t.Errorf("formatted as %q", s)
	}
}

func TestGroupCommitMaxBatch(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "db"), Options{Migrations: testMigrations(), MaxBatch: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	release, wait := hold(t, db)
	var wg sync.WaitGroup
	for i := range 35 {
		wg.Go(func() {
			if err := db.Update(context.Background(), put(fmt.Sprint(i))); err != nil {
				t.Error(err)
			}
		})
	}
	waitQueued(db, 35)
	release()
	wait()
	wg.Wait()
	if st := db.Stats(); st.Commits != 1+4 || st.Ops != 36 {
		t.Fatalf("stats = %+v, want 36 ops in 5 commits", st)
	}
}

func TestFailureIsolation(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "db"))
	release, wait := hold(t, db)
	errBoom := errors.New("boom")
	const n = 10
	fn := func(i int) func(*bbolt.Tx) error {
		return func(tx *bbolt.Tx) error {
			if err := put(fmt.Sprint(i))(tx); err != nil {
				return err
			}
			switch i {
			case 3, 7:
				return fmt.Errorf("write %d: %w", i, errBoom) // after a partial write
			case 5:
				panic("bad write") // the committer must survive it
			}
			return nil
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = db.Update(context.Background(), fn(i)) })
	}
	waitQueued(db, n)
	release()
	wait()
	wg.Wait()
	for i := range n {
		failing := i == 3 || i == 5 || i == 7
		if failing != (errs[i] != nil) {
			t.Errorf("write %d: err = %v", i, errs[i])
		}
		if (i == 3 || i == 7) && !errors.Is(errs[i], errBoom) {
			t.Errorf("write %d: err = %v, want its own error", i, errs[i])
		}
		if has(t, db, fmt.Sprint(i)) == failing {
			t.Errorf("write %d: stored = %v", i, !failing)
		}
	}
	if st := db.Stats(); st.Failed != 3 || st.Ops != n-3+1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestCloseFinishesQueuedWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := Open(path, Options{Migrations: testMigrations()})
	if err != nil {
		t.Fatal(err)
	}
	release, wait := hold(t, db)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if err := db.Update(context.Background(), put(fmt.Sprint(i))); err != nil {
				t.Error(err)
			}
		})
	}
	waitQueued(db, 20)
	closed := make(chan error)
	go func() { closed <- db.Close() }()
	release()
	wait()
	wg.Wait()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if err := db.Update(context.Background(), put("late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Update after Close: %v, want ErrClosed", err)
	}
	db = openTest(t, path)
	for i := range 20 {
		if !has(t, db, fmt.Sprint(i)) {
			t.Fatalf("queued write %d lost at Close", i)
		}
	}
}

func TestUpdateContextWhileQueueFull(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "db"), Options{Migrations: testMigrations(), QueueSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	release, wait := hold(t, db)
	queued := make(chan error, 1)
	go func() { queued <- db.Update(context.Background(), put("queued")) }()
	waitQueued(db, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := db.Update(ctx, put("cancelled")); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	release()
	wait()
	if err := <-queued; err != nil {
		t.Fatal(err)
	}
	if has(t, db, "cancelled") || !has(t, db, "queued") {
		t.Fatal("cancelled write stored or queued write lost")
	}
}

func TestMigrations(t *testing.T) {
	v1 := testMigrations()
	ran := 0
	v2 := append(testMigrations(), Migration{Version: 2, Name: "rename", Up: func(tx *bbolt.Tx) error {
		ran++
		b := tx.Bucket(testBucket)
		if v := b.Get([]byte("old")); v != nil {
			if err := b.Put([]byte("new"), v); err != nil {
				return err
			}
			return b.Delete([]byte("old"))
		}
		return nil
	}})
	path := filepath.Join(t.TempDir(), "db")

	db, err := Open(path, Options{Migrations: v1})
	if err != nil {
		t.Fatal(err)
	}
	if db.LayoutVersion() != 1 {
		t.Fatalf("fresh version = %d", db.LayoutVersion())
	}
	if err := db.Update(context.Background(), put("old")); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// A failing migration leaves the file untouched.
	bad := append(testMigrations(), Migration{Version: 2, Name: "bad", Up: func(tx *bbolt.Tx) error {
		_ = tx.Bucket(testBucket).Delete([]byte("old"))
		return errors.New("nope")
	}})
	if _, err := Open(path, Options{Migrations: bad}); err == nil {
		t.Fatal("failing migration: Open succeeded")
	}

	for range 2 { // the second open must not re-run v2
		db, err = Open(path, Options{Migrations: v2})
		if err != nil {
			t.Fatal(err)
		}
		if db.LayoutVersion() != 2 || !has(t, db, "new") || has(t, db, "old") {
			t.Fatalf("upgrade: version %d, new %v, old %v", db.LayoutVersion(), has(t, db, "new"), has(t, db, "old"))
		}
		db.Close()
	}
	if ran != 1 {
		t.Fatalf("v2 ran %d times", ran)
	}

	if _, err := Open(path, Options{Migrations: v1}); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("older program opening newer file: %v, want ErrNewerSchema", err)
	}
	if _, err := Open(path, Options{Migrations: []Migration{{Version: 2, Up: v1[0].Up}}}); err == nil {
		t.Fatal("misnumbered migrations accepted")
	}
}

func TestLayout(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.LayoutVersion() != len(Layout()) {
		t.Fatalf("version %d", db.LayoutVersion())
	}
	err = db.View(func(tx *bbolt.Tx) error {
		for _, b := range []string{BucketMeta, BucketChargers, BucketConnectors, BucketTransactions,
			BucketTxKeys, BucketActiveTx, BucketReadings, BucketTokens, BucketReservations,
			BucketTxChargerIDs, BucketTxEvents, BucketDeviceModel,
			BucketSyncOutbox, BucketSyncDroppable, BucketSyncState, BucketSyncTxRevs, BucketSyncCommands} {
			if tx.Bucket([]byte(b)) == nil {
				return fmt.Errorf("bucket %s missing", b)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A file of an older layout is upgraded in place: its records stay, the
// buckets of the newer layouts appear.
func TestLayoutUpgrade(t *testing.T) {
	newer := map[int][]string{
		2: {BucketTxChargerIDs, BucketTxEvents, BucketDeviceModel},
		3: {BucketSyncOutbox, BucketSyncDroppable, BucketSyncState, BucketSyncTxRevs, BucketSyncCommands},
		4: {BucketTaps},
		5: {BucketSyncUnsynced},
	}
	for from := 1; from < len(Layout()); from++ {
		t.Run(fmt.Sprintf("from %d", from), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "db")
			db, err := Open(path, Options{Migrations: Layout()[:from]})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(context.Background(), func(tx *bbolt.Tx) error {
				return tx.Bucket([]byte(BucketTransactions)).Put(U64(1), []byte(`{"id":1}`))
			}); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db, err = Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if db.LayoutVersion() != len(Layout()) {
				t.Fatalf("version %d", db.LayoutVersion())
			}
			err = db.View(func(tx *bbolt.Tx) error {
				if v := tx.Bucket([]byte(BucketTransactions)).Get(U64(1)); string(v) != `{"id":1}` {
					return fmt.Errorf("record after upgrade: %q", v)
				}
				for v := from + 1; v <= len(Layout()); v++ {
					for _, b := range newer[v] {
						if tx.Bucket([]byte(b)) == nil {
							return fmt.Errorf("bucket %s of layout %d missing", b, v)
						}
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestU64Order(t *testing.T) {
	a, b := U64(255), U64(256)
	if string(a) >= string(b) {
		t.Fatal("U64 keys do not sort numerically")
	}
	if v, ok := ParseU64(b); !ok || v != 256 {
		t.Fatalf("ParseU64 = %d %v", v, ok)
	}
	if _, ok := ParseU64([]byte{1}); ok {
		t.Fatal("short key parsed")
	}
}
