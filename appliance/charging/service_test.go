package charging

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/constellation-ev/constellation/appliance/store"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	svc   *Service
	db    *store.DB
	clock *FakeClock
	path  string
	cfg   Config
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	e := &env{clock: NewFakeClock(t0), path: filepath.Join(t.TempDir(), "constellation.db")}
	cfg.Clock = e.clock
	e.cfg = cfg
	e.open(t)
	return e
}

func (e *env) open(t *testing.T) {
	t.Helper()
	db, err := store.Open(e.path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	svc, err := NewService(context.Background(), db, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.db, e.svc = db, svc
}

func (e *env) reopen(t *testing.T) {
	t.Helper()
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	e.open(t)
}

var ctx = context.Background()

func start(conn int, tag string, meter int64) StartRequest {
	return StartRequest{ChargerID: "CP1", ConnectorID: conn, IDTag: tag, MeterStartWh: meter, Timestamp: t0.Add(time.Duration(meter) * time.Second)}
}

func TestBootAndLiveState(t *testing.T) {
	e := newEnv(t, Config{HeartbeatInterval: 60 * time.Second})
	if _, err := e.svc.Charger(ctx, "CP1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown charger: %v", err)
	}
	e.svc.ChargerConnected(ctx, "CP1", "ocpp1.6")
	res, err := e.svc.Boot(ctx, "CP1", BootInfo{Vendor: "V", Model: "M", SerialNumber: "S", FirmwareVersion: "1.0"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != RegistrationAccepted || res.Interval != 60*time.Second || !res.CurrentTime.Equal(t0) {
		t.Fatalf("boot result %+v", res)
	}
	e.clock.Advance(time.Minute)
	if hb := e.svc.Heartbeat(ctx, "CP1"); !hb.Equal(t0.Add(time.Minute)) {
		t.Fatalf("heartbeat time %v", hb)
	}
	c, err := e.svc.Charger(ctx, "CP1")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Connected || c.Protocol != "ocpp1.6" || !c.LastSeen.Equal(t0.Add(time.Minute)) || c.Vendor != "V" || !c.LastBoot.Equal(t0) {
		t.Fatalf("charger %+v", c)
	}
	e.svc.ChargerDisconnected(ctx, "CP1")
	e.reopen(t)
	c, err = e.svc.Charger(ctx, "CP1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Connected || c.Model != "M" || c.FirmwareVersion != "1.0" {
		t.Fatalf("after restart %+v", c)
	}
	if _, err := e.svc.Boot(ctx, "", BootInfo{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty id: %v", err)
	}
}

func TestAuthorize(t *testing.T) {
	e := newEnv(t, Config{Policy: PolicyConfig{
		Default: AuthPolicy{Mode: PolicyStrict},
		PerCharger: map[ChargerID]AuthPolicy{
			"OPEN":  {Mode: PolicyOpen},
			"ALLOW": {Mode: PolicyAllowlist, Allow: []string{"04A1*", "EXACT"}},
		},
	}})
	for _, tok := range []IDToken{
		{ID: "good", Status: AuthAccepted, ParentID: "fleet"},
		{ID: "blocked", Status: AuthBlocked},
		{ID: "expired", Status: AuthAccepted, Expiry: t0.Add(-time.Second)},
		{ID: "future", Status: AuthAccepted, Expiry: t0.Add(time.Hour)},
	} {
		if err := e.svc.PutToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		charger  ChargerID
		tag      string
		want     AuthStatus
		parent   string
		recorded string // Source of the token recorded by the policy
	}{
		{"CP1", "good", AuthAccepted, "fleet", ""},
		{"CP1", "blocked", AuthBlocked, "", ""},
		{"CP1", "expired", AuthExpired, "", ""},
		{"CP1", "future", AuthAccepted, "", ""},
		{"CP1", "stranger", AuthInvalid, "", ""},
		{"OPEN", "walkin", AuthAccepted, "", SourceOpenPolicy},
		{"OPEN", "blocked", AuthBlocked, "", ""},
		{"ALLOW", "04A1FF", AuthAccepted, "", SourceAllowlistPolicy},
		{"ALLOW", "EXACT", AuthAccepted, "", SourceAllowlistPolicy},
		{"ALLOW", "EXACTLY", AuthInvalid, "", ""},
		{"ALLOW", "05", AuthInvalid, "", ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.charger)+"/"+tt.tag, func(t *testing.T) {
			a, err := e.svc.Authorize(ctx, tt.charger, tt.tag)
			if err != nil {
				t.Fatal(err)
			}
			if a.Status != tt.want || a.ParentID != tt.parent {
				t.Fatalf("got %+v, want %s parent %q", a, tt.want, tt.parent)
			}
			if tt.recorded == "" {
				return
			}
			toks, _ := e.svc.Tokens(ctx)
			for _, tok := range toks {
				if tok.ID == tt.tag && tok.Source == tt.recorded && tok.Status == AuthAccepted {
					return
				}
			}
			t.Fatalf("token %s not recorded with source %s: %+v", tt.tag, tt.recorded, toks)
		})
	}
	// "walkin" is now known: the strict charger accepts it from the cache.
	if a, _ := e.svc.Authorize(ctx, "CP1", "walkin"); a.Status != AuthAccepted {
		t.Fatalf("recorded token: %+v", a)
	}
	// The future token expires as the clock moves.
	e.clock.Advance(2 * time.Hour)
	if a, _ := e.svc.Authorize(ctx, "CP1", "future"); a.Status != AuthExpired {
		t.Fatalf("after expiry: %+v", a)
	}
	// Block, delete, and restart.
	if err := e.svc.PutToken(ctx, IDToken{ID: "good", Status: AuthBlocked}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteToken(ctx, "walkin"); err != nil {
		t.Fatal(err)
	}
	e.reopen(t)
	if a, _ := e.svc.Authorize(ctx, "CP1", "good"); a.Status != AuthBlocked {
		t.Fatalf("blocked token after restart: %+v", a)
	}
	if a, _ := e.svc.Authorize(ctx, "CP1", "walkin"); a.Status != AuthInvalid {
		t.Fatalf("deleted token after restart: %+v", a)
	}
	if _, err := e.svc.Authorize(ctx, "CP1", ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty tag: %v", err)
	}
	if err := e.svc.PutToken(ctx, IDToken{ID: "x", Status: "Maybe"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad status: %v", err)
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, p := range []AuthPolicy{{Mode: "lenient"}, {Mode: PolicyAllowlist, Allow: []string{"a*b"}}, {Mode: PolicyAllowlist, Allow: []string{"*"}}} {
		if err := (PolicyConfig{Default: p}).Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", p, err)
		}
		if _, err := NewService(ctx, nil, Config{Policy: PolicyConfig{PerCharger: map[ChargerID]AuthPolicy{"x": p}}}); err == nil {
			t.Errorf("NewService accepted %+v", p)
		}
	}
}

func TestStartTransaction(t *testing.T) {
	e := newEnv(t, Config{})
	if err := e.svc.PutToken(ctx, IDToken{ID: "tag", Status: AuthAccepted}); err != nil {
		t.Fatal(err)
	}
	tx1, a1, err := e.svc.StartTransaction(ctx, start(1, "tag", 100))
	if err != nil {
		t.Fatal(err)
	}
	if tx1.ID <= 0 || a1.Status != AuthAccepted || tx1.Authorization != AuthAccepted || !tx1.Active() {
		t.Fatalf("start: %+v %+v", tx1, a1)
	}
	ops := e.db.Stats().Ops
	dup, _, err := e.svc.StartTransaction(ctx, start(1, "tag", 100))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dup, tx1) {
		t.Fatalf("duplicate start: %+v, want %+v", dup, tx1)
	}
	if e.db.Stats().Ops != ops+1 { // one no-op write that commits nothing new
		t.Fatalf("duplicate ops")
	}
	// Same tag on another connector while tx1 is active: ConcurrentTx, still recorded.
	tx2, a2, err := e.svc.StartTransaction(ctx, start(2, "tag", 200))
	if err != nil {
		t.Fatal(err)
	}
	if a2.Status != AuthConcurrentTx || tx2.Authorization != AuthConcurrentTx || tx2.ID != tx1.ID+1 {
		t.Fatalf("concurrent: %+v %+v", tx2, a2)
	}
	// Unknown tag under strict policy: recorded, not accepted.
	tx3, a3, err := e.svc.StartTransaction(ctx, start(3, "stranger", 300))
	if err != nil {
		t.Fatal(err)
	}
	if a3.Status != AuthInvalid || tx3.Authorization != AuthInvalid || tx3.ID != tx2.ID+1 {
		t.Fatalf("stranger: %+v %+v", tx3, a3)
	}
	active, err := e.svc.Transactions(ctx, TransactionFilter{ActiveOnly: true})
	if err != nil || len(active) != 3 || active[0].ID != tx3.ID {
		t.Fatalf("active: %v %+v", err, active)
	}

	for _, bad := range []StartRequest{
		{ConnectorID: 1, IDTag: "tag", Timestamp: t0},
		{ChargerID: "CP1", ConnectorID: 0, IDTag: "tag", Timestamp: t0},
		{ChargerID: "CP1", ConnectorID: 1, Timestamp: t0},
		{ChargerID: "CP1", ConnectorID: 1, IDTag: "tag", MeterStartWh: -1, Timestamp: t0},
		{ChargerID: "CP1", ConnectorID: 1, IDTag: "tag"},
	} {
		if _, _, err := e.svc.StartTransaction(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: err %v, want ErrInvalid", bad, err)
		}
	}
	all, _ := e.svc.Transactions(ctx, TransactionFilter{})
	if len(all) != 3 {
		t.Fatalf("invalid starts stored: %d transactions", len(all))
	}

	// Ids stay monotonic across a restart.
	e.reopen(t)
	tx4, _, err := e.svc.StartTransaction(ctx, start(4, "tag2", 400))
	if err != nil || tx4.ID != tx3.ID+1 {
		t.Fatalf("after restart: %v %+v", err, tx4)
	}
	dup, _, _ = e.svc.StartTransaction(ctx, start(1, "tag", 100))
	if dup.ID != tx1.ID {
		t.Fatalf("duplicate after restart got id %d, want %d", dup.ID, tx1.ID)
	}
}

func reading(ts time.Time, v string) MeterReading {
	return MeterReading{Timestamp: ts, Value: v, Measurand: "Energy.Active.Import.Register", Unit: "Wh"}
}

func TestStopTransaction(t *testing.T) {
	e := newEnv(t, Config{})
	tx, _, err := e.svc.StartTransaction(ctx, start(1, "tag", 100))
	if err != nil {
		t.Fatal(err)
	}
	stop := StopRequest{ChargerID: "CP1", TransactionID: tx.ID, IDTag: "tag", MeterStopWh: 900, Timestamp: t0.Add(time.Hour),
		Reason: "Local", Readings: []MeterReading{reading(t0.Add(time.Hour), "900"), reading(t0, "100")}}
	got, auth, err := e.svc.StopTransaction(ctx, stop)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != tx.ID || got.Active() || *got.MeterStopWh != 900 || got.StopReason != "Local" || auth == nil || auth.Status != AuthInvalid {
		t.Fatalf("stop: %+v %+v", got, auth)
	}
	again, _, err := e.svc.StopTransaction(ctx, stop)
	if err != nil || !reflect.DeepEqual(again, got) {
		t.Fatalf("second stop: %v %+v, want %+v", err, again, got)
	}
	_, readings, err := e.svc.Transaction(ctx, tx.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(readings) != 2 || readings[0].Value != "100" || readings[1].Value != "900" {
		t.Fatalf("transactionData stored %d times or out of order: %+v", len(readings), readings)
	}
	if active, _ := e.svc.Transactions(ctx, TransactionFilter{ActiveOnly: true}); len(active) != 0 {
		t.Fatalf("still active: %+v", active)
	}

	// Unknown id, and an id that belongs to another charger: orphans.
	for _, r := range []StopRequest{
		{ChargerID: "CP1", TransactionID: 4711, MeterStopWh: 5, Timestamp: t0},
		{ChargerID: "CP2", TransactionID: tx.ID, MeterStopWh: 5, Timestamp: t0},
	} {
		o, auth, err := e.svc.StopTransaction(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if !o.Orphan || o.ID <= tx.ID || o.ChargerID != r.ChargerID || auth != nil || o.Active() {
			t.Fatalf("orphan: %+v", o)
		}
		o2, _, err := e.svc.StopTransaction(ctx, r)
		if err != nil || !reflect.DeepEqual(o2, o) {
			t.Fatalf("repeated orphan stop: %v %+v, want %+v", err, o2, o)
		}
	}
	all, _ := e.svc.Transactions(ctx, TransactionFilter{})
	if len(all) != 3 {
		t.Fatalf("transactions: %+v", all)
	}
	page, _ := e.svc.Transactions(ctx, TransactionFilter{Limit: 1, After: all[0].ID})
	if len(page) != 1 || page[0].ID != all[1].ID {
		t.Fatalf("cursor page %+v", page)
	}
	cp2, _ := e.svc.Transactions(ctx, TransactionFilter{ChargerID: "CP2"})
	if len(cp2) != 1 || cp2[0].ChargerID != "CP2" {
		t.Fatalf("filter by charger %+v", cp2)
	}
	if _, _, err := e.svc.StopTransaction(ctx, StopRequest{ChargerID: "CP1", TransactionID: 1, MeterStopWh: -5, Timestamp: t0}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative meterStop: %v", err)
	}
	if _, _, err := e.svc.Transaction(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing transaction: %v", err)
	}
}

func TestRecordMeterValues(t *testing.T) {
	e := newEnv(t, Config{})
	tx, _, err := e.svc.StartTransaction(ctx, start(1, "tag", 0))
	if err != nil {
		t.Fatal(err)
	}
	old := t0.Add(-48 * time.Hour) // an offline replay keeps its time
	mv := MeterValues{ChargerID: "CP1", ConnectorID: 1, TransactionID: tx.ID,
		Readings: []MeterReading{reading(old, "1234.5"), {Timestamp: old, Value: "7200", Measurand: "Power.Active.Import", Unit: "W", Phase: "L1-N"}}}
	for range 3 {
		if err := e.svc.RecordMeterValues(ctx, mv); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.svc.RecordMeterValues(ctx, MeterValues{ChargerID: "CP1", Readings: []MeterReading{reading(t0, "1")}}); err != nil {
		t.Fatalf("reading without transaction: %v", err)
	}
	_, got, err := e.svc.Transaction(ctx, tx.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Timestamp.Equal(old) || got[0].Value != "1234.5" {
		t.Fatalf("readings: %+v", got)
	}

	bad := []MeterValues{
		{ChargerID: "CP1", Readings: []MeterReading{reading(t0, "-1")}},
		{ChargerID: "CP1", Readings: []MeterReading{reading(t0, "12"), {Timestamp: t0, Value: "-3"}}},
		{ChargerID: "CP1", Readings: []MeterReading{reading(t0, "abc")}},
		{ChargerID: "CP1", Readings: []MeterReading{reading(time.Time{}, "1")}},
		{ChargerID: "CP1", ConnectorID: -1, Readings: []MeterReading{reading(t0, "1")}},
		{ChargerID: "CP1", TransactionID: -1, Readings: []MeterReading{reading(t0, "1")}},
	}
	before := e.db.Stats().Ops
	for _, b := range bad {
		if err := e.svc.RecordMeterValues(ctx, b); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", b, err)
		}
	}
	if e.db.Stats().Ops != before {
		t.Fatal("invalid reports reached the store")
	}
	// A negative power reading is fine (not a register).
	ok := MeterValues{ChargerID: "CP1", Readings: []MeterReading{{Timestamp: t0, Value: "-3", Measurand: "Power.Active.Import"}}}
	if err := e.svc.RecordMeterValues(ctx, ok); err != nil {
		t.Fatal(err)
	}
}

func TestUpdateConnectorStatus(t *testing.T) {
	e := newEnv(t, Config{})
	u := StatusUpdate{ChargerID: "CP1", ConnectorID: 1, Status: StatusCharging, Timestamp: t0}
	if err := e.svc.UpdateConnectorStatus(ctx, u); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	if err := e.svc.UpdateConnectorStatus(ctx, u); err != nil { // re-send
		t.Fatal(err)
	}
	c, err := e.svc.Charger(ctx, "CP1")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Connectors) != 1 || c.Connectors[0].Status != StatusCharging || !c.Connectors[0].UpdatedAt.Equal(t0) {
		t.Fatalf("connectors %+v", c.Connectors)
	}
	u.Status, u.ErrorCode = StatusFaulted, "GroundFailure"
	if err := e.svc.UpdateConnectorStatus(ctx, u); err != nil {
		t.Fatal(err)
	}
	c, _ = e.svc.Charger(ctx, "CP1")
	if c.Connectors[0].Status != StatusFaulted || !c.Connectors[0].UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("changed status %+v", c.Connectors)
	}
	if err := e.svc.UpdateConnectorStatus(ctx, StatusUpdate{ChargerID: "CP1", Status: "Sleepy"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown status: %v", err)
	}
}

func TestChargerRecords(t *testing.T) {
	e := newEnv(t, Config{})
	steps := []error{
		e.svc.RecordFirmwareStatus(ctx, "CP1", "Installed"),
		e.svc.RecordDiagnosticsStatus(ctx, "CP1", "Uploaded"),
		e.svc.RecordConfiguration(ctx, "CP1", map[string]ConfigValue{"A": {Value: "1"}, "B": {Value: "2", Readonly: true}}, true),
		e.svc.RecordConfiguration(ctx, "CP1", map[string]ConfigValue{"A": {Value: "3"}}, false),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	c, err := e.svc.Charger(ctx, "CP1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ConfigValue{"A": {Value: "3"}, "B": {Value: "2", Readonly: true}}
	if c.FirmwareStatus != "Installed" || c.DiagnosticsStatus != "Uploaded" || !reflect.DeepEqual(c.Configuration, want) {
		t.Fatalf("charger %+v", c)
	}
	if err := e.svc.RecordConfiguration(ctx, "CP1", map[string]ConfigValue{"C": {Value: "x"}}, true); err != nil {
		t.Fatal(err)
	}
	c, _ = e.svc.Charger(ctx, "CP1")
	if len(c.Configuration) != 1 {
		t.Fatalf("replace kept old keys: %+v", c.Configuration)
	}
	list, _ := e.svc.Chargers(ctx)
	if len(list) != 1 || list[0].ID != "CP1" {
		t.Fatalf("chargers %+v", list)
	}
	if err := e.svc.RecordFirmwareStatus(ctx, "CP1", ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty status: %v", err)
	}
}

func TestReservations(t *testing.T) {
	e := newEnv(t, Config{})
	r := Reservation{ID: 7, ChargerID: "CP1", ConnectorID: 1, IDTag: "tag", Expiry: t0.Add(time.Hour)}
	if err := e.svc.RecordReservation(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.CancelReservation(ctx, "CP2", 7); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other charger's reservation: %v", err)
	}
	if err := e.svc.CancelReservation(ctx, "CP1", 8); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown reservation: %v", err)
	}
	for range 2 {
		if err := e.svc.CancelReservation(ctx, "CP1", 7); err != nil {
			t.Fatal(err)
		}
	}
	r.ID = 8
	if err := e.svc.RecordReservation(ctx, r); err != nil {
		t.Fatal(err)
	}
	id := 8
	req := start(1, "tag", 0)
	req.ReservationID = &id
	if _, _, err := e.svc.StartTransaction(ctx, req); err != nil {
		t.Fatal(err)
	}
	list, _ := e.svc.Reservations(ctx)
	if len(list) != 2 || list[0].Status != "Cancelled" || list[1].Status != "Used" {
		t.Fatalf("reservations %+v", list)
	}
	if err := e.svc.RecordReservation(ctx, Reservation{ID: -1, ChargerID: "CP1", IDTag: "t", Expiry: t0}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative id: %v", err)
	}
}

// The OnChange seam runs inside the mutation's transaction: an error there
// aborts the mutation, and duplicates produce no change.
func TestOnChangeSeam(t *testing.T) {
	var kinds []ChangeKind
	fail := false
	e := newEnv(t, Config{OnChange: func(tx *bbolt.Tx, c Change) error {
		if fail {
			return errors.New("outbox full")
		}
		if tx.Bucket(bkTransactions) == nil {
			return errors.New("not inside the store transaction")
		}
		kinds = append(kinds, c.Kind)
		return nil
	}})
	if _, _, err := e.svc.StartTransaction(ctx, start(1, "tag", 0)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.StartTransaction(ctx, start(1, "tag", 0)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(kinds, []ChangeKind{ChangeTransactionStart}) {
		t.Fatalf("changes %v", kinds)
	}
	fail = true
	if _, _, err := e.svc.StartTransaction(ctx, start(2, "tag", 5)); err == nil {
		t.Fatal("outbox failure ignored")
	}
	if all, _ := e.svc.Transactions(ctx, TransactionFilter{}); len(all) != 1 {
		t.Fatalf("aborted change stored: %+v", all)
	}
}

// TestLocalListVersion: every committed change of the cache counts one
// version, announced on the channel LocalList returned; a delete of an
// unknown token changes nothing; the version survives a restart.
func TestLocalListVersion(t *testing.T) {
	e := newEnv(t, Config{})
	l, changed := e.svc.LocalList()
	if l.Version != 0 || len(l.Tokens) != 0 {
		t.Fatalf("empty cache: %+v", l)
	}
	mustToken := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustToken(e.svc.PutToken(ctx, IDToken{ID: "B", Status: AuthAccepted}))
	select {
	case <-changed:
	default:
		t.Fatal("the change was not announced")
	}
	mustToken(e.svc.PutToken(ctx, IDToken{ID: "A", Status: AuthBlocked}))
	l, changed = e.svc.LocalList()
	if l.Version != 2 || len(l.Tokens) != 2 || l.Tokens[0].ID != "A" || l.Tokens[0].Status != AuthBlocked {
		t.Fatalf("after two puts: %+v", l)
	}
	mustToken(e.svc.DeleteToken(ctx, "unknown"))
	select {
	case <-changed:
		t.Fatal("deleting an unknown token announced a change")
	default:
	}
	mustToken(e.svc.DeleteToken(ctx, "B"))
	if l, _ = e.svc.LocalList(); l.Version != 3 || len(l.Tokens) != 1 {
		t.Fatalf("after the delete: %+v", l)
	}
	if err := e.svc.PutToken(ctx, IDToken{ID: "C", Status: "Maybe"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad token: %v", err)
	}
	e.reopen(t)
	if l, _ = e.svc.LocalList(); l.Version != 3 || len(l.Tokens) != 1 || l.Tokens[0].ID != "A" {
		t.Fatalf("after a restart: %+v", l)
	}
}

// TestTaps: taps are numbered in the order recorded, listed newest first,
// passed to OnChange in their transaction, and a bad one is refused.
func TestTaps(t *testing.T) {
	var changes []Change
	e := newEnv(t, Config{OnChange: func(_ *bbolt.Tx, c Change) error { changes = append(changes, c); return nil }})
	for i, tap := range []Tap{
		{Token: "CARD-1", Result: TapStarted, ChargerID: "CP1", ConnectorID: 2},
		{Token: "CARD-2", Result: TapRefused, Reason: "blocked"},
		{Token: "CARD-1", Result: TapStopped, ChargerID: "CP1", ConnectorID: 2, TransactionID: 7},
	} {
		got, err := e.svc.RecordTap(ctx, tap)
		if err != nil || got.ID != int64(i+1) || !got.At.Equal(t0) {
			t.Fatalf("RecordTap %d: %+v, %v", i, got, err)
		}
	}
	taps, err := e.svc.Taps(ctx, 2)
	if err != nil || len(taps) != 2 || taps[0].ID != 3 || taps[0].TransactionID != 7 || taps[1].Reason != "blocked" {
		t.Fatalf("Taps(2): %+v, %v", taps, err)
	}
	if len(changes) != 3 || changes[2].Kind != ChangeTap || changes[2].ChargerID != "CP1" || changes[2].Record.(Tap).ID != 3 {
		t.Fatalf("changes %+v", changes)
	}
	if _, err := e.svc.RecordTap(ctx, Tap{Result: TapRefused}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a tap without a token: %v", err)
	}
	e.reopen(t)
	if taps, _ := e.svc.Taps(ctx, 0); len(taps) != 3 {
		t.Fatalf("after a restart: %d taps", len(taps))
	}
}
