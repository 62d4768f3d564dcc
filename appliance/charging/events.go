package charging

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	"go.etcd.io/bbolt"

	"github.com/constellation-ev/constellation/appliance/internal/clock"
	"github.com/constellation-ev/constellation/appliance/store"
)

// TransactionEvent records one event of a session whose id the charger
// assigns (OCPP 2.0.1 and 2.1 TransactionEvent) and returns once it is
// committed. Such a session is the same [Transaction] as a 1.6 one: it gets
// its ID from the one transaction sequence, its start, stop, readings and
// authorization follow the same rules and code, and OnChange sees the same
// change kinds. It is found again by (ChargerID, ChargerTxID).
//
//   - Started creates the session: StartTime is the event's timestamp,
//     MeterStartWh the Energy.Active.Import.Register reading with context
//     Transaction.Begin, else the earliest register reading of the event
//     (Wh; kWh and multipliers converted, see [MeterReading.EnergyWh]), else 0.
//   - IDToken, in whichever event it first comes, becomes IDTag (an IDTag
//     once set is kept) and is answered from the authorization cache
//     exactly as [Service.Authorize] and [Service.StartTransaction] answer,
//     ConcurrentTx included, in Started and Updated events of an active
//     session; an Ended's token is answered as a 1.6 stop's is, and is the
//     stop's StopIDTag. Another token than IDTag in a Started or Updated is
//     answered, not stored. Authorization records the answer given to IDTag.
//   - EVSEID is the session's ConnectorID and ConnectorID its
//     EVSEConnectorID: the first event that names them sets them; later
//     different values are logged and ignored.
//   - Ended stops the session as [Service.StopTransaction] does: StopTime is
//     the event's timestamp, StopReason its StoppedReason, StopIDTag its
//     IDToken, MeterStopWh the Transaction.End register reading, else the
//     latest register reading stored for the session (nil if none is known),
//     and the session leaves the active set.
//   - Readings of every event are stored as one meter report of the session,
//     exactly as MeterValues and a 1.6 stop's transaction data are, and
//     emitted as ChangeMeterValues.
//   - An Updated or Ended for an unknown ChargerTxID creates the session
//     (the charger may have started it offline, and everything we
//     acknowledged is kept) with StartedImplicitly set; its start meter and
//     time come from the event's readings as for Started (the Transaction.Begin
//     reading's time, else the earliest register reading's, else the event's
//     timestamp). An Ended-only session is created already stopped. A
//     Started arriving later fills in the start fields and clears the mark;
//     it never reactivates an ended session.
//   - A Started for a session that already had one keeps the first start
//     (logged); the event is otherwise applied like an Updated.
//   - Events after Ended store their readings and a token for a session
//     without IDTag; the stop fields are never changed (the first stop
//     wins, a second Ended is logged).
//   - SeqNo: an event whose (ChargerID, ChargerTxID, SeqNo) was applied
//     before changes nothing and returns the first answer (Duplicate set;
//     reusing a seqNo with different content is logged and ignored too). A
//     skipped seqNo or an event arriving after a higher one is applied all
//     the same (events carry their own timestamps), logged, and recorded on
//     the session: SeqNoGaps and MissingSeqNos (seqNos missing between the
//     lowest and highest received; a late arrival removes its number) and
//     OutOfOrderEvents. The first event received is the baseline: nothing
//     before it counts as missing.
//
// Changes passed to OnChange: transaction.start when the event creates the
// session, meter.values for new readings, transaction.stop for the first
// Ended, otherwise transaction.update when the stored session changed.
func (s *Service) TransactionEvent(ctx context.Context, ev TransactionEvent) (TransactionEventResult, error) {
	if err := validateEvent(ev); err != nil {
		return TransactionEventResult{}, err
	}
	ev.Protocol = s.protocolOf(ev.ChargerID, ev.Protocol)
	var auth *Authorization
	if ev.IDToken != "" {
		a, err := s.Authorize(ctx, ev.ChargerID, ev.IDToken)
		if err != nil {
			return TransactionEventResult{}, err
		}
		auth = &a
	}
	a := eventApply{ev: ev, auth: auth, now: s.stamp(), sum: eventHash(ev)}
	err := s.applyChanges(ctx, "transaction event", ev.ChargerID, func(tx *bbolt.Tx) ([]Change, error) {
		return a.run(tx)
	})
	if err != nil {
		return TransactionEventResult{}, err
	}
	for _, c := range a.changes {
		if t, ok := c.Record.(Transaction); ok && c.Kind == ChangeTransactionStart {
			s.notePending(bkTransactions, t.ID, a.now)
		}
	}
	for _, n := range a.notes {
		args := append([]any{"charger", ev.ChargerID, "chargerTransaction", ev.ChargerTxID, "seqNo", ev.SeqNo,
			"event", ev.Kind, "trigger", ev.TriggerReason, "transaction", a.res.Transaction.ID}, n.args...)
		s.log.WarnContext(ctx, n.msg, args...)
	}
	return a.res, nil
}

// eventApply applies one TransactionEvent inside a store transaction. run
// may be called more than once (see store.DB.Update); it starts afresh.
type eventApply struct {
	ev   TransactionEvent
	auth *Authorization // the cache's answer to ev.IDToken, nil: none
	now  clock.Stamp
	sum  []byte // eventHash(ev)

	// per run
	tx      *bbolt.Tx
	t       Transaction
	dirty   bool       // t changed since it was last stored
	status  AuthStatus // answered for ev.IDToken
	changes []Change
	notes   []note
	res     TransactionEventResult
}

// note is a warning logged once the event is committed.
type note struct {
	msg  string
	args []any
}

func (a *eventApply) note(msg string, args ...any) {
	a.notes = append(a.notes, note{msg, args})
}

func (a *eventApply) run(tx *bbolt.Tx) ([]Change, error) {
	*a = eventApply{ev: a.ev, auth: a.auth, now: a.now, sum: a.sum, tx: tx}
	ev := a.ev
	idxKey := chargerTxKey(ev.ChargerID, ev.ChargerTxID)
	v := tx.Bucket(bkTxChargerIDs).Get(idxKey)
	found := v != nil
	if found {
		var err error
		if a.t, err = getTransaction(tx, v); err != nil {
			return nil, err
		}
		if old := tx.Bucket(bkTxEvents).Get(eventKey(a.t.ID, ev.SeqNo)); old != nil {
			a.duplicate(old)
			return nil, nil
		}
		if ev.Kind == EventStarted {
			if err := a.lateStart(); err != nil {
				return nil, err
			}
		}
		if !a.t.Active() {
			a.note("event after the session ended: stop fields kept")
		}
	} else {
		a.t = a.newTransaction()
	}
	if ev.Offline && !a.t.Offline {
		a.t.Offline, a.dirty = true, true
	}
	a.locate()
	if err := a.token(); err != nil {
		return nil, err
	}
	if !found {
		if err := a.insert(idxKey); err != nil {
			return nil, err
		}
	}
	if err := a.sequence(); err != nil {
		return nil, err
	}
	mv, err := storeReadings(tx, a.t, ev.Readings)
	if err != nil {
		return nil, err
	}
	a.changes = append(a.changes, mv...)
	if ev.Kind == EventEnded {
		if err := a.end(); err != nil {
			return nil, err
		}
	}
	if a.dirty {
		if err := putTransaction(tx, a.t); err != nil {
			return nil, err
		}
		if found { // a new session's changes were in its start; end() stores and clears dirty
			a.changes = append(a.changes, Change{Kind: ChangeTransactionUpdate, ChargerID: ev.ChargerID, Record: a.t})
		}
	}
	a.answer(a.status)
	return a.changes, nil
}

// answer sets the result: the session as stored and the answer to the token.
func (a *eventApply) answer(status AuthStatus) {
	a.res.Transaction = a.t
	if a.auth != nil {
		au := *a.auth
		if status != "" {
			au.Status = status
		}
		a.res.Authorization = &au
	}
}

// duplicate answers an event applied before with the status it was given.
func (a *eventApply) duplicate(old []byte) {
	if !bytes.Equal(old[:min(len(old), eventHashLen)], a.sum) {
		a.note("seqNo reused with different content: event ignored")
	}
	a.res.Duplicate = true
	var status AuthStatus
	if len(old) > eventHashLen {
		status = AuthStatus(old[eventHashLen:])
	}
	a.answer(status)
}

// newTransaction is the session an event for an unknown ChargerTxID creates.
func (a *eventApply) newTransaction() Transaction {
	ev := a.ev
	t := Transaction{ChargerTxID: ev.ChargerTxID, ChargerID: ev.ChargerID, Protocol: ev.Protocol,
		StartTime: ev.Timestamp, ReservationID: ev.ReservationID, RecordedAt: a.now.Time, RecordedAtUnsynced: a.now.Unsynced}
	wh, at, ok := startMeter(ev.Readings)
	if ok {
		t.MeterStartWh = wh
	}
	if ev.Kind != EventStarted {
		t.StartedImplicitly = true
		if ok {
			t.StartTime = at
		}
		a.note("session started implicitly: its Started event was not received")
	}
	return t
}

// insert stores a new session and indexes it by its charger's id.
func (a *eventApply) insert(idxKey []byte) error {
	if err := insertTransaction(a.tx, &a.t); err != nil {
		return err
	}
	a.dirty = false
	if err := a.tx.Bucket(bkTxChargerIDs).Put(idxKey, store.U64(uint64(a.t.ID))); err != nil {
		return err
	}
	a.changes = append(a.changes, Change{Kind: ChangeTransactionStart, ChargerID: a.t.ChargerID, Record: a.t})
	return useReservation(a.tx, a.t.ChargerID, a.t.ReservationID)
}

// lateStart applies a Started to a session already known.
func (a *eventApply) lateStart() error {
	if !a.t.StartedImplicitly {
		a.note("session started again: the first start is kept")
		return nil
	}
	a.t.StartedImplicitly, a.t.StartTime, a.dirty = false, a.ev.Timestamp, true
	if wh, _, ok := startMeter(a.ev.Readings); ok {
		a.t.MeterStartWh = wh
	}
	if a.ev.ReservationID == nil || a.t.ReservationID != nil {
		return nil
	}
	a.t.ReservationID = a.ev.ReservationID
	return useReservation(a.tx, a.t.ChargerID, a.t.ReservationID)
}

// locate sets the session's EVSE and connector from the event when unset.
func (a *eventApply) locate() {
	ev := a.ev
	if ev.EVSEID == 0 {
		return
	}
	switch a.t.ConnectorID {
	case 0:
		a.t.ConnectorID, a.dirty = ev.EVSEID, true
	case ev.EVSEID:
	default:
		a.note("event names another EVSE than the session's: ignored", "evse", ev.EVSEID, "sessionEvse", a.t.ConnectorID)
		return
	}
	switch a.t.EVSEConnectorID {
	case 0:
		if ev.ConnectorID != 0 {
			a.t.EVSEConnectorID, a.dirty = ev.ConnectorID, true
		}
	case ev.ConnectorID:
	default:
		if ev.ConnectorID != 0 {
			a.note("event names another connector than the session's: ignored", "connector", ev.ConnectorID, "sessionConnector", a.t.EVSEConnectorID)
		}
	}
}

// token applies the event's id token (see TransactionEvent).
func (a *eventApply) token() error {
	if a.auth == nil {
		return nil
	}
	tag := a.ev.IDToken
	a.status = a.auth.Status
	if a.ev.Kind != EventEnded && a.t.Active() {
		var err error
		if a.status, err = sessionAuthorization(a.tx, a.status, a.t.ChargerID, a.t.ConnectorID, tag); err != nil {
			return err
		}
	}
	if a.t.IDTag == "" {
		a.t.IDTag, a.t.Authorization, a.dirty = tag, a.status, true
	}
	return nil
}

// end stops the session, unless it was stopped before.
func (a *eventApply) end() error {
	if !a.t.Active() {
		a.note("session ended again: the first stop is kept")
		return nil
	}
	var meter *int64
	if wh, ok := endMeter(a.ev.Readings); ok {
		meter = &wh
	} else if wh, ok, err := latestStoredMeter(a.tx, a.t.ID); err != nil {
		return err
	} else if ok {
		meter = &wh
	}
	if err := endTransaction(a.tx, &a.t, a.ev.Timestamp, meter, a.ev.IDToken, a.ev.StoppedReason); err != nil {
		return err
	}
	a.dirty = false
	a.changes = append(a.changes, Change{Kind: ChangeTransactionStop, ChargerID: a.t.ChargerID, Record: a.t})
	return nil
}

// sequence records the event's seqNo and keeps the session's gap and
// out-of-order bookkeeping. In-order events (one more than the highest so
// far) take the fast path and change nothing on the session.
func (a *eventApply) sequence() error {
	ev := a.ev
	b := a.tx.Bucket(bkTxEvents)
	key := eventKey(a.t.ID, ev.SeqNo)
	val := append(append(make([]byte, 0, eventHashLen+len(a.status)), a.sum...), a.status...)
	if err := b.Put(key, val); err != nil {
		return err
	}
	prefix := key[:8]
	c := b.Cursor()
	c.Seek(key)
	next, _ := c.Next()
	isLast := next == nil || !bytes.HasPrefix(next, prefix)
	c.Seek(key)
	prev, _ := c.Prev()
	if prev == nil || !bytes.HasPrefix(prev, prefix) {
		if isLast {
			return nil // the first event: the baseline
		}
	} else if isLast && seqOf(prev) == ev.SeqNo-1 {
		return nil // in order
	}
	if !isLast {
		a.t.OutOfOrderEvents++
		a.dirty = true
		a.note("event arrived out of order", "highest", a.highest(b, prefix))
	}
	gaps, missing := 0, []int(nil)
	last := -1
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n := seqOf(k)
		if last >= 0 {
			gaps += n - last - 1
			for m := last + 1; m < n && len(missing) < MaxListedSeqNos; m++ {
				missing = append(missing, m)
			}
		}
		last = n
	}
	if gaps > a.t.SeqNoGaps {
		a.note("events missing: seqNo skipped", "missing", gaps, "lowestMissing", missing)
	}
	if gaps != a.t.SeqNoGaps || !equalInts(missing, a.t.MissingSeqNos) {
		a.t.SeqNoGaps, a.t.MissingSeqNos, a.dirty = gaps, missing, true
	}
	return nil
}

// highest returns the highest seqNo recorded under prefix.
func (a *eventApply) highest(b *bbolt.Bucket, prefix []byte) int {
	c := b.Cursor()
	id, _ := store.ParseU64(prefix)
	k, _ := c.Seek(store.U64(id + 1))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	return seqOf(k)
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// chargerTxKey is the index key of a charger-assigned transaction id.
func chargerTxKey(id ChargerID, chargerTxID string) []byte {
	k := make([]byte, 0, len(id)+1+len(chargerTxID))
	return append(append(append(k, id...), 0), chargerTxID...)
}

// eventKey is the key of an applied event: transaction id, seqNo.
func eventKey(id int64, seqNo int) []byte {
	return binary.BigEndian.AppendUint32(store.U64(uint64(id)), uint32(seqNo))
}

func seqOf(k []byte) int {
	if len(k) != 12 {
		return -1
	}
	return int(binary.BigEndian.Uint32(k[8:]))
}

const eventHashLen = 8

// eventHash fingerprints an event's content, to tell a retransmission from
// a different event reusing its seqNo.
func eventHash(ev TransactionEvent) []byte {
	res := "-"
	if ev.ReservationID != nil {
		res = fmt.Sprint(*ev.ReservationID)
	}
	rs := encodeReport(nil, MeterValues{Readings: ev.Readings})
	return idemKey(ev.Kind, ev.Timestamp.UnixNano(), ev.TriggerReason, ev.StoppedReason, ev.Offline,
		ev.EVSEID, ev.ConnectorID, ev.IDToken, res, string(rs))[:eventHashLen]
}

var eventKinds = map[TransactionEventKind]bool{EventStarted: true, EventUpdated: true, EventEnded: true}

func validateEvent(ev TransactionEvent) error {
	if err := validateChargerID(ev.ChargerID); err != nil {
		return err
	}
	if err := validateText("transactionId", ev.ChargerTxID, 36*utf8.UTFMax, true); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(ev.ChargerTxID); n > 36 {
		return invalid("transactionId", "longer than 36 characters (%d)", n)
	}
	if err := validateText("protocol", ev.Protocol, 32, false); err != nil {
		return err
	}
	if !eventKinds[ev.Kind] {
		return invalid("eventType", "unknown %q", ev.Kind)
	}
	if ev.SeqNo < 0 || ev.SeqNo > math.MaxInt32 {
		return invalid("seqNo", "%d out of range", ev.SeqNo)
	}
	if err := validateTime("timestamp", ev.Timestamp); err != nil {
		return err
	}
	if err := validateText("triggerReason", ev.TriggerReason, 64, false); err != nil {
		return err
	}
	if err := validateText("stoppedReason", ev.StoppedReason, 64, false); err != nil {
		return err
	}
	if err := validateConnector("evse.id", ev.EVSEID, 0); err != nil {
		return err
	}
	if err := validateEVSEConnector("evse.connectorId", ev.EVSEID, ev.ConnectorID); err != nil {
		return err
	}
	if ev.IDToken != "" {
		if err := validateIDTag("idToken", ev.IDToken); err != nil {
			return err
		}
	}
	if ev.ReservationID != nil && *ev.ReservationID < 0 {
		return invalid("reservationId", "negative (%d)", *ev.ReservationID)
	}
	return validateReadings("meterValue", ev.Readings)
}
