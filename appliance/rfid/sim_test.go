package rfid

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/constellation-ev/constellation/appliance/internal/clock/clocktest"
)

func TestSim(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(t0)
	s := NewSim(clock)
	want := func(uid []byte) {
		t.Helper()
		got, present, err := s.Poll(ctx)
		if err != nil || present != (uid != nil) || !bytes.Equal(got, uid) {
			t.Fatalf("Poll = %X, %v, %v; want %X", got, present, err, uid)
		}
	}
	if err := s.Init(ctx); err != nil {
		t.Fatal(err)
	}
	want(nil)

	if err := s.Place(uid7); err != nil {
		t.Fatal(err)
	}
	clock.Advance(TapDuration * 10)
	want(uid7) // placed cards stay
	s.Remove()
	want(nil)

	if err := s.Tap(uid10); err != nil {
		t.Fatal(err)
	}
	clock.Advance(TapDuration - 1)
	want(uid10)
	clock.Advance(1)
	want(nil) // a tap ends by itself

	for _, bad := range [][]byte{nil, {1, 2, 3}, make([]byte, 11)} {
		if err := s.Tap(bad); err == nil {
			t.Errorf("Tap(%X) accepted", bad)
		}
		if err := s.Place(bad); err == nil {
			t.Errorf("Place(%X) accepted", bad)
		}
	}

	s.Unplug()
	if err := s.Init(ctx); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("Init unplugged = %v, want ErrNoDevice", err)
	}
	if _, _, err := s.Poll(ctx); err == nil || errors.Is(err, ErrCard) {
		t.Fatalf("Poll unplugged = %v, want a device error", err)
	}
	s.Plug()
	if err := s.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSimPollReturnsACopy(t *testing.T) {
	s := NewSim(nil)
	uid := bytes.Clone(uid4)
	if err := s.Place(uid); err != nil {
		t.Fatal(err)
	}
	uid[0] = 0xFF
	got, _, _ := s.Poll(context.Background())
	got[1] = 0xFF
	again, _, _ := s.Poll(context.Background())
	if !bytes.Equal(again, uid4) {
		t.Fatalf("Poll = %X after callers changed their slices, want %X", again, uid4)
	}
}

// TestSimConcurrent is for -race: the API and tools drive a Sim while the
// Reader polls it.
func TestSimConcurrent(t *testing.T) {
	s := NewSim(nil)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 100 {
				switch i {
				case 0:
					_ = s.Tap(uid4)
				case 1:
					_ = s.Place(uid7)
				case 2:
					s.Remove()
				default:
					_, _, _ = s.Poll(context.Background())
				}
			}
		})
	}
	wg.Wait()
}
