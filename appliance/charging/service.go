package charging

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.etcd.io/bbolt"

	"github.com/constellation-ev/constellation/appliance/store"
)

// Store is what the service needs from storage: durable (group-committed)
// writes and consistent reads. *store.DB implements it.
type Store interface {
	Update(ctx context.Context, fn func(*bbolt.Tx) error) error
	View(fn func(*bbolt.Tx) error) error
}

var _ Store = (*store.DB)(nil)

// DefaultHeartbeatInterval is the interval Boot gives chargers unless configured.
const DefaultHeartbeatInterval = 300 * time.Second

// ChangeKind names a domain mutation.
type ChangeKind string

// Change kinds passed to Config.OnChange.
const (
	ChangeBoot              ChangeKind = "boot"
	ChangeConnectorStatus   ChangeKind = "connector.status"
	ChangeTransactionStart  ChangeKind = "transaction.start"
	ChangeTransactionUpdate ChangeKind = "transaction.update" // see Change
	ChangeTransactionStop   ChangeKind = "transaction.stop"
	ChangeMeterValues       ChangeKind = "meter.values"
	ChangeFirmwareStatus    ChangeKind = "firmware.status"
	ChangeDiagnosticsStatus ChangeKind = "diagnostics.status"
	ChangeConfiguration     ChangeKind = "configuration"
	ChangeReservation       ChangeKind = "reservation"
	ChangeToken             ChangeKind = "token"
	ChangeTokenDeleted      ChangeKind = "token.deleted"
	ChangeTap               ChangeKind = "tap"
)

// Change describes one committed domain mutation. Record is the stored
// value after the change (Charger, Connector, Transaction, MeterValues,
// Reservation, IDToken, Tap, or the deleted token's id). Sessions produce the
// same changes whatever the protocol: transaction.start, meter.values for
// every report of readings stored (a stop's or event's included),
// transaction.stop, and transaction.update when a session's record changed
// other than by its start or stop (an id token or EVSE given after the
// start, a missed start filled in, a seqNo gap noted): its Record is the
// Transaction, to be upserted like a start.
type Change struct {
	Kind      ChangeKind
	ChargerID ChargerID // empty for tokens
	Record    any
}

// Config configures a Service.
type Config struct {
	Clock Clock // nil: SystemClock
	// ClockSync, if set, stamps the times the appliance records of its
	// own (a transaction's RecordedAt, a tap's At) and marks those taken
	// before the clock was synchronised; CorrectTimes corrects them.
	// nil: the clock is taken as synchronised.
	ClockSync ClockSync
	Logger    *slog.Logger // nil: discard
	Policy    PolicyConfig
	// HeartbeatInterval is given to chargers at boot (default 300s).
	HeartbeatInterval time.Duration
	// OnChange, if set, is called inside the same bbolt transaction as every
	// domain mutation that changed something (not for duplicates). It is the
	// seam for the sync outbox: append the outbox record to tx there. An
	// error aborts the mutation. It may run more than once per mutation
	// (see store.DB.Update), so it must only write to tx.
	// One mutation may produce several changes (a session event that
	// starts a session and stores readings); OnChange sees them in order.
	OnChange func(tx *bbolt.Tx, c Change) error
}

// Service is the version-neutral charging domain used by the OCPP adapters
// and the local API. It is safe for concurrent use.
type Service struct {
	st        Store
	clock     Clock
	clockSync ClockSync // nil: the clock is taken as synchronised
	log       *slog.Logger
	// policy and interval may be changed at runtime (the cloud's desired
	// configuration); readers load them on every call.
	policy   atomic.Pointer[PolicyConfig]
	interval atomic.Int64 // time.Duration
	onChange func(*bbolt.Tx, Change) error

	// live is read on every call (a Heartbeat is nothing else), so it is a
	// plain map: sync.Map boxes each string key into an interface.
	liveMu sync.RWMutex
	live   map[ChargerID]*live

	// tokMu guards the cache and its local list version, which change
	// together when a token's change commits; listChanged is closed then.
	tokMu       sync.RWMutex
	tokens      map[string]IDToken
	listVersion int64
	listChanged chan struct{}

	// pending are the records this run stored before the clock was
	// synchronised, for CorrectTimes; pendNotify is signalled at each.
	pendMu     sync.Mutex
	pending    []pendingTime
	pendNotify chan struct{}
}

// live is a charger's connection state, kept in memory only.
type live struct {
	connected atomic.Bool
	lastSeen  atomic.Int64 // unix nanoseconds, 0: never
	protocol  atomic.Pointer[string]
}

var (
	bkChargers     = []byte(store.BucketChargers)
	bkConnectors   = []byte(store.BucketConnectors)
	bkTransactions = []byte(store.BucketTransactions)
	bkTxKeys       = []byte(store.BucketTxKeys)
	bkActive       = []byte(store.BucketActiveTx)
	bkReadings     = []byte(store.BucketReadings)
	bkTokens       = []byte(store.BucketTokens)
	bkReservations = []byte(store.BucketReservations)
	bkTxChargerIDs = []byte(store.BucketTxChargerIDs)
	bkTxEvents     = []byte(store.BucketTxEvents)
	bkDeviceModel  = []byte(store.BucketDeviceModel)
	bkMeta         = []byte(store.BucketMeta)

	keyLocalListVersion = []byte(store.KeyLocalListVersion)
)

// NewService validates cfg and loads the authorization cache from st.
func NewService(ctx context.Context, st Store, cfg Config) (*Service, error) {
	if err := cfg.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("charging: %w", err)
	}
	s := &Service{
		st:          st,
		clock:       cmp.Or[Clock](cfg.Clock, SystemClock{}),
		clockSync:   cfg.ClockSync,
		pendNotify:  make(chan struct{}, 1),
		log:         cfg.Logger,
		onChange:    cfg.OnChange,
		tokens:      make(map[string]IDToken),
		listChanged: make(chan struct{}),
		live:        make(map[ChargerID]*live),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.policy.Store(&cfg.Policy)
	s.interval.Store(int64(cmp.Or(cfg.HeartbeatInterval, DefaultHeartbeatInterval)))
	err := st.View(func(tx *bbolt.Tx) error {
		s.listVersion = readListVersion(tx)
		return tx.Bucket(bkTokens).ForEach(func(k, v []byte) error {
			var t IDToken
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("token %q: %w", k, err)
			}
			s.tokens[t.ID] = t
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("charging: load authorization cache: %w", err)
	}
	s.log.InfoContext(ctx, "charging service ready", "tokens", len(s.tokens))
	return s, nil
}

// apply is the one path by which the domain mutates storage: change runs
// inside the store transaction and returns the changed record, or nil when
// nothing changed (a duplicate). OnChange (the future outbox) is appended
// in the same transaction, so the change and its outbox record are durable
// together. apply returns after the commit is fsynced.
func (s *Service) apply(ctx context.Context, kind ChangeKind, id ChargerID, change func(tx *bbolt.Tx) (any, error)) error {
	return s.applyChanges(ctx, string(kind), id, func(tx *bbolt.Tx) ([]Change, error) {
		rec, err := change(tx)
		if err != nil || rec == nil {
			return nil, err
		}
		return []Change{{Kind: kind, ChargerID: id, Record: rec}}, nil
	})
}

// applyChanges is apply for a mutation that may make several changes
// (none: a duplicate); what names it in errors and logs.
func (s *Service) applyChanges(ctx context.Context, what string, id ChargerID, change func(tx *bbolt.Tx) ([]Change, error)) error {
	var committed []Change
	err := s.st.Update(ctx, func(tx *bbolt.Tx) error {
		cs, err := change(tx)
		committed = cs // the last run is the one that commits
		if err != nil || s.onChange == nil {
			return err
		}
		for _, c := range cs {
			if err := s.onChange(tx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("charging: %s %s: %w", what, id, err)
	}
	if len(committed) == 0 {
		s.log.DebugContext(ctx, "nothing new to record (a duplicate)", "change", what, "charger", id)
	}
	for _, c := range committed {
		s.logChange(ctx, c.Kind, id, c.Record)
	}
	return nil
}

// logChange logs the changes an operator follows (boots and sessions) at
// info level and the rest at debug. Id tags are not logged.
func (s *Service) logChange(ctx context.Context, kind ChangeKind, id ChargerID, rec any) {
	switch r := rec.(type) {
	case Charger:
		if kind == ChangeBoot {
			s.log.InfoContext(ctx, "charger booted", "charger", id, "vendor", r.Vendor, "model", r.Model, "firmware", r.FirmwareVersion)
			return
		}
		s.log.DebugContext(ctx, "charger updated", "change", kind, "charger", id)
	case Transaction:
		switch kind {
		case ChangeTransactionStart:
			s.log.InfoContext(ctx, "transaction started", "charger", id, "connector", r.ConnectorID, "transaction", r.ID,
				"authorization", r.Authorization, "protocol", r.Protocol, "implicit", r.StartedImplicitly)
			return
		case ChangeTransactionUpdate:
			s.log.DebugContext(ctx, "transaction updated", "charger", id, "connector", r.ConnectorID, "transaction", r.ID)
			return
		}
		var wh int64
		if r.MeterStopWh != nil {
			wh = *r.MeterStopWh - r.MeterStartWh
		}
		s.log.InfoContext(ctx, "transaction stopped", "charger", id, "connector", r.ConnectorID, "transaction", r.ID, "energy_wh", wh, "reason", r.StopReason, "orphan", r.Orphan)
	default:
		s.log.DebugContext(ctx, "recorded", "change", kind, "charger", id)
	}
}

func (s *Service) liveOf(id ChargerID) *live {
	if l := s.findLive(id); l != nil {
		return l
	}
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	l := s.live[id]
	if l == nil {
		l = new(live)
		s.live[id] = l
	}
	return l
}

// findLive returns the charger's live state, or nil if it never connected.
func (s *Service) findLive(id ChargerID) *live {
	s.liveMu.RLock()
	defer s.liveMu.RUnlock()
	return s.live[id]
}

// protocolOf returns given, or when it is empty the protocol of the
// charger's current connection.
func (s *Service) protocolOf(id ChargerID, given string) string {
	if given != "" {
		return given
	}
	if l := s.findLive(id); l != nil {
		if p := l.protocol.Load(); p != nil {
			return *p
		}
	}
	return ""
}

// ChargerConnected marks a charger connected over protocol (memory only).
func (s *Service) ChargerConnected(ctx context.Context, id ChargerID, protocol string) {
	l := s.liveOf(id)
	l.protocol.Store(&protocol)
	l.lastSeen.Store(s.clock.Now().UnixNano())
	l.connected.Store(true)
	s.log.DebugContext(ctx, "charger connected", "charger", id, "protocol", protocol)
}

// ChargerDisconnected marks a charger disconnected (memory only).
func (s *Service) ChargerDisconnected(ctx context.Context, id ChargerID) {
	s.liveOf(id).connected.Store(false)
	s.log.DebugContext(ctx, "charger disconnected", "charger", id)
}

// Heartbeat records that the charger is alive and returns the current time.
// It touches memory only.
func (s *Service) Heartbeat(_ context.Context, id ChargerID) time.Time {
	now := s.clock.Now()
	s.liveOf(id).lastSeen.Store(now.UnixNano())
	return now
}

// Boot records what a charger says about itself and accepts it (admission
// of unknown chargers is the transport's decision).
func (s *Service) Boot(ctx context.Context, id ChargerID, info BootInfo) (BootResult, error) {
	if err := validateChargerID(id); err != nil {
		return BootResult{}, err
	}
	now := s.clock.Now()
	err := s.apply(ctx, ChangeBoot, id, func(tx *bbolt.Tx) (any, error) {
		c, err := getCharger(tx, id)
		if err != nil {
			return nil, err
		}
		c.Vendor, c.Model, c.SerialNumber, c.FirmwareVersion = info.Vendor, info.Model, info.SerialNumber, info.FirmwareVersion
		c.LastBoot = now
		return c, putCharger(tx, c)
	})
	if err != nil {
		return BootResult{}, err
	}
	s.liveOf(id).lastSeen.Store(now.UnixNano())
	return BootResult{Status: RegistrationAccepted, CurrentTime: now, Interval: time.Duration(s.interval.Load())}, nil
}

// SetHeartbeatInterval changes the interval given to chargers from their
// next boot on (the ones connected keep theirs until they boot again).
func (s *Service) SetHeartbeatInterval(d time.Duration) error {
	if d < time.Second || d > MaxHeartbeatInterval {
		return invalid("heartbeat interval", "%v is not between 1s and %v", d, MaxHeartbeatInterval)
	}
	s.interval.Store(int64(d))
	return nil
}

// MaxHeartbeatInterval bounds SetHeartbeatInterval: OCPP gives the interval
// in whole seconds of an int32, and a day without a heartbeat is already
// longer than any charger needs.
const MaxHeartbeatInterval = 24 * time.Hour

// SetUnknownTokenPolicy changes the mode of the default policy for tokens
// that are not in the cache (its allowlist patterns stay); per-charger
// policies keep theirs.
func (s *Service) SetUnknownTokenPolicy(mode PolicyMode) error {
	if mode == "" {
		return invalid("unknown token policy", "empty (want strict, allowlist or open)")
	}
	for {
		old := s.policy.Load()
		p := *old
		p.Default.Mode = mode
		if err := p.Validate(); err != nil {
			return err
		}
		if s.policy.CompareAndSwap(old, &p) {
			return nil
		}
	}
}

// UpdateConnectorStatus records a status report; an identical re-send
// changes nothing.
func (s *Service) UpdateConnectorStatus(ctx context.Context, u StatusUpdate) error {
	if err := validateStatus(u); err != nil {
		return err
	}
	now := s.clock.Now()
	return s.apply(ctx, ChangeConnectorStatus, u.ChargerID, func(tx *bbolt.Tx) (any, error) {
		if err := ensureCharger(tx, u.ChargerID); err != nil {
			return nil, err
		}
		key := connectorKey(u.ChargerID, u.ConnectorID, u.EVSEConnectorID)
		b := tx.Bucket(bkConnectors)
		var old Connector
		if v := b.Get(key); v != nil {
			if err := json.Unmarshal(v, &old); err != nil {
				return nil, fmt.Errorf("connector %d: %w", u.ConnectorID, err)
			}
		}
		c := Connector{ID: u.ConnectorID, EVSEConnectorID: u.EVSEConnectorID, Status: u.Status, ErrorCode: u.ErrorCode, Info: u.Info,
			VendorID: u.VendorID, VendorErrorCode: u.VendorErrorCode, Timestamp: u.Timestamp, UpdatedAt: now}
		if old.UpdatedAt != (time.Time{}) && sameStatus(old, c) {
			return nil, nil
		}
		return c, putJSON(b, key, c)
	})
}

func sameStatus(a, b Connector) bool {
	a.UpdatedAt, b.UpdatedAt = time.Time{}, time.Time{}
	eq := a.Timestamp.Equal(b.Timestamp)
	a.Timestamp, b.Timestamp = time.Time{}, time.Time{}
	return eq && a == b
}

// Authorize answers from the in-memory cache; an unknown token is decided
// by the charger's policy (and recorded when the policy accepts it).
func (s *Service) Authorize(ctx context.Context, id ChargerID, idTag string) (Authorization, error) {
	if err := validateIDTag("idTag", idTag); err != nil {
		return Authorization{}, err
	}
	s.tokMu.RLock()
	t, ok := s.tokens[idTag]
	s.tokMu.RUnlock()
	if ok {
		return s.answer(t), nil
	}
	pol := s.policy.Load().For(id)
	var source string
	switch {
	case pol.Mode == PolicyOpen:
		source = SourceOpenPolicy
	case pol.Mode == PolicyAllowlist && pol.allows(idTag):
		source = SourceAllowlistPolicy
	default:
		return Authorization{Status: AuthInvalid}, nil
	}
	// The policy decided; recording the token is bookkeeping, so a failure
	// to record does not turn the answer into an error.
	if err := s.PutToken(ctx, IDToken{ID: idTag, Status: AuthAccepted, Source: source}); err != nil {
		s.log.WarnContext(ctx, "recording token accepted by policy", "charger", id, "source", source, "err", err)
	}
	return Authorization{Status: AuthAccepted}, nil
}

func (s *Service) answer(t IDToken) Authorization {
	a := Authorization{Status: t.Status, Expiry: t.Expiry, ParentID: t.ParentID}
	if a.Status == AuthAccepted && !t.Expiry.IsZero() && !s.clock.Now().Before(t.Expiry) {
		a.Status = AuthExpired
	}
	return a
}

// StartTransaction records a transaction the charger started. A duplicate
// (same charger, connector, idTag, timestamp and meterStart) returns the
// recorded transaction and writes nothing. The transaction is recorded even
// when the tag is not accepted: the charger may already be charging.
func (s *Service) StartTransaction(ctx context.Context, r StartRequest) (Transaction, Authorization, error) {
	if err := validateStart(r); err != nil {
		return Transaction{}, Authorization{}, err
	}
	auth, err := s.Authorize(ctx, r.ChargerID, r.IDTag)
	if err != nil {
		return Transaction{}, Authorization{}, err
	}
	now := s.stamp()
	protocol := s.protocolOf(r.ChargerID, r.Protocol)
	key := idemKey("start", r.ChargerID, r.ConnectorID, r.IDTag, r.Timestamp.UnixNano(), r.MeterStartWh)
	var (
		t       Transaction
		created bool
	)
	err = s.apply(ctx, ChangeTransactionStart, r.ChargerID, func(tx *bbolt.Tx) (any, error) {
		created = false
		if v := tx.Bucket(bkTxKeys).Get(key); v != nil {
			var err error
			t, err = getTransaction(tx, v)
			return nil, err
		}
		status, err := sessionAuthorization(tx, auth.Status, r.ChargerID, r.ConnectorID, r.IDTag)
		if err != nil {
			return nil, err
		}
		t = Transaction{ChargerID: r.ChargerID, Protocol: protocol, ConnectorID: r.ConnectorID, IDTag: r.IDTag,
			StartTime: r.Timestamp, MeterStartWh: r.MeterStartWh, ReservationID: r.ReservationID,
			Authorization: status, RecordedAt: now.Time, RecordedAtUnsynced: now.Unsynced}
		if err := insertTransaction(tx, &t); err != nil {
			return nil, err
		}
		if err := tx.Bucket(bkTxKeys).Put(key, store.U64(uint64(t.ID))); err != nil {
			return nil, err
		}
		created = true
		return t, useReservation(tx, r.ChargerID, r.ReservationID)
	})
	if err != nil {
		return Transaction{}, Authorization{}, err
	}
	if created {
		s.notePending(bkTransactions, t.ID, now)
	}
	auth.Status = t.Authorization
	return t, auth, nil
}

// sessionAuthorization applies the ConcurrentTx rule to the cache's answer
// for the token of a session on (id, connector): an accepted tag already in
// an active transaction on another connector is ConcurrentTx. Every
// protocol's session start and late session token goes through it.
func sessionAuthorization(tx *bbolt.Tx, status AuthStatus, id ChargerID, connector int, tag string) (AuthStatus, error) {
	if status != AuthAccepted {
		return status, nil
	}
	busy, err := tagBusyElsewhere(tx, id, connector, tag)
	if err != nil || !busy {
		return status, err
	}
	return AuthConcurrentTx, nil
}

// tagBusyElsewhere reports whether tag is in an active transaction on
// another connector than (id, connector).
func tagBusyElsewhere(tx *bbolt.Tx, id ChargerID, connector int, tag string) (bool, error) {
	c := tx.Bucket(bkActive).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		ch, conn, t, err := parseActive(v)
		if err != nil {
			return false, err
		}
		if t == tag && (ch != id || conn != connector) {
			return true, nil
		}
	}
	return false, nil
}

// insertTransaction gives t the next id of the one transaction sequence
// (shared by every protocol) and stores it.
func insertTransaction(tx *bbolt.Tx, t *Transaction) error {
	seq, err := tx.Bucket(bkTransactions).NextSequence()
	if err != nil {
		return err
	}
	if seq > math.MaxInt32 {
		return fmt.Errorf("transaction ids exhausted (%d)", seq)
	}
	t.ID = int64(seq)
	if err := putTransaction(tx, *t); err != nil {
		return err
	}
	return ensureCharger(tx, t.ChargerID)
}

// putTransaction stores t and keeps the active set in step with it.
func putTransaction(tx *bbolt.Tx, t Transaction) error {
	id := store.U64(uint64(t.ID))
	if err := putJSON(tx.Bucket(bkTransactions), id, t); err != nil {
		return err
	}
	if t.Active() {
		return tx.Bucket(bkActive).Put(id, activeValue(t.ChargerID, t.ConnectorID, t.IDTag))
	}
	return tx.Bucket(bkActive).Delete(id)
}

// endTransaction stops t and stores it: the stop of every protocol.
// meterWh nil: the stop meter is unknown.
func endTransaction(tx *bbolt.Tx, t *Transaction, at time.Time, meterWh *int64, tag, reason string) error {
	t.StopTime, t.MeterStopWh, t.StopIDTag, t.StopReason = at, meterWh, tag, reason
	if err := putTransaction(tx, *t); err != nil {
		return err
	}
	return ensureCharger(tx, t.ChargerID)
}

// storeReadings stores readings of transaction t as one meter report (an
// identical report is stored once) and returns the change, or nil when
// nothing was added.
func storeReadings(tx *bbolt.Tx, t Transaction, rs []MeterReading) ([]Change, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	mv := MeterValues{ChargerID: t.ChargerID, ConnectorID: t.ConnectorID, TransactionID: t.ID, Readings: rs}
	added, err := putReport(tx, mv)
	if err != nil || !added {
		return nil, err
	}
	return []Change{{Kind: ChangeMeterValues, ChargerID: t.ChargerID, Record: mv}}, nil
}

// useReservation marks reservation id of charger Used by a starting session.
func useReservation(tx *bbolt.Tx, charger ChargerID, id *int) error {
	if id == nil || *id < 0 {
		return nil
	}
	b := tx.Bucket(bkReservations)
	key := store.U64(uint64(*id))
	var res Reservation
	if v := b.Get(key); v == nil {
		return nil
	} else if err := json.Unmarshal(v, &res); err != nil {
		return fmt.Errorf("reservation %d: %w", *id, err)
	}
	if res.ChargerID != charger || res.Status == "Used" {
		return nil
	}
	res.Status = "Used"
	return putJSON(b, key, res)
}

// StopTransaction records a stop. A repeated stop returns the recorded
// result (the first stop wins). A stop for a transaction id this appliance
// never issued to this charger is recorded as an Orphan transaction with a
// new id (the charger's id kept in ChargerTxID), never refused; its start
// meter and time come from the stop's transaction data when that holds a
// start reading (see [Service.TransactionEvent] for the rule). The stop's
// readings are stored like MeterValues for the transaction.
func (s *Service) StopTransaction(ctx context.Context, r StopRequest) (Transaction, *Authorization, error) {
	if err := validateStop(r); err != nil {
		return Transaction{}, nil, err
	}
	var auth *Authorization
	if r.IDTag != "" {
		a, err := s.Authorize(ctx, r.ChargerID, r.IDTag)
		if err != nil {
			return Transaction{}, nil, err
		}
		auth = &a
	}
	now := s.stamp()
	protocol := s.protocolOf(r.ChargerID, "")
	orphanKey := idemKey("orphan", r.ChargerID, r.TransactionID)
	var (
		t       Transaction
		created bool
	)
	err := s.applyChanges(ctx, string(ChangeTransactionStop), r.ChargerID, func(tx *bbolt.Tx) ([]Change, error) {
		var err error
		t, err = findStopTarget(tx, r, orphanKey)
		if err != nil {
			return nil, err
		}
		created = t.ID == 0
		if created { // orphan, first time
			t = Transaction{ChargerTxID: strconv.FormatInt(r.TransactionID, 10), ChargerID: r.ChargerID, Protocol: protocol,
				IDTag: r.IDTag, Orphan: true, RecordedAt: now.Time, RecordedAtUnsynced: now.Unsynced}
			if wh, at, ok := startMeter(r.Readings); ok {
				t.MeterStartWh, t.StartTime = wh, at
			}
			if auth != nil {
				t.Authorization = auth.Status
			}
			if err := insertTransaction(tx, &t); err != nil {
				return nil, err
			}
			if err := tx.Bucket(bkTxKeys).Put(orphanKey, store.U64(uint64(t.ID))); err != nil {
				return nil, err
			}
		}
		changes, err := storeReadings(tx, t, r.Readings)
		if err != nil || !t.Active() {
			return changes, err
		}
		m := r.MeterStopWh
		if err := endTransaction(tx, &t, r.Timestamp, &m, r.IDTag, r.Reason); err != nil {
			return nil, err
		}
		return append(changes, Change{Kind: ChangeTransactionStop, ChargerID: r.ChargerID, Record: t}), nil
	})
	if err != nil {
		return Transaction{}, nil, err
	}
	if created {
		s.notePending(bkTransactions, t.ID, now)
	}
	return t, auth, nil
}

// findStopTarget returns the transaction a stop refers to, the orphan
// already recorded for it, or a zero Transaction for a new orphan.
func findStopTarget(tx *bbolt.Tx, r StopRequest, orphanKey []byte) (Transaction, error) {
	if r.TransactionID > 0 {
		v := tx.Bucket(bkTransactions).Get(store.U64(uint64(r.TransactionID)))
		if v != nil {
			var t Transaction
			if err := json.Unmarshal(v, &t); err != nil {
				return Transaction{}, fmt.Errorf("transaction %d: %w", r.TransactionID, err)
			}
			if t.ChargerID == r.ChargerID && !t.Orphan && t.ChargerTxID == "" {
				return t, nil
			}
		}
	}
	if v := tx.Bucket(bkTxKeys).Get(orphanKey); v != nil {
		return getTransaction(tx, v)
	}
	return Transaction{}, nil
}

// RecordMeterValues stores a meter report as sent; an identical re-sent
// report is stored once.
func (s *Service) RecordMeterValues(ctx context.Context, mv MeterValues) error {
	if err := validateMeterValues(mv); err != nil {
		return err
	}
	if len(mv.Readings) == 0 {
		return nil
	}
	return s.apply(ctx, ChangeMeterValues, mv.ChargerID, func(tx *bbolt.Tx) (any, error) {
		added, err := putReport(tx, mv)
		if err != nil || !added {
			return nil, err
		}
		return mv, nil
	})
}

func putReport(tx *bbolt.Tx, mv MeterValues) (added bool, err error) {
	enc := encodeReport(nil, mv)
	key := readingKey(mv.TransactionID, enc)
	b := tx.Bucket(bkReadings)
	if b.Get(key) != nil {
		return false, nil
	}
	return true, b.Put(key, enc)
}

// RecordFirmwareStatus records a firmware status notification.
func (s *Service) RecordFirmwareStatus(ctx context.Context, id ChargerID, status string) error {
	return s.updateCharger(ctx, ChangeFirmwareStatus, id, status, func(c *Charger) { c.FirmwareStatus = status })
}

// RecordDiagnosticsStatus records a diagnostics status notification.
func (s *Service) RecordDiagnosticsStatus(ctx context.Context, id ChargerID, status string) error {
	return s.updateCharger(ctx, ChangeDiagnosticsStatus, id, status, func(c *Charger) { c.DiagnosticsStatus = status })
}

func (s *Service) updateCharger(ctx context.Context, kind ChangeKind, id ChargerID, status string, set func(*Charger)) error {
	if err := validateChargerID(id); err != nil {
		return err
	}
	if err := validateText("status", status, 64, true); err != nil {
		return err
	}
	return s.apply(ctx, kind, id, func(tx *bbolt.Tx) (any, error) {
		c, err := getCharger(tx, id)
		if err != nil {
			return nil, err
		}
		set(&c)
		return c, putCharger(tx, c)
	})
}

// RecordConfiguration records configuration the charger reported: replace
// drops keys not in cfg (a full GetConfiguration answer), otherwise cfg is
// merged in.
func (s *Service) RecordConfiguration(ctx context.Context, id ChargerID, cfg map[string]ConfigValue, replace bool) error {
	if err := validateChargerID(id); err != nil {
		return err
	}
	for k, v := range cfg {
		if err := validateText("configuration key", k, 128, true); err != nil {
			return err
		}
		if err := validateText("configuration value of "+k, v.Value, 4096, false); err != nil {
			return err
		}
	}
	return s.apply(ctx, ChangeConfiguration, id, func(tx *bbolt.Tx) (any, error) {
		c, err := getCharger(tx, id)
		if err != nil {
			return nil, err
		}
		if replace || c.Configuration == nil {
			c.Configuration = make(map[string]ConfigValue, len(cfg))
		}
		maps.Copy(c.Configuration, cfg)
		return c, putCharger(tx, c)
	})
}

// RecordReservation stores (creates or replaces) a reservation; an empty
// status means "Accepted".
func (s *Service) RecordReservation(ctx context.Context, r Reservation) error {
	if r.Status == "" {
		r.Status = "Accepted"
	}
	if err := validateReservation(r); err != nil {
		return err
	}
	return s.apply(ctx, ChangeReservation, r.ChargerID, func(tx *bbolt.Tx) (any, error) {
		return r, putJSON(tx.Bucket(bkReservations), store.U64(uint64(r.ID)), r)
	})
}

// CancelReservation marks a reservation of charger id Cancelled; ErrNotFound
// if the charger has no such reservation. Cancelling twice is not an error.
func (s *Service) CancelReservation(ctx context.Context, id ChargerID, reservationID int) error {
	if err := validateChargerID(id); err != nil {
		return err
	}
	return s.apply(ctx, ChangeReservation, id, func(tx *bbolt.Tx) (any, error) {
		b := tx.Bucket(bkReservations)
		key := store.U64(uint64(reservationID))
		v := b.Get(key)
		var r Reservation
		if reservationID < 0 || v == nil {
			return nil, fmt.Errorf("reservation %d: %w", reservationID, ErrNotFound)
		}
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("reservation %d: %w", reservationID, err)
		}
		if r.ChargerID != id {
			return nil, fmt.Errorf("reservation %d: %w", reservationID, ErrNotFound)
		}
		if r.Status == "Cancelled" {
			return nil, nil
		}
		r.Status = "Cancelled"
		return r, putJSON(b, key, r)
	})
}

// PutToken adds or replaces a token of the authorization cache (blocking a
// token is PutToken with Status Blocked). UpdatedAt is set to now.
func (s *Service) PutToken(ctx context.Context, t IDToken) error {
	if err := validateToken(t); err != nil {
		return err
	}
	t.UpdatedAt = s.clock.Now()
	return s.apply(ctx, ChangeToken, "", func(tx *bbolt.Tx) (any, error) {
		version, err := bumpListVersion(tx)
		if err != nil {
			return nil, err
		}
		// The cache follows commit order, and only committed state.
		tx.OnCommit(func() { s.setToken(t.ID, &t, version) })
		return t, putJSON(tx.Bucket(bkTokens), []byte(t.ID), t)
	})
}

// DeleteToken removes a token from the cache; afterwards the policy decides
// for it again. Deleting an unknown token is not an error.
func (s *Service) DeleteToken(ctx context.Context, id string) error {
	if err := validateIDTag("token id", id); err != nil {
		return err
	}
	return s.apply(ctx, ChangeTokenDeleted, "", func(tx *bbolt.Tx) (any, error) {
		b := tx.Bucket(bkTokens)
		if b.Get([]byte(id)) == nil {
			return nil, nil
		}
		version, err := bumpListVersion(tx)
		if err != nil {
			return nil, err
		}
		tx.OnCommit(func() { s.setToken(id, nil, version) })
		return id, b.Delete([]byte(id))
	})
}

// setToken applies a committed change of token id (nil: deleted) to the
// in-memory cache, with the local list version it committed with.
func (s *Service) setToken(id string, t *IDToken, version int64) {
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	if t == nil {
		delete(s.tokens, id)
	} else {
		s.tokens[id] = *t
	}
	if version > s.listVersion {
		s.listVersion = version
		close(s.listChanged)
		s.listChanged = make(chan struct{})
	}
}

// readListVersion is the local list version stored in tx (0: none yet).
func readListVersion(tx *bbolt.Tx) int64 {
	v, _ := store.ParseU64(tx.Bucket(bkMeta).Get(keyLocalListVersion))
	return int64(min(v, math.MaxInt32))
}

// bumpListVersion counts one change of the cache in tx and returns the
// new local list version. Chargers take versions up to 2^31-1; at that
// (after two billion changes) the version stays, and chargers are no
// longer told of changes by it.
func bumpListVersion(tx *bbolt.Tx) (int64, error) {
	v := min(readListVersion(tx)+1, math.MaxInt32)
	if err := tx.Bucket(bkMeta).Put(keyLocalListVersion, store.U64(uint64(v))); err != nil {
		return 0, fmt.Errorf("local list version: %w", err)
	}
	return v, nil
}

// record helpers

func getCharger(tx *bbolt.Tx, id ChargerID) (Charger, error) {
	c := Charger{ID: id}
	if v := tx.Bucket(bkChargers).Get([]byte(id)); v != nil {
		if err := json.Unmarshal(v, &c); err != nil {
			return Charger{}, fmt.Errorf("charger %s: %w", id, err)
		}
	}
	return c, nil
}

// putCharger stores the durable part of a charger; connectors and the live
// state are kept elsewhere.
func putCharger(tx *bbolt.Tx, c Charger) error {
	c.Connectors, c.Connected, c.LastSeen, c.Protocol = nil, false, time.Time{}, ""
	return putJSON(tx.Bucket(bkChargers), []byte(c.ID), c)
}

func ensureCharger(tx *bbolt.Tx, id ChargerID) error {
	if tx.Bucket(bkChargers).Get([]byte(id)) != nil {
		return nil
	}
	return putCharger(tx, Charger{ID: id})
}

func getTransaction(tx *bbolt.Tx, id []byte) (Transaction, error) {
	var t Transaction
	v := tx.Bucket(bkTransactions).Get(id)
	if v == nil {
		return t, fmt.Errorf("transaction %x: %w", id, ErrNotFound)
	}
	if err := json.Unmarshal(v, &t); err != nil {
		return t, fmt.Errorf("transaction %x: %w", id, err)
	}
	return t, nil
}

func putJSON(b *bbolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %T: %w", v, err)
	}
	return b.Put(key, data)
}

// connectorKey is the key of a connector's status: a 2.x connector within
// an EVSE (evseConnector > 0) gets its own key after its EVSE's.
func connectorKey(id ChargerID, connector, evseConnector int) []byte {
	k := append([]byte(id), 0)
	k = binary.BigEndian.AppendUint32(k, uint32(connector))
	if evseConnector > 0 {
		k = binary.BigEndian.AppendUint32(k, uint32(evseConnector))
	}
	return k
}

func activeValue(id ChargerID, connector int, tag string) []byte {
	b := appendString(nil, string(id))
	b = binary.AppendUvarint(b, uint64(connector))
	return append(b, tag...)
}

func parseActive(v []byte) (ChargerID, int, string, error) {
	d := decoder{b: v}
	id := d.string()
	conn := d.uvarint()
	if d.err != nil {
		return "", 0, "", fmt.Errorf("active transaction entry: %w", d.err)
	}
	return ChargerID(id), int(conn), string(d.b), nil
}

// validation: the adapters check the wire format; this is the domain's own
// defence, so nothing invalid reaches storage.

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...))
}

func validateText(field, s string, max int, required bool) error {
	switch {
	case required && s == "":
		return invalid(field, "empty")
	case len(s) > max:
		return invalid(field, "longer than %d bytes", max)
	case !utf8.ValidString(s):
		return invalid(field, "not UTF-8")
	}
	return nil
}

func validateChargerID(id ChargerID) error {
	if err := validateText("chargerId", string(id), 255, true); err != nil {
		return err
	}
	if strings.ContainsFunc(string(id), func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return invalid("chargerId", "contains control characters")
	}
	return nil
}

func validateIDTag(field, tag string) error { return validateText(field, tag, 255, true) }

func validateConnector(field string, n int, min int) error {
	if n < min || n > math.MaxInt32 {
		return invalid(field, "%d out of range", n)
	}
	return nil
}

// validateEVSEConnector checks a connector id within EVSE evse (0: none).
func validateEVSEConnector(field string, evse, n int) error {
	if err := validateConnector(field, n, 0); err != nil {
		return err
	}
	if n > 0 && evse <= 0 {
		return invalid(field, "%d given without an EVSE", n)
	}
	return nil
}

func validateTime(field string, t time.Time) error {
	// Old years are allowed: a charger without a clock sends 1970 times, and
	// refusing them would make it retry forever. JSON cannot hold year > 9999.
	if t.IsZero() || t.Year() < 1 || t.Year() > 9999 {
		return invalid(field, "%v out of range", t)
	}
	return nil
}

var knownStatus = map[ConnectorStatus]bool{
	StatusAvailable: true, StatusPreparing: true, StatusCharging: true, StatusSuspendedEV: true,
	StatusSuspendedEVSE: true, StatusFinishing: true, StatusReserved: true, StatusUnavailable: true,
	StatusFaulted: true, StatusOccupied: true,
}

func validateStatus(u StatusUpdate) error {
	if err := validateChargerID(u.ChargerID); err != nil {
		return err
	}
	if err := validateConnector("connectorId", u.ConnectorID, 0); err != nil {
		return err
	}
	if err := validateEVSEConnector("evseConnectorId", u.ConnectorID, u.EVSEConnectorID); err != nil {
		return err
	}
	if !knownStatus[u.Status] {
		return invalid("status", "unknown %q", u.Status)
	}
	if !u.Timestamp.IsZero() {
		if err := validateTime("timestamp", u.Timestamp); err != nil {
			return err
		}
	}
	for _, f := range [...]struct{ name, v string }{{"errorCode", u.ErrorCode}, {"info", u.Info},
		{"vendorId", u.VendorID}, {"vendorErrorCode", u.VendorErrorCode}} {
		if err := validateText(f.name, f.v, 512, false); err != nil {
			return err
		}
	}
	return nil
}

func validateStart(r StartRequest) error {
	if err := validateChargerID(r.ChargerID); err != nil {
		return err
	}
	if err := validateConnector("connectorId", r.ConnectorID, 1); err != nil {
		return err
	}
	if err := validateIDTag("idTag", r.IDTag); err != nil {
		return err
	}
	if r.MeterStartWh < 0 {
		return invalid("meterStart", "negative (%d)", r.MeterStartWh)
	}
	if err := validateText("protocol", r.Protocol, 32, false); err != nil {
		return err
	}
	return validateTime("timestamp", r.Timestamp)
}

func validateStop(r StopRequest) error {
	if err := validateChargerID(r.ChargerID); err != nil {
		return err
	}
	if r.IDTag != "" {
		if err := validateIDTag("idTag", r.IDTag); err != nil {
			return err
		}
	}
	if r.MeterStopWh < 0 {
		return invalid("meterStop", "negative (%d)", r.MeterStopWh)
	}
	if err := validateTime("timestamp", r.Timestamp); err != nil {
		return err
	}
	if err := validateText("reason", r.Reason, 64, false); err != nil {
		return err
	}
	return validateReadings("transactionData", r.Readings)
}

func validateMeterValues(mv MeterValues) error {
	if err := validateChargerID(mv.ChargerID); err != nil {
		return err
	}
	if err := validateConnector("connectorId", mv.ConnectorID, 0); err != nil {
		return err
	}
	if mv.TransactionID < 0 {
		return invalid("transactionId", "negative (%d)", mv.TransactionID)
	}
	return validateReadings("meterValue", mv.Readings)
}

func validateReadings(field string, rs []MeterReading) error {
	for i, r := range rs {
		f := fmt.Sprintf("%s[%d]", field, i)
		if err := validateTime(f+".timestamp", r.Timestamp); err != nil {
			return err
		}
		if r.Multiplier < math.MinInt8 || r.Multiplier > math.MaxInt8 {
			return invalid(f+".multiplier", "%d out of range", r.Multiplier)
		}
		for _, w := range [...]struct{ name, v string }{{"measurand", r.Measurand}, {"phase", r.Phase},
			{"unit", r.Unit}, {"context", r.Context}, {"location", r.Location}, {"format", r.Format}} {
			if err := validateText(f+"."+w.name, w.v, 64, false); err != nil {
				return err
			}
		}
		if r.Format == "SignedData" {
			if err := validateText(f+".value", r.Value, 16384, true); err != nil {
				return err
			}
			continue
		}
		v, err := strconv.ParseFloat(r.Value, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return invalid(f+".value", "%q is not a number", r.Value)
		}
		if v < 0 && isRegister(r.Measurand) {
			return invalid(f+".value", "negative register reading %q", r.Value)
		}
	}
	return nil
}

// isRegister reports whether measurand is a cumulative energy register
// (the default measurand is one), which can never be negative.
func isRegister(m string) bool {
	return m == "" || strings.HasSuffix(m, ".Register")
}

func validateToken(t IDToken) error {
	if err := validateIDTag("token id", t.ID); err != nil {
		return err
	}
	if !slices.Contains(tokenStatuses, t.Status) {
		return invalid("token status", "%q not one of %s", t.Status, joinStatuses(tokenStatuses))
	}
	if err := validateText("parentId", t.ParentID, 255, false); err != nil {
		return err
	}
	return validateText("source", t.Source, 64, false)
}

func validateReservation(r Reservation) error {
	if r.ID < 0 {
		return invalid("reservationId", "negative (%d)", r.ID)
	}
	if err := validateChargerID(r.ChargerID); err != nil {
		return err
	}
	if err := validateConnector("connectorId", r.ConnectorID, 0); err != nil {
		return err
	}
	if err := validateIDTag("idTag", r.IDTag); err != nil {
		return err
	}
	if err := validateTime("expiry", r.Expiry); err != nil {
		return err
	}
	switch r.Status {
	case "Accepted", "Cancelled", "Used", "Expired":
		return nil
	}
	return invalid("status", "unknown %q", r.Status)
}
