package rfid

import (
	"testing"
	"time"
)

// t0 is when the tests' fake clocks start.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// recv returns the next value of ch; the long guard only turns a deadlock
// into a failure, it times nothing.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("nothing received (deadlock?)")
		var zero T
		return zero
	}
}
