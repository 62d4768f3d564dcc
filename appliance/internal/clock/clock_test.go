package clock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/internal/clock"
	"github.com/constellation-ev/constellation/appliance/internal/clock/clocktest"
)

func TestOrSystem(t *testing.T) {
	if _, ok := clock.OrSystem(nil).(clock.System); !ok {
		t.Error("OrSystem(nil) is not the wall clock")
	}
	fake := clocktest.New(time.Time{})
	if got := clock.OrSystem(fake); got != fake {
		t.Errorf("OrSystem(fake) = %v, want the fake", got)
	}
}

func TestSystem(t *testing.T) {
	before := time.Now()
	if now := (clock.System{}).Now(); now.Before(before) {
		t.Errorf("Now() = %s, before %s", now, before)
	}
	if at := <-(clock.System{}).After(0); at.Before(before) {
		t.Errorf("After(0) fired with %s, before %s", at, before)
	}
}

func TestSleep(t *testing.T) {
	c := clocktest.New(time.Time{})
	slept := make(chan error)
	go func() { slept <- clock.Sleep(context.Background(), c, time.Second) }()
	if d := c.NextWait(); d != time.Second {
		t.Fatalf("Sleep waits %s, want 1s", d)
	}
	c.Advance(time.Second)
	if err := <-slept; err != nil {
		t.Fatalf("Sleep = %v, want nil once the time has passed", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := clock.Sleep(ctx, c, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep with an ended context = %v, want context.Canceled", err)
	}
}
