package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/constellation-ev/constellation/syncproto"
)

// Apply stores an upstream keyed record, once per (site, key): it
// reports false when the key was applied before (nothing changes then).
// The record and its key's mark are written in one SQL transaction. The
// caller has decoded and validated m (syncproto.Decode).
func (s *Store) Apply(ctx context.Context, m syncproto.Message) (applied bool, err error) {
	r := s.ApplyBatch(ctx, []syncproto.Message{m})[0]
	return r.Applied, r.Err
}

// ApplyResult is the outcome of one record of ApplyBatch.
type ApplyResult struct {
	// Applied is false when the record's key was applied before.
	Applied bool
	Err     error
}

// ApplyBatch applies records as Apply does, in one SQL transaction and a
// few statements: one per table rather than several per record, and one
// commit for them all (one WAL append on SQLite, one fsync on
// PostgreSQL), which is what ingest's throughput hangs on. On
// PostgreSQL the statements also go in two pipelines (txQueue; three
// when readings overlap what is stored), so a batch costs two round
// trips, not one per statement. Each record
// keeps its own outcome, in the order of ms, and the effect is the one
// of applying them one after the other: a key that appears twice is
// applied once (its first time), a transaction keeps its highest
// revision, a charger and a connector their latest status by time. When the
// batch fails, it is rolled back and every record is applied again in a
// transaction of its own, so only a failing record fails.
func (s *Store) ApplyBatch(ctx context.Context, ms []syncproto.Message) []ApplyResult {
	out := make([]ApplyResult, len(ms))
	todo := make([]int, 0, len(ms))
	for i, m := range ms {
		if m.Head().Key == "" {
			out[i].Err = fmt.Errorf("fleet: apply %s: %w: no idempotency key", m.Kind(), syncproto.ErrInvalid)
			continue
		}
		todo = append(todo, i)
	}
	if len(todo) > 1 {
		batch := make([]syncproto.Message, len(todo))
		for j, i := range todo {
			batch[j] = ms[i]
		}
		var applied []bool
		err := s.inQueue(ctx, func(q *txQueue) error {
			var err error
			applied, err = s.applySet(ctx, q, batch)
			return err
		})
		if err == nil {
			for j, i := range todo {
				out[i].Applied = applied[j]
			}
			return out
		}
		s.log.Warn("a batch of records failed: applying them one by one", "records", len(todo), "err", err)
	}
	for _, i := range todo {
		m := ms[i]
		err := s.inQueue(ctx, func(q *txQueue) error {
			applied, err := s.applySet(ctx, q, []syncproto.Message{m})
			if err == nil {
				out[i].Applied = applied[0]
			}
			return err
		})
		if err != nil {
			h := m.Head()
			out[i] = ApplyResult{Err: fmt.Errorf("fleet: apply %s %s/%s: %w", m.Kind(), h.Site, h.Key, err)}
		}
	}
	return out
}

// siteKey identifies a record: its idempotency key is unique per site.
type siteKey struct{ site, key string }

// applySet queues in q what applying keyed records one after the other
// writes, and reports which took effect (their key was new); q's commit
// writes it. Records of the frequent kinds go into one multi-row
// statement per table; what several of them write to one row is reduced
// first to what the latest (status) or the highest revision
// (transaction) would leave, which is also what a multi-row upsert
// needs: PostgreSQL refuses one that touches a row twice.
//
// It flushes q once, for the keys that are new and the state of the
// reading groups, and once more only when readings may overlap what is
// stored (applySeries); the rest goes with the commit.
func (s *Store) applySet(ctx context.Context, q *txQueue, ms []syncproto.Message) ([]bool, error) {
	applied := make([]bool, len(ms))
	// A key seen earlier in the batch is not applied again.
	first := make(map[siteKey]int, len(ms))
	var keyArgs []any
	// The series of each Readings record, in order: their groups are
	// locked with the keys' round trip, before it is known which records
	// are new. A group locked for a record that turns out to be a resend
	// costs that lock, and changes nothing.
	seriesOfRecord := make([][]series, len(ms))
	var allSeries [][]series
	now := s.now()
	for i, m := range ms {
		h := m.Head()
		k := siteKey{h.Site, h.Key}
		if _, dup := first[k]; dup {
			continue
		}
		first[k] = i
		keyArgs = append(keyArgs, h.Site, h.Key, string(m.Kind()), now)
		if r, ok := m.(*syncproto.Readings); ok {
			seriesOfRecord[i] = seriesOf(h.Site, r)
			allSeries = append(allSeries, seriesOfRecord[i])
		}
	}
	q.insertRows("keys", `INSERT INTO applied_keys (site, key, kind, applied_at)`, 4,
		` ON CONFLICT (site, key) DO NOTHING RETURNING site, key`, keyArgs, func(row scanner) error {
			var k siteKey
			if err := row.Scan(&k.site, &k.key); err != nil {
				return err
			}
			if i, ok := first[k]; ok {
				applied[i] = true
			}
			return nil
		})
	groups := s.lockGroups(q, allSeries)
	if err := q.flush(ctx); err != nil {
		return nil, err
	}
	set := recordSet{groups: groups}
	for i, m := range ms {
		if !applied[i] {
			continue
		}
		if err := set.add(m, seriesOfRecord[i]); err != nil {
			return nil, err
		}
	}
	for _, m := range set.rare {
		if err := s.applyRare(q, m); err != nil {
			return nil, fmt.Errorf("%s %s: %w", m.Kind(), m.Head().Key, err)
		}
	}
	return applied, s.applyFrequent(ctx, q, &set)
}

// recordSet is the applied records of a batch, gathered by table.
type recordSet struct {
	events []any // rows of eventColumns
	// series of each Readings record, in order, and the state of their
	// groups (lockGroups)
	series [][]series
	groups *lockedGroups
	// Transactions by (site, id): the highest revision, the first of
	// equal ones (a later one of the same revision does not replace it).
	txs     map[txKey]*syncproto.Transaction
	txOrder []txKey
	// Chargers and connectors: the status applied last.
	chargers       map[siteKey]*syncproto.ChargerStatus
	chargerOrder   []siteKey
	connectors     map[connectorKey]connectorRow
	connectorOrder []connectorKey
	// For the fleet views (views.go): every connector status (rows of
	// historyColumns), and the latest power and energy per connector.
	history []any
	live    liveSet
	// rare kinds, applied one statement each, in order.
	rare []syncproto.Message
}

type txKey struct {
	site string
	id   int64
}

type connectorKey struct {
	site, charger string
	id            int
}

type connectorRow struct {
	site, charger string
	c             syncproto.Connector
}

// Columns of the multi-row statements.
const (
	eventColumns     = 8
	txColumns        = 12
	chargerColumns   = 11
	connectorColumns = 7
)

// add gathers an applied record; sr is a Readings record's series.
func (rs *recordSet) add(m syncproto.Message, sr []series) error {
	site := m.Head().Site
	switch m := m.(type) {
	case *syncproto.Event:
		rs.events = append(rs.events, site, m.Key, m.Event, m.Charger, ms(m.At), m.Code, mustJSON(m.Detail), m.Unsynced)
	case *syncproto.Readings:
		rs.series = append(rs.series, sr)
		rs.live.add(site, m, sr)
	case *syncproto.Transaction:
		k := txKey{site, m.ID}
		if rs.txs == nil {
			rs.txs = map[txKey]*syncproto.Transaction{}
		}
		if old, ok := rs.txs[k]; !ok {
			rs.txOrder = append(rs.txOrder, k)
		} else if m.Rev <= old.Rev {
			return nil
		}
		rs.txs[k] = m
	case *syncproto.ChargerStatus:
		k := siteKey{site, m.Charger}
		if rs.chargers == nil {
			rs.chargers, rs.connectors = map[siteKey]*syncproto.ChargerStatus{}, map[connectorKey]connectorRow{}
		}
		if prev, ok := rs.chargers[k]; !ok {
			rs.chargerOrder = append(rs.chargerOrder, k)
			rs.chargers[k] = m
		} else if !m.Time.Before(prev.Time) {
			rs.chargers[k] = m
		}
		for _, c := range m.Connectors {
			rs.history = historyRow(rs.history, site, m, c)
			ck := connectorKey{site, m.Charger, c.ID}
			if prev, ok := rs.connectors[ck]; !ok {
				rs.connectorOrder = append(rs.connectorOrder, ck)
				rs.connectors[ck] = connectorRow{site, m.Charger, c}
			} else if !c.Time.Before(prev.c.Time) {
				rs.connectors[ck] = connectorRow{site, m.Charger, c}
			}
		}
	case *syncproto.Reported, *syncproto.ChargerConfig, *syncproto.CommandResult:
		rs.rare = append(rs.rare, m)
	default:
		return fmt.Errorf("%w: %s is not an upstream record", syncproto.ErrInvalid, m.Kind())
	}
	return nil
}

// applyFrequent queues the set's events, readings, transactions and
// statuses.
func (s *Store) applyFrequent(ctx context.Context, q *txQueue, rs *recordSet) error {
	q.insertRows("events", `INSERT INTO events (site, key, event, charger, at, code, detail, unsynced)`, eventColumns,
		` ON CONFLICT (site, key) DO NOTHING`, rs.events, nil)
	// A reading already stored under its natural key is left out, so a
	// resend merged differently adds nothing twice.
	if err := s.applySeries(ctx, q, rs.series, rs.groups); err != nil {
		return fmt.Errorf("readings: %w", err)
	}
	args := make([]any, 0, len(rs.txOrder)*txColumns)
	for _, k := range rs.txOrder {
		m := rs.txs[k]
		args = append(args, m.Site, m.ID, m.Rev, m.Event, m.Charger, m.Connector, m.IDTag, ms(m.Start), ms(m.Stop),
			m.MeterStartWh, m.MeterStopWh, mustJSON(m))
	}
	// A transaction keeps the record of its highest revision.
	q.insertRows("transactions", `INSERT INTO transactions (site, id, rev, event, charger, connector, id_tag, start_at, stop_at, meter_start_wh, meter_stop_wh, record)`,
		txColumns, ` ON CONFLICT (site, id) DO UPDATE SET rev = excluded.rev, event = excluded.event, charger = excluded.charger,
		connector = excluded.connector, id_tag = excluded.id_tag, start_at = excluded.start_at, stop_at = excluded.stop_at,
		meter_start_wh = excluded.meter_start_wh, meter_stop_wh = excluded.meter_stop_wh, record = excluded.record
		WHERE excluded.rev > transactions.rev`, args, nil)
	// A charger and each connector keep their latest status, by the
	// record's time: records arrive in any order once replicas share the
	// stream (of equal times, the last applied wins).
	args = make([]any, 0, len(rs.chargerOrder)*chargerColumns)
	for _, k := range rs.chargerOrder {
		m := rs.chargers[k]
		args = append(args, m.Site, m.Charger, m.Connected, m.Protocol, m.Vendor, m.Model, m.Serial, m.Firmware, ms(m.LastSeen), ms(m.Time), m.Unsynced)
	}
	q.insertRows("chargers", `INSERT INTO chargers (site, id, connected, protocol, vendor, model, serial, firmware, last_seen, updated_at, unsynced)`,
		chargerColumns, ` ON CONFLICT (site, id) DO UPDATE SET connected = excluded.connected, protocol = excluded.protocol, vendor = excluded.vendor,
		model = excluded.model, serial = excluded.serial, firmware = excluded.firmware, last_seen = excluded.last_seen, updated_at = excluded.updated_at,
		unsynced = excluded.unsynced
		WHERE excluded.updated_at >= chargers.updated_at`, args, nil)
	args = make([]any, 0, len(rs.connectorOrder)*connectorColumns)
	for _, k := range rs.connectorOrder {
		r := rs.connectors[k]
		args = append(args, r.site, r.charger, r.c.ID, r.c.Status, r.c.ErrorCode, r.c.Info, ms(r.c.Time))
	}
	q.insertRows("connectors", `INSERT INTO connectors (site, charger, id, status, error_code, info, at)`, connectorColumns,
		` ON CONFLICT (site, charger, id) DO UPDATE SET status = excluded.status, error_code = excluded.error_code, info = excluded.info, at = excluded.at
		WHERE excluded.at >= connectors.at`, args, nil)
	queueViews(q, rs.history, &rs.live)
	return nil
}

// applyRare queues a record of the kinds that come seldom (a report on
// desired configuration, a charger's configuration, a command's result),
// one statement each.
func (s *Store) applyRare(q *txQueue, m syncproto.Message) error {
	site := m.Head().Site
	switch m := m.(type) {
	case *syncproto.Reported:
		q.exec("reported", `INSERT INTO reported (site, desired_version, applied, error, settings, at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (site) DO UPDATE SET desired_version = excluded.desired_version, applied = excluded.applied,
			error = excluded.error, settings = excluded.settings, at = excluded.at
			WHERE excluded.desired_version >= reported.desired_version`, nil,
			site, m.DesiredVersion, m.Applied, m.Error, mustJSON(m.Settings), ms(m.Time))
		return nil
	case *syncproto.ChargerConfig:
		q.exec("charger configuration", `INSERT INTO charger_config (site, charger, configuration, at) VALUES (?, ?, ?, ?)
			ON CONFLICT (site, charger) DO UPDATE SET configuration = excluded.configuration, at = excluded.at
			WHERE excluded.at >= charger_config.at`, nil,
			site, m.Charger, mustJSON(m.Configuration), ms(m.Time))
		return nil
	case *syncproto.CommandResult:
		s.applyResult(q, m)
		return nil
	}
	return fmt.Errorf("%w: %s is not a rare record", syncproto.ErrInvalid, m.Kind())
}

// mustJSON encodes a value of the store's own types, which always encode.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

// Batcher applies records in batches, each record with its own outcome
// (*Store does).
type Batcher interface {
	ApplyBatch(ctx context.Context, ms []syncproto.Message) []ApplyResult
}

var _ Batcher = (*Store)(nil)

// MaxGroup bounds the records of one group commit: SQLite has one
// connection, and a long write transaction keeps the API's reads waiting.
const MaxGroup = 256

// GroupCommit applies the records of concurrent callers together: a
// caller's record waits while the batch before it commits, then goes
// with every record that arrived meanwhile, in one transaction
// (Batcher.ApplyBatch). Nothing waits for a batch to fill: one record
// alone commits at once, and under load a batch grows by itself. One
// writer goroutine at a time runs the batches, started by the first
// record and ending when none waits, so a GroupCommit needs no closing.
// Each caller returns once the commit that holds its record is done,
// with its record's own outcome.
type GroupCommit struct {
	b       Batcher
	mu      sync.Mutex
	queue   []*pendingRecord
	writing bool
}

type pendingRecord struct {
	ctx  context.Context
	m    syncproto.Message
	done chan ApplyResult // buffered: the writer never waits for a caller
}

// NewGroupCommit returns a GroupCommit applying through b.
func NewGroupCommit(b Batcher) *GroupCommit { return &GroupCommit{b: b} }

// Apply applies m as Store.Apply does, in a batch with the records of
// other callers. When ctx ends first, it returns ctx's error; the record
// may be applied or not then (a resend is applied once either way).
func (g *GroupCommit) Apply(ctx context.Context, m syncproto.Message) (bool, error) {
	return g.Enqueue(ctx, m)()
}

// Enqueue queues m for the next batch and returns at once with the wait
// for its outcome (Apply's). Records enqueued one after the other are
// applied in that order, in one batch or in batches that commit in
// turn, so one caller may have several records in flight and still
// have them applied as if one by one.
func (g *GroupCommit) Enqueue(ctx context.Context, m syncproto.Message) (wait func() (bool, error)) {
	p := &pendingRecord{ctx: ctx, m: m, done: make(chan ApplyResult, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, p)
	start := !g.writing
	g.writing = true
	g.mu.Unlock()
	if start {
		go g.write()
	}
	return func() (bool, error) {
		select {
		case r := <-p.done:
			return r.Applied, r.Err
		case <-ctx.Done():
			return false, fmt.Errorf("fleet: apply %s: %w", m.Kind(), ctx.Err())
		}
	}
}

// Pending is the number of records waiting for a batch (not counting
// those committing).
func (g *GroupCommit) Pending() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

// write commits batches until no record waits.
func (g *GroupCommit) write() {
	for {
		g.mu.Lock()
		n := min(len(g.queue), MaxGroup)
		if n == 0 {
			g.writing = false
			g.queue = nil // the burst's backing array goes too
			g.mu.Unlock()
			return
		}
		batch := g.queue[:n:n]
		g.queue = g.queue[n:]
		g.mu.Unlock()
		// A record whose caller gave up is left out: the caller answered
		// an error, and the appliance sends the record again.
		live := make([]*pendingRecord, 0, n)
		ms := make([]syncproto.Message, 0, n)
		for _, p := range batch {
			if err := p.ctx.Err(); err != nil {
				p.done <- ApplyResult{Err: fmt.Errorf("fleet: apply %s: %w", p.m.Kind(), err)}
				continue
			}
			live = append(live, p)
			ms = append(ms, p.m)
		}
		if len(live) == 0 {
			continue
		}
		// The batch is everyone's: one caller giving up must not roll
		// back the others' records.
		results := g.b.ApplyBatch(context.WithoutCancel(live[0].ctx), ms)
		for i, p := range live {
			p.done <- results[i]
		}
	}
}
