package fleet_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/fleet"
	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/syncproto"
)

// Each reading is stored once per natural key, its first value staying,
// whatever the records' order and overlaps: a late record before what
// is stored, one overlapping it, a time repeated within a record,
// another connector's or column's readings at the same times. The site
// counts what is stored.
func TestReadingsOncePerKey(t *testing.T) {
	energy := syncproto.Column{Measurand: "Energy.Active.Import.Register", Unit: "Wh"}
	power := syncproto.Column{Measurand: "Power.Active.Import", Unit: "W"}
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 15 * time.Second) }
	type value struct {
		i   int
		col syncproto.Column
		v   string
	}
	record := func(key string, connector int, vs ...value) *syncproto.Readings {
		m := &syncproto.Readings{Header: hdr("a", key), Charger: "CP1", Connector: connector, TransactionID: 7}
		for _, v := range vs {
			m.AddReadings(syncproto.Reading{Time: at(v.i), Column: v.col, Value: v.v})
		}
		return m
	}
	records := []syncproto.Message{
		record("r1", 1, value{10, energy, "e10"}, value{11, energy, "e11"}, value{10, power, "p10"}),
		record("late", 1, value{1, energy, "e1"}, value{2, energy, "e2"}),
		record("overlap", 1, value{2, energy, "x2"}, value{3, energy, "e3"}, value{11, energy, "x11"}, value{11, power, "p11"}),
		record("repeat", 1, value{20, energy, "e20"}, value{20, energy, "x20"}, value{21, energy, "e21"}),
		record("other-connector", 2, value{10, energy, "c2e10"}),
	}
	want := []string{"e1", "e2", "e3", "e10", "c2e10", "p10", "e11", "p11", "e20", "e21"}
	for name, engine := range cloudtest.Engines(t) {
		for _, batched := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/batched=%v", name, batched), func(t *testing.T) {
				s := engine(t).Open(t, nil, nil)
				_, err := s.CreateSite(ctx, "a", "")
				must(t, err)
				if batched {
					for _, r := range s.ApplyBatch(ctx, records) {
						must(t, r.Err)
					}
				} else {
					for _, m := range records {
						apply(t, s, m)
					}
				}
				rs, err := s.Readings(ctx, "a", 7)
				must(t, err)
				var got []string
				for _, r := range rs {
					got = append(got, r.Value)
				}
				if !slices.Equal(got, want) {
					t.Errorf("readings %v, want %v", got, want)
				}
				st, err := s.Site(ctx, "a")
				must(t, err)
				if st.Readings != int64(len(want)) {
					t.Errorf("site counts %d readings, want %d", st.Readings, len(want))
				}
			})
		}
	}
}

// Replicas storing one session's readings at once, merged differently
// (each record its own key), store each reading once: the second to
// commit sees what the first stored.
func TestReadingsOnceAcrossReplicas(t *testing.T) {
	engines := cloudtest.Engines(t)
	newEngine, ok := engines[fleet.Postgres]
	if !ok {
		t.Skipf("%s is not set: concurrent replicas are a PostgreSQL matter", cloudtest.EnvPostgres)
	}
	e := newEngine(t)
	stores := []*fleet.Store{e.Open(t, nil, nil), e.Open(t, nil, nil)}
	_, err := stores[0].CreateSite(ctx, "a", "")
	must(t, err)
	col := syncproto.Column{Measurand: "Energy.Active.Import.Register", Unit: "Wh"}
	const samples, rounds = 40, 20
	for round := range rounds {
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() {
				// Replica i gets the round's readings in records of a
				// different size.
				per := 5 + 15*i
				var batch []syncproto.Message
				for from := 0; from < samples; from += per {
					m := &syncproto.Readings{Header: hdr("a", fmt.Sprintf("r%d-%d-%d", round, i, from)), Charger: "CP1", Connector: 1, TransactionID: 7}
					for j := from; j < min(from+per, samples); j++ {
						n := round*samples + j
						m.AddReadings(syncproto.Reading{Time: t0.Add(time.Duration(n) * time.Second), Column: col, Value: fmt.Sprint(n)})
					}
					batch = append(batch, m)
				}
				for _, r := range s.ApplyBatch(ctx, batch) {
					if r.Err != nil {
						t.Error(r.Err)
					}
				}
			})
		}
		wg.Wait()
	}
	rs, err := stores[1].Readings(ctx, "a", 7)
	must(t, err)
	if len(rs) != samples*rounds {
		t.Fatalf("%d readings, want %d", len(rs), samples*rounds)
	}
	for n, r := range rs {
		if r.Value != fmt.Sprint(n) {
			t.Fatalf("reading %d: %+v", n, r)
		}
	}
	st, err := stores[0].Site(ctx, "a")
	must(t, err)
	if st.Readings != samples*rounds {
		t.Errorf("site counts %d readings, want %d", st.Readings, samples*rounds)
	}
}

// A record that skipped Validate (a column named twice, samples going
// back in time) still stores each reading once, its first value.
func TestReadingsOfAnUnvalidatedRecord(t *testing.T) {
	forEngines(t, func(t *testing.T, s *fleet.Store, _ *cloudtest.Clock) {
		_, err := s.CreateSite(ctx, "a", "")
		must(t, err)
		col := syncproto.Column{Measurand: "Energy.Active.Import.Register", Unit: "Wh"}
		m := &syncproto.Readings{Header: hdr("a", "k1"), Charger: "CP1", Connector: 1, TransactionID: 7, Start: t0,
			Columns: []syncproto.Column{col, col},
			Samples: []syncproto.Sample{
				{Offset: 30 * time.Second, Values: []string{"a30", "b30"}},
				{Offset: 0, Values: []string{"", "b0"}},
				{Offset: 0, Values: []string{"a0", ""}},
				{Offset: 15 * time.Second, Values: []string{"a15", ""}},
			}}
		if _, err := s.Apply(ctx, m); err != nil {
			t.Fatal(err)
		}
		rs, err := s.Readings(ctx, "a", 7)
		must(t, err)
		var got []string
		for _, r := range rs {
			got = append(got, r.Value)
		}
		// The first of each time in sample order, columns in order
		// within a sample (what inserting the rows one by one kept).
		if want := []string{"b0", "a15", "a30"}; !slices.Equal(got, want) {
			t.Errorf("readings %v, want %v", got, want)
		}
	})
}
