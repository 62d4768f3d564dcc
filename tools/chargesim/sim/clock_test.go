package sim

import (
	"cmp"
	"context"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/v16"
	"github.com/constellation-ev/constellation/appliance/ocpp/v21"
)

func TestManualClock(t *testing.T) {
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	c := NewManualClock(start)
	fired := func(ch <-chan time.Time) (time.Time, bool) {
		select {
		case at := <-ch:
			return at, true
		default:
			return time.Time{}, false
		}
	}
	if at, ok := fired(c.After(0)); !ok || !at.Equal(start) {
		t.Errorf("After(0) fired %t at %v, want at once at %v", ok, at, start)
	}
	late, early := c.After(2*time.Minute), c.After(time.Minute)
	c.Advance(30 * time.Second)
	if _, ok := fired(early); ok {
		t.Error("a timer fired before its deadline")
	}
	if !c.Now().Equal(start.Add(30 * time.Second)) {
		t.Errorf("Now %v after advancing 30s from %v", c.Now(), start)
	}
	c.AdvanceTo(start.Add(90 * time.Second))
	if at, ok := fired(early); !ok || !at.Equal(start.Add(time.Minute)) {
		t.Errorf("the 1 min timer fired %t at %v", ok, at)
	}
	if _, ok := fired(late); ok {
		t.Error("the 2 min timer fired at 90s")
	}
	c.AdvanceTo(start) // never backwards
	if !c.Now().Equal(start.Add(90 * time.Second)) {
		t.Errorf("the clock went back to %v", c.Now())
	}

	// WaitTimer returns once the timer it names is set.
	want := start.Add(90*time.Second + time.Hour)
	done := make(chan error, 1)
	go func() { done <- c.WaitTimer(t.Context(), want) }()
	c.After(time.Minute) // another deadline: not the one waited for
	c.After(time.Hour)
	if err := <-done; err != nil {
		t.Errorf("WaitTimer: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.WaitTimer(ctx, start.Add(24*time.Hour)); err == nil {
		t.Error("WaitTimer returned nil for a timer never set, after its context ended")
	}
}

// TestMeterSeedIdenticalSessions: a 1.6 and a 2.0.1 station with different
// ids but the same MeterSeed, on manual clocks stepped alike, meter the
// same session: the same times, registers and samples, and the 1.6 stop
// reports the start register as 2.x's Started does.
func TestMeterSeedIdenticalSessions(t *testing.T) {
	const every, samples, length = time.Minute, 3, 210 * time.Second
	start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	type run struct {
		f     *fakeCSMS
		clock *ManualClock
		wait  func() error
	}
	var runs []run
	for i, v := range []ocppj.Version{ocppj.V16, ocppj.V201} {
		f := newFakeCSMSVersion(t, v)
		o := testOptions(f, []string{"SEED-A", "SEED-B"}[i])
		o.Version, o.MeterSeed = v, "same"
		o.MeterInterval, o.SessionLength, o.Pause = every, length, time.Hour
		clock := NewManualClock(start)
		o.Clock = clock
		_, wait := runStation(t, t.Context(), o)
		runs = append(runs, run{f, clock, wait})
	}
	// Each step waits for the timer the previous one led to, so that the
	// station took its sample before the clock moves on.
	for k := 1; k <= samples+1; k++ {
		for _, r := range runs {
			at := start.Add(time.Duration(k) * every)
			if err := r.clock.WaitTimer(t.Context(), at); err != nil {
				t.Fatal(err)
			}
			if k <= samples {
				r.clock.AdvanceTo(at)
			}
		}
	}
	for _, r := range runs {
		r.clock.AdvanceTo(start.Add(length))
		if err := r.wait(); err != nil {
			t.Fatal(err)
		}
	}

	// Both as one neutral session: times in Unix ms, values as numbers.
	type sample struct {
		at                     int64
		context, measurand, ph string
		value                  float64
	}
	type session struct {
		start, stop           int64
		meterStart, meterStop float64
		samples               []sample
	}
	var got [2]session
	add := func(s *session, at time.Time, ctxt, measurand, phase string, value float64) {
		s.samples = append(s.samples, sample{at.UnixMilli(), ctxt, measurand, phase, value})
	}
	for _, r := range runs[0].f.drain() {
		s := &got[0]
		var mvs []v16.MeterValue
		switch m := r.req.(type) {
		case *v16.StartTransactionRequest:
			s.start, s.meterStart = m.Timestamp.UnixMilli(), float64(m.MeterStart)
		case *v16.MeterValuesRequest:
			mvs = m.MeterValue
		case *v16.StopTransactionRequest:
			s.stop, s.meterStop = m.Timestamp.UnixMilli(), float64(m.MeterStop)
			mvs = m.TransactionData
		}
		for _, mv := range mvs {
			for _, sv := range mv.SampledValue {
				v, err := strconv.ParseFloat(sv.Value, 64)
				if err != nil {
					t.Fatal(err)
				}
				add(s, mv.Timestamp.Time, string(sv.Context), string(sv.Measurand), string(sv.Phase), v)
			}
		}
	}
	for _, r := range runs[1].f.drain() {
		s, m := &got[1], txEvent(r)
		if m == nil {
			continue
		}
		switch m.EventType {
		case v21.TransactionEventStarted:
			s.start, s.meterStart = m.Timestamp.UnixMilli(), register(t, m, v21.ReadingContextTransactionBegin)
		case v21.TransactionEventEnded:
			s.stop, s.meterStop = m.Timestamp.UnixMilli(), register(t, m, v21.ReadingContextTransactionEnd)
		}
		for _, mv := range m.MeterValue {
			for _, sv := range mv.SampledValue {
				add(s, mv.Timestamp.Time, string(sv.Context), string(sv.Measurand), string(sv.Phase), sv.Value)
			}
		}
	}
	for i := range got { // 1.6 sends the begin register with the stop
		slices.SortStableFunc(got[i].samples, func(a, b sample) int { return cmp.Compare(a.at, b.at) })
	}
	if !reflect.DeepEqual(got[0], got[1]) {
		t.Errorf("the sessions differ:\n1.6:   %+v\n2.0.1: %+v", got[0], got[1])
	}
	if s := got[0]; s.start != start.UnixMilli() || s.stop != start.Add(length).UnixMilli() || len(s.samples) != 2+6*samples ||
		s.meterStop <= s.meterStart {
		t.Errorf("session %+v: want %d samples from %v to %v", s, 2+6*samples, start, start.Add(length))
	}
}
