package rpc

import "time"

// Clock schedules the timers this package uses (call timeouts, pings), so
// tests can drive time instead of sleeping.
type Clock interface {
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a scheduled function; *time.Timer implements it.
type Timer interface {
	Stop() bool
	Reset(d time.Duration) bool
}

// RealClock is the wall clock.
type RealClock struct{}

var _ Clock = RealClock{}
var _ Timer = (*time.Timer)(nil)

// AfterFunc calls time.AfterFunc.
func (RealClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
