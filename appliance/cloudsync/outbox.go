package cloudsync

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/store"
	"github.com/constellation-ev/constellation/syncproto"
)

// Store is what the sync client needs from storage: durable
// (group-committed) writes and consistent reads. *store.DB implements it.
type Store interface {
	Update(ctx context.Context, fn func(*bbolt.Tx) error) error
	View(fn func(*bbolt.Tx) error) error
}

var _ Store = (*store.DB)(nil)

var (
	bkOutbox    = []byte(store.BucketSyncOutbox)
	bkDroppable = []byte(store.BucketSyncDroppable)
	bkState     = []byte(store.BucketSyncState)
	bkTxRevs    = []byte(store.BucketSyncTxRevs)
	bkCommands  = []byte(store.BucketSyncCommands)
)

// Keys of BucketSyncState.
var (
	keyStoreID  = []byte("store_id")
	keyBdSeq    = []byte("bdseq")
	keyCounters = []byte("outbox")
	keyDesired  = []byte("desired")
	keyAuthList = []byte("auth_version")
)

// Classes of droppable records (the first byte of their BucketSyncDroppable key).
const (
	classReadings = 'r'
	classOther    = 'o'
)

// droppableClass says whether records of kind k may be dropped when the
// outbox is full, and in which order: readings first, then the records
// that describe a state a later one replaces (status, configuration,
// reported) and events. Transactions and command results are never
// dropped (0).
func droppableClass(k syncproto.Kind) byte {
	switch k {
	case syncproto.KindReadings:
		return classReadings
	case syncproto.KindChargerStatus, syncproto.KindChargerConfig, syncproto.KindReported, syncproto.KindEvent:
		return classOther
	}
	return 0
}

// outbox is the durable queue of upstream records in the appliance's
// bbolt file. Records are appended inside the transaction of the change
// they describe and removed only after the broker acknowledged them.
type outbox struct {
	st         Store
	site       string
	id         string // the store id: the first part of every key
	clock      charging.Clock
	clockSync  ClockSync // nil: the clock is taken as synchronised
	log        *slog.Logger
	maxEntries uint64
	maxBytes   uint64
	notify     chan struct{} // signalled when a record is committed
	unsynced   chan struct{} // signalled when a marked record is committed

	warnMu   sync.Mutex
	lastWarn time.Time
}

// counters are the outbox's bookkeeping, kept in BucketSyncState and
// updated in the transaction that changes the outbox.
type counters struct {
	Count, Bytes                           uint64
	DroppedReadings, DroppedOther, Invalid uint64
}

func readCounters(tx *bbolt.Tx) counters {
	var c counters
	v := tx.Bucket(bkState).Get(keyCounters)
	if len(v) == 5*8 {
		for i, p := range []*uint64{&c.Count, &c.Bytes, &c.DroppedReadings, &c.DroppedOther, &c.Invalid} {
			*p = binary.BigEndian.Uint64(v[8*i:])
		}
	}
	return c
}

func (c counters) put(tx *bbolt.Tx) error {
	b := make([]byte, 0, 5*8)
	for _, v := range []uint64{c.Count, c.Bytes, c.DroppedReadings, c.DroppedOther, c.Invalid} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return tx.Bucket(bkState).Put(keyCounters, b)
}

// openOutbox returns the outbox of st, creating the store id on first use.
func openOutbox(ctx context.Context, st Store, site string, maxEntries int, maxBytes int64, clock charging.Clock, cs ClockSync, log *slog.Logger) (*outbox, error) {
	o := &outbox{st: st, site: site, clock: clock, clockSync: cs, log: log,
		maxEntries: uint64(maxEntries), maxBytes: uint64(maxBytes), notify: make(chan struct{}, 1), unsynced: make(chan struct{}, 1)}
	if err := forgetUnsynced(ctx, st); err != nil {
		return nil, fmt.Errorf("forget an earlier run's unsynchronised records: %w", err)
	}
	err := st.View(func(tx *bbolt.Tx) error {
		o.id = string(tx.Bucket(bkState).Get(keyStoreID))
		return nil
	})
	if err != nil || o.id != "" {
		return o, err
	}
	var raw [8]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read does not fail
	id := hex.EncodeToString(raw[:])
	err = st.Update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bkState)
		if v := b.Get(keyStoreID); v != nil { // created meanwhile
			o.id = string(v)
			return nil
		}
		o.id = id
		return b.Put(keyStoreID, []byte(id))
	})
	if err != nil {
		return nil, fmt.Errorf("create store id: %w", err)
	}
	return o, nil
}

// key is the idempotency key of the record at seq.
func (o *outbox) key(seq uint64) string { return o.id + "-" + strconv.FormatUint(seq, 10) }

// signal wakes the drain; called once a record is committed.
func (o *outbox) signal() { signal(o.notify) }

// signal wakes the one waiting on ch, if it is not awake already.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// append queues m in tx: it gets the next sequence, its key and the
// current time (marked while the clock is unsynchronised), is validated
// and stored, and the outbox is kept within its limits. byCharger says
// m carries times the charger gave (see shift). A record that cannot be
// synced (it does not validate) is counted and logged, never an error:
// the domain change it describes stands, and the charger must get its
// answer.
func (o *outbox) append(tx *bbolt.Tx, m syncproto.Message, byCharger bool) error {
	b := tx.Bucket(bkOutbox)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("outbox sequence: %w", err)
	}
	st := o.stamp()
	h := m.Head()
	h.Version, h.Site, h.Key, h.Time, h.Unsynced = syncproto.Version, o.site, o.key(seq), st.Time, st.Unsynced
	c := readCounters(tx)
	data, err := o.encode(m)
	if err != nil {
		c.Invalid++
		tx.OnCommit(func() { o.log.Warn("record not queued for the cloud", "kind", m.Kind(), "err", err) })
		return c.put(tx)
	}
	if err := b.Put(store.U64(seq), data); err != nil {
		return err
	}
	if class := droppableClass(m.Kind()); class != 0 {
		if err := tx.Bucket(bkDroppable).Put(append([]byte{class}, store.U64(seq)...), nil); err != nil {
			return err
		}
	}
	if st.Unsynced {
		if err := noteUnsynced(tx, seq, st, byCharger); err != nil {
			return err
		}
		tx.OnCommit(func() { signal(o.unsynced) })
	}
	c.Count++
	c.Bytes += uint64(len(data))
	before := c
	over, err := o.enforce(tx, &c)
	if err != nil {
		return err
	}
	if err := c.put(tx); err != nil {
		return err
	}
	if over || c.DroppedReadings != before.DroppedReadings || c.DroppedOther != before.DroppedOther {
		tx.OnCommit(func() { o.warnFull(c, over) })
	}
	tx.OnCommit(o.signal)
	return nil
}

// encode is the stored form of m: its kind, a zero byte, its JSON.
func (o *outbox) encode(m syncproto.Message) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if len(data) > syncproto.MaxPayload {
		// Deflated it may still fit; if not, a command result goes without
		// the charger's reply rather than not at all.
		if _, _, err := syncproto.Encode(o.site, m); err != nil {
			r, ok := m.(*syncproto.CommandResult)
			if !ok || !errors.Is(err, syncproto.ErrTooLarge) {
				return nil, err
			}
			r.Reply, r.Error = nil, "the charger's reply is too large to sync; see the appliance"
			return o.encode(r)
		}
	}
	return append(append([]byte(m.Kind()), 0), data...), nil
}

// decodeEntry reads a stored record.
func decodeEntry(v []byte) (syncproto.Message, error) {
	k, data, ok := bytes.Cut(v, []byte{0})
	if !ok {
		return nil, errors.New("no kind")
	}
	kind := syncproto.Kind(k)
	m, ok := syncproto.New(kind)
	if !ok || kind.Direction() != syncproto.Up || kind == syncproto.KindBirth || kind == syncproto.KindDeath {
		return nil, fmt.Errorf("kind %q", k) // the outbox holds keyed upstream records only
	}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, err
	}
	return m, nil
}

// enforce drops records until the outbox is within its limits: the oldest
// readings first, then the oldest other droppable records. over reports
// that only records that are never dropped are left and the outbox stays
// over its limit.
func (o *outbox) enforce(tx *bbolt.Tx, c *counters) (over bool, err error) {
	idx := tx.Bucket(bkDroppable).Cursor()
	for c.Count > o.maxEntries || c.Bytes > o.maxBytes {
		k, _ := idx.Seek([]byte{classReadings})
		if k == nil || k[0] != classReadings {
			k, _ = idx.First() // no readings left: the oldest other droppable record
		}
		if k == nil {
			return true, nil
		}
		seq, _ := store.ParseU64(k[1:])
		class := k[0]
		if _, err := deleteRecord(tx, seq, c); err != nil {
			return false, err
		}
		if class == classReadings {
			c.DroppedReadings++
		} else {
			c.DroppedOther++
		}
	}
	return false, nil
}

// deleteRecord removes the record at seq and its index entry; ok is false
// when it was gone already.
func deleteRecord(tx *bbolt.Tx, seq uint64, c *counters) (ok bool, err error) {
	b := tx.Bucket(bkOutbox)
	key := store.U64(seq)
	v := b.Get(key)
	if v == nil {
		return false, nil
	}
	n := uint64(len(v))
	if err := b.Delete(key); err != nil {
		return false, err
	}
	idx := tx.Bucket(bkDroppable)
	for _, class := range []byte{classReadings, classOther} {
		if err := idx.Delete(append([]byte{class}, key...)); err != nil {
			return false, err
		}
	}
	if err := tx.Bucket(bkUnsynced).Delete(key); err != nil {
		return false, err
	}
	// The counters never wrap, whatever the file holds.
	c.Count -= min(c.Count, 1)
	c.Bytes -= min(c.Bytes, n)
	return true, nil
}

// warnFull logs that the outbox is full, at most once a minute.
func (o *outbox) warnFull(c counters, over bool) {
	now := o.clock.Now()
	o.warnMu.Lock()
	if now.Sub(o.lastWarn) < time.Minute && !o.lastWarn.IsZero() {
		o.warnMu.Unlock()
		return
	}
	o.lastWarn = now
	o.warnMu.Unlock()
	if over {
		o.log.Warn("sync outbox over its limit with only transactions and command results left: growing", "records", c.Count, "bytes", c.Bytes)
		return
	}
	o.log.Warn("sync outbox full: oldest records dropped", "dropped_readings", c.DroppedReadings, "dropped_other", c.DroppedOther, "records", c.Count, "bytes", c.Bytes)
}

// record is a queued record read back for sending.
type record struct {
	seq uint64
	msg syncproto.Message
}

// scan returns up to limit records after seq after, in order, leaving out
// those in skip; more reports that there may be further ones. Records
// that no longer decode are returned in bad.
func (o *outbox) scan(after uint64, limit int, skip map[uint64]bool) (recs []record, bad []uint64, more bool, err error) {
	err = o.st.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bkOutbox).Cursor()
		for k, v := c.Seek(store.U64(after + 1)); k != nil; k, v = c.Next() {
			seq, _ := store.ParseU64(k)
			if skip[seq] {
				continue
			}
			if len(recs) == limit {
				more = true
				return nil
			}
			m, err := decodeEntry(v)
			if err != nil {
				bad = append(bad, seq)
				continue
			}
			recs = append(recs, record{seq: seq, msg: m})
		}
		return nil
	})
	return recs, bad, more, err
}

// remove deletes the records at seqs (acknowledged by the broker); with
// invalid set they are counted as records that could not be synced.
func (o *outbox) remove(ctx context.Context, seqs []uint64, invalid bool) error {
	if len(seqs) == 0 {
		return nil
	}
	return o.st.Update(ctx, func(tx *bbolt.Tx) error {
		c := readCounters(tx)
		for _, seq := range seqs {
			ok, err := deleteRecord(tx, seq, &c)
			if err != nil {
				return err
			}
			if ok && invalid {
				c.Invalid++
			}
		}
		return c.put(tx)
	})
}

// counters reads the outbox's bookkeeping.
func (o *outbox) counters() (counters, error) {
	var c counters
	err := o.st.View(func(tx *bbolt.Tx) error {
		c = readCounters(tx)
		return nil
	})
	return c, err
}
