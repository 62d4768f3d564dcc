package cloudsync

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/constellation-ev/constellation/syncproto"
)

// publisher publishes one message and returns once the broker
// acknowledged it. *autopaho.ConnectionManager implements it.
type publisher interface {
	Publish(ctx context.Context, p *paho.Publish) (*paho.PublishResponse, error)
}

// Drain tuning.
const (
	// scanLimit is how many records one planning pass reads.
	scanLimit = 1024
	// deleteBatch is how many acknowledged records are removed in one
	// commit: one fsync per batch instead of per record. flushAfter
	// bounds how long an acknowledged record waits for its removal, so
	// that an appliance crashing over and over on a slow link still
	// makes progress (a record not yet removed is sent again).
	deleteBatch = 256
	flushAfter  = time.Second
	// recheck bounds the wait for held-back readings to fall due.
	recheck = time.Second
)

// drain sends the outbox in order over one link session. Each charger's
// records (and the site's own, lane "") go out one at a time, in outbox
// order; records of different chargers may be in flight together, up to
// window. A failed publish ends the drain: its records stay queued and
// the next drain starts again from the oldest unacknowledged one.
type drain struct {
	c     *Client
	pub   publisher
	start time.Time // the link session's start: records queued before are backlog

	pending  map[uint64]bool // in flight, or settled and not yet removed
	busy     map[string]bool // lanes with a publish in flight
	inflight int
	acked    []uint64  // acknowledged by the broker
	ackedAt  time.Time // when the oldest of acked was acknowledged
	refused  []uint64  // refused by the broker for good
	done     chan result
}

// publication is one message to publish: a record, or adjacent readings
// records of one connector's session merged.
type publication struct {
	lane  string
	seqs  []uint64
	msg   syncproto.Message
	group readingsGroup       // readings only
	rows  []syncproto.Reading // readings only: the merged rows
	cols  map[syncproto.Column]bool
}

type readingsGroup struct {
	charger   string
	connector int
	tx        int64
}

type result struct {
	p    *publication
	resp *paho.PublishResponse
	err  error
}

// refusedForGood reports whether the broker refused a record for what it
// is (too large for it, a payload it will not take): sending it again
// would block the outbox forever. Other refusals (not authorized, quota)
// concern every record and are retried.
func refusedForGood(resp *paho.PublishResponse) bool {
	return resp != nil && (resp.ReasonCode == 0x95 || resp.ReasonCode == 0x99)
}

func (d *drain) run(ctx context.Context) (err error) {
	d.pending, d.busy = map[uint64]bool{}, map[string]bool{}
	d.done = make(chan result, window)
	defer func() {
		for d.inflight > 0 {
			if serr := d.settle(<-d.done); err == nil {
				err = serr
			}
		}
		if ferr := d.flush(ctx); err == nil {
			err = ferr
		}
	}()
	for {
		pubs, due, err := d.plan()
		if err != nil {
			return err
		}
		if len(pubs) == 0 {
			if err := d.flush(ctx); err != nil {
				return err
			}
			if err := d.idle(ctx, due); err != nil {
				return err
			}
			continue
		}
		if err := d.send(ctx, pubs); err != nil {
			return err
		}
	}
}

// send dispatches pubs, each charger's in order: a publication goes as
// soon as its lane is free and the window has room, ahead of other
// lanes' publications still waiting. Waiting for each in turn let one
// charger's run of records (a session's start: status, transaction,
// status) hold every other charger back: a catch-up kept about 2 of the
// window's publishes in flight, and the watchtower waited for the
// appliance at every round trip; sending around a busy lane keeps about
// 12 (BenchmarkCatchUp in cloud/watchtower).
func (d *drain) send(ctx context.Context, pubs []*publication) error {
	waiting := map[string]bool{} // lanes with an earlier publication not yet sent
	for len(pubs) > 0 {
		clear(waiting)
		rest := pubs[:0]
		for i, p := range pubs {
			if d.inflight >= window {
				rest = append(rest, pubs[i:]...)
				break
			}
			if d.busy[p.lane] || waiting[p.lane] {
				waiting[p.lane] = true
				rest = append(rest, p)
				continue
			}
			d.dispatch(ctx, p)
		}
		pubs = rest
		if len(d.acked) >= deleteBatch || len(d.acked) > 0 && time.Since(d.ackedAt) >= flushAfter {
			if err := d.flush(ctx); err != nil {
				return err
			}
		}
		if len(pubs) > 0 {
			if err := d.await(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// idle waits for a new record, an acknowledgement, held readings falling
// due (due > 0) or the end of ctx.
func (d *drain) idle(ctx context.Context, due time.Duration) error {
	var tick <-chan time.Time
	if due > 0 {
		t := time.NewTimer(min(due, recheck))
		defer t.Stop()
		tick = t.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-d.c.outbox.notify:
	case r := <-d.done:
		return d.settle(r)
	case <-tick:
	}
	return nil
}

// await waits for one publish to finish.
func (d *drain) await(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case r := <-d.done:
		return d.settle(r)
	}
}

func (d *drain) settle(r result) error {
	d.inflight--
	delete(d.busy, r.p.lane)
	if r.err != nil && refusedForGood(r.resp) {
		d.c.log.Error("the broker refused a record for good: dropped", "kind", r.p.msg.Kind(), "key", r.p.msg.Head().Key,
			"records", len(r.p.seqs), "reason", r.resp.ReasonCode, "err", r.err)
		d.refused = append(d.refused, r.p.seqs...)
		return nil
	}
	if r.err != nil {
		for _, s := range r.p.seqs {
			delete(d.pending, s)
		}
		return fmt.Errorf("publish %s %s: %w", r.p.msg.Kind(), r.p.msg.Head().Key, r.err)
	}
	if len(d.acked) == 0 {
		d.ackedAt = time.Now()
	}
	d.acked = append(d.acked, r.p.seqs...)
	d.c.synced()
	return nil
}

// flush removes the settled records from the outbox.
func (d *drain) flush(ctx context.Context) error {
	// Removal must happen even when the session is ending: otherwise the
	// records are sent again (harmless, but wasted bytes).
	ctx = context.WithoutCancel(ctx)
	for _, s := range []struct {
		seqs    *[]uint64
		invalid bool
	}{{&d.acked, false}, {&d.refused, true}} {
		if err := d.c.outbox.remove(ctx, *s.seqs, s.invalid); err != nil {
			return fmt.Errorf("remove settled records: %w", err)
		}
		for _, seq := range *s.seqs {
			delete(d.pending, seq)
		}
		*s.seqs = (*s.seqs)[:0]
	}
	return nil
}

// dispatch encodes p and publishes it in the background.
func (d *drain) dispatch(ctx context.Context, p *publication) {
	topic, payload, err := p.encode(d.c.site, d.c.outbox)
	if err != nil {
		// Records are validated when queued; one that fails now is
		// corrupt, and must not block the outbox.
		d.c.log.Error("dropping records that cannot be encoded", "records", len(p.seqs), "key", p.msg.Head().Key, "err", err)
		if rerr := d.c.outbox.remove(context.WithoutCancel(ctx), p.seqs, true); rerr != nil {
			d.c.log.Error("dropping records", "err", rerr)
		}
		return
	}
	for _, s := range p.seqs {
		d.pending[s] = true
	}
	d.busy[p.lane] = true
	d.inflight++
	go func() {
		resp, err := d.pub.Publish(ctx, &paho.Publish{Topic: topic, Payload: payload, QoS: 1})
		d.done <- result{p, resp, err}
	}()
}

// plan reads the outbox and returns the next publications in order, and
// how long until held-back readings fall due (0: none held).
func (d *drain) plan() ([]*publication, time.Duration, error) {
	var after uint64
	for {
		recs, bad, more, err := d.c.outbox.scan(after, scanLimit, d.pending)
		if err != nil {
			return nil, 0, fmt.Errorf("read outbox: %w", err)
		}
		if len(bad) > 0 {
			d.c.log.Error("dropping outbox records that cannot be read", "records", len(bad))
			if err := d.c.outbox.remove(context.Background(), bad, true); err != nil {
				return nil, 0, err
			}
		}
		pubs, due := d.group(recs, d.c.clock.Now())
		if len(pubs) > 0 || !more || len(recs) == 0 {
			return pubs, due, nil
		}
		after = recs[len(recs)-1].seq // every record read is held back
	}
}

// group turns records into publications. Readings of a connector's live
// session are held back until the oldest of them is ReadingsBatch old,
// then go out merged; the session's stop, or their being backlog (queued
// before the link came up), sends them at once. Adjacent readings records
// of one charger's same connector and session are merged.
func (d *drain) group(recs []record, now time.Time) ([]*publication, time.Duration) {
	held := map[readingsGroup]bool{}
	var due time.Duration
	if d.c.batch > 0 {
		stopped := map[int64]bool{}
		oldest := map[readingsGroup]time.Time{}
		for _, r := range recs {
			switch m := r.msg.(type) {
			case *syncproto.Transaction:
				if m.Event == syncproto.TxStopped {
					stopped[m.ID] = true
				}
			case *syncproto.Readings:
				g := groupOf(m)
				if t, ok := oldest[g]; !ok || m.Time.Before(t) {
					oldest[g] = m.Time
				}
			}
		}
		for g, t := range oldest {
			wait := d.c.batch - now.Sub(t)
			if t.Before(d.start) || wait <= 0 || (g.tx != 0 && stopped[g.tx]) {
				continue
			}
			held[g] = true
			if due == 0 || wait < due {
				due = wait
			}
		}
	}
	var pubs []*publication
	// The readings publications still open for merging: another record of
	// their charger closes them, so nothing else of it is overtaken.
	open := map[readingsGroup]*publication{}
	for _, r := range recs {
		lane := laneOf(r.msg)
		m, ok := r.msg.(*syncproto.Readings)
		if !ok {
			for g := range open {
				if g.charger == lane {
					delete(open, g)
				}
			}
			pubs = append(pubs, &publication{lane: lane, seqs: []uint64{r.seq}, msg: r.msg})
			continue
		}
		g := groupOf(m)
		if held[g] {
			continue
		}
		rows := m.Rows()
		if p := open[g]; p != nil && p.fits(rows) {
			p.add(r.seq, rows)
			continue
		}
		p := &publication{lane: lane, msg: m, group: g, cols: map[syncproto.Column]bool{}}
		p.add(r.seq, rows)
		open[g] = p
		pubs = append(pubs, p)
	}
	return pubs, due
}

func groupOf(m *syncproto.Readings) readingsGroup {
	return readingsGroup{charger: m.Charger, connector: m.Connector, tx: m.TransactionID}
}

// fits reports whether rows can join the merged readings within the
// limits of one record.
func (p *publication) fits(rows []syncproto.Reading) bool {
	if len(p.rows)+len(rows) > maxBatchRows {
		return false
	}
	n := len(p.cols)
	for _, r := range rows {
		if !p.cols[r.Column] {
			n++
		}
	}
	return n <= syncproto.MaxColumns
}

func (p *publication) add(seq uint64, rows []syncproto.Reading) {
	p.seqs = append(p.seqs, seq)
	p.rows = append(p.rows, rows...)
	for _, r := range rows {
		p.cols[r.Column] = true
	}
}

// encode returns the publication's topic and payload. Merged readings get
// the key of their first and last record ("{store}-{first}-{last}"): a
// resend with other merge boundaries is another record, which the cloud
// dedups by the readings' natural key.
func (p *publication) encode(site string, o *outbox) (string, []byte, error) {
	m := p.msg
	if len(p.seqs) > 1 {
		r := *p.msg.(*syncproto.Readings)
		r.Columns, r.Samples = nil, nil
		r.AddReadings(p.rows...)
		r.Key = o.key(p.seqs[0]) + "-" + strconv.FormatUint(p.seqs[len(p.seqs)-1], 10)
		m = &r
	}
	m.Head().Site = site
	return syncproto.Encode(site, m)
}

// laneOf is the ordering lane of a record: its charger, or "" for the
// site's own records.
func laneOf(m syncproto.Message) string {
	switch m := m.(type) {
	case *syncproto.ChargerStatus:
		return m.Charger
	case *syncproto.Transaction:
		return m.Charger
	case *syncproto.Readings:
		return m.Charger
	case *syncproto.Event:
		return m.Charger
	case *syncproto.ChargerConfig:
		return m.Charger
	}
	return ""
}
