package ratelimit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/cloud/internal/cloudtest"
	"github.com/constellation-ev/constellation/cloud/ratelimit"
)

// A key gets its burst at once, then its rate; other keys are untouched.
func TestPerKeyBuckets(t *testing.T) {
	clock := cloudtest.NewClock(time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	l := ratelimit.New(2, 5, clock)
	for i := range 5 {
		if !l.Allow("a") {
			t.Fatalf("event %d of the burst refused", i)
		}
	}
	ok, wait := l.Reserve("a")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("past the burst: %v, wait %v; want refused, 500ms", ok, wait)
	}
	if !l.Allow("b") {
		t.Fatal("another key refused")
	}
	clock.Advance(time.Second)
	allowed := 0
	for range 3 {
		if l.Allow("a") {
			allowed++
		}
	}
	if allowed != 2 {
		t.Fatalf("a second later: %d more allowed, want exactly two", allowed)
	}
	clock.Advance(time.Hour)
	for i := range 5 {
		if !l.Allow("a") {
			t.Fatalf("after an idle hour, event %d refused: the bucket refills to the burst only", i)
		}
	}
	if l.Allow("a") {
		t.Fatal("the bucket refilled past its burst")
	}
}

// Many keys do not grow the limiter without bound, and forgetting an
// idle key changes nothing for it.
func TestManyKeys(t *testing.T) {
	clock := cloudtest.NewClock(time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	l := ratelimit.New(1, 1, clock)
	for i := range 30_000 {
		if !l.Allow(fmt.Sprint(i)) {
			t.Fatalf("key %d refused its first event", i)
		}
		clock.Advance(100 * time.Millisecond)
	}
	if l.Allow("29999") {
		t.Fatal("a recent key's empty bucket was forgotten")
	}
}

// A rate of zero allows everything (limits off).
func TestOff(t *testing.T) {
	l := ratelimit.New(0, 0, nil)
	for range 1000 {
		if !l.Allow("a") {
			t.Fatal("refused with limits off")
		}
	}
}
