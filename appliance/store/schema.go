package store

import (
	"encoding/binary"
	"fmt"
	"log/slog"

	"go.etcd.io/bbolt"
)

// Migration moves the layout from Version-1 to Version. Migrations are
// append-only: once released, a migration is never changed or reordered.
type Migration struct {
	Version int
	Name    string
	Up      func(tx *bbolt.Tx) error
}

// Bucket names of the appliance layout. Keys are documented per bucket;
// numeric ids are big-endian (U64) so cursor order is numeric order.
const (
	// BucketMeta holds store bookkeeping: the layout version (key "layout")
	// and the local authorization list version (KeyLocalListVersion).
	BucketMeta = "meta"
	// BucketChargers: charger id -> charger record.
	BucketChargers = "chargers"
	// BucketConnectors: charger id, 0x00, U32 connector (1.6) or EVSE (2.x)
	// id, then for a 2.x connector its U32 connector id within the EVSE ->
	// connector record.
	BucketConnectors = "connectors"
	// BucketTransactions: U64 transaction id -> transaction record; the
	// bucket's sequence is the transaction id counter.
	BucketTransactions = "transactions"
	// BucketTxKeys: idempotency key of a start (or orphan stop) -> U64 id.
	BucketTxKeys = "tx_keys"
	// BucketActiveTx: U64 id of each active transaction -> small summary.
	BucketActiveTx = "tx_active"
	// BucketReadings: U64 transaction id (0: none), 8-byte content hash ->
	// compact meter report. The hash makes re-sent reports idempotent.
	BucketReadings = "readings"
	// BucketTokens: id token -> token record (offline authorization cache).
	BucketTokens = "tokens"
	// BucketReservations: U64 reservation id -> reservation record.
	BucketReservations = "reservations"
	// BucketTxChargerIDs (layout 2): charger id, 0x00, charger-assigned
	// transaction id (OCPP 2.x) -> U64 transaction id.
	BucketTxChargerIDs = "tx_charger_ids"
	// BucketTxEvents (layout 2): U64 transaction id, U32 event seqNo -> 8-byte
	// hash of the event, then the authorization status it was answered with
	// (empty: none). One entry per applied OCPP 2.x TransactionEvent.
	BucketTxEvents = "tx_events"
	// BucketDeviceModel (layout 2): charger id, 0x00, configuration key of
	// the variable attribute (see charging.ConfigKey) -> variable record.
	BucketDeviceModel = "device_model"
	// BucketSyncOutbox (layout 3): U64 outbox sequence -> a record waiting
	// for the broker's PUBACK (see appliance/cloudsync); the bucket's
	// sequence numbers the records.
	BucketSyncOutbox = "sync_outbox"
	// BucketSyncDroppable (layout 3): a class byte ('r' readings, 'o' other
	// records that may be dropped when the outbox is full), U64 outbox
	// sequence -> empty. Finds the oldest record to drop.
	BucketSyncDroppable = "sync_droppable"
	// BucketSyncState (layout 3): the sync client's state by name (store
	// id, bdSeq, outbox counters, applied desired and authorization list
	// versions).
	BucketSyncState = "sync_state"
	// BucketSyncTxRevs (layout 3): U64 transaction id -> U64 revision of
	// the last Transaction record queued for the cloud.
	BucketSyncTxRevs = "sync_tx_revs"
	// BucketSyncCommands (layout 3): cloud command id -> its handling state,
	// so a command delivered twice is executed once.
	BucketSyncCommands = "sync_commands"
	// BucketTaps (layout 4): U64 tap id (the bucket's sequence) -> a card
	// tapped on the appliance's reader and what came of it.
	BucketTaps = "taps"
	// BucketSyncUnsynced (layout 5): U64 outbox sequence -> what
	// correcting the times of a record queued before the clock was
	// synchronised needs: the stamp's monotonic time (U64 nanoseconds)
	// and a flag byte (see appliance/cloudsync). A monotonic time means
	// nothing to another process: the sync client empties the bucket when
	// it starts, and those records stay marked.
	BucketSyncUnsynced = "sync_unsynced"
)

// KeyLocalListVersion (in BucketMeta): U64 count of the changes of the
// authorization cache, the version of the chargers' local lists.
const KeyLocalListVersion = "local_list_version"

var layoutKey = []byte("layout")

// Layout is the appliance's schema: the ordered migrations Open applies.
func Layout() []Migration {
	return []Migration{
		{Version: 1, Name: "initial buckets", Up: func(tx *bbolt.Tx) error {
			return createBuckets(tx, BucketChargers, BucketConnectors, BucketTransactions, BucketTxKeys,
				BucketActiveTx, BucketReadings, BucketTokens, BucketReservations)
		}},
		{Version: 2, Name: "OCPP 2.x transaction events and device model", Up: func(tx *bbolt.Tx) error {
			return createBuckets(tx, BucketTxChargerIDs, BucketTxEvents, BucketDeviceModel)
		}},
		{Version: 3, Name: "cloud sync outbox and state", Up: func(tx *bbolt.Tx) error {
			return createBuckets(tx, BucketSyncOutbox, BucketSyncDroppable, BucketSyncState, BucketSyncTxRevs, BucketSyncCommands)
		}},
		{Version: 4, Name: "taps on the station's reader", Up: func(tx *bbolt.Tx) error {
			return createBuckets(tx, BucketTaps)
		}},
		{Version: 5, Name: "records queued before the clock was synchronised", Up: func(tx *bbolt.Tx) error {
			return createBuckets(tx, BucketSyncUnsynced)
		}},
	}
}

func createBuckets(tx *bbolt.Tx, names ...string) error {
	for _, name := range names {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// migrate brings the file to the newest version of migs in one transaction,
// so a failed migration leaves the file as it was.
func migrate(b *bbolt.DB, migs []Migration, log *slog.Logger) (int, error) {
	for i, m := range migs {
		if m.Version != i+1 || m.Up == nil {
			return 0, fmt.Errorf("migration %d (%q): versions must run 1, 2, 3... with a function", i, m.Name)
		}
	}
	latest := len(migs)
	var version int
	err := b.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists([]byte(BucketMeta))
		if err != nil {
			return fmt.Errorf("create meta bucket: %w", err)
		}
		current := 0
		if v := meta.Get(layoutKey); v != nil {
			if len(v) != 8 {
				return fmt.Errorf("corrupt layout version (%d bytes)", len(v))
			}
			current = int(binary.BigEndian.Uint64(v))
		}
		if current > latest {
			return fmt.Errorf("%w: file has layout %d, this program knows up to %d", ErrNewerSchema, current, latest)
		}
		for _, m := range migs[current:] {
			if err := m.Up(tx); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
			}
			log.Info("migrated store layout", "version", m.Version, "name", m.Name)
		}
		version = latest
		if current == latest {
			return nil
		}
		return meta.Put(layoutKey, U64(uint64(latest)))
	})
	return version, err
}

// U64 encodes v big-endian, so byte order equals numeric order.
func U64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v)
}

// ParseU64 decodes a U64 key; ok is false if b is not 8 bytes.
func ParseU64(b []byte) (v uint64, ok bool) {
	if len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}
