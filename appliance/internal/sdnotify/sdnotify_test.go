package sdnotify

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// listen is systemd's side: a datagram socket the notifier writes to.
func listen(t *testing.T) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	got := make(chan string, 16)
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n])
		}
	}()
	return path, got
}

func TestNotify(t *testing.T) {
	path, got := listen(t)
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "40000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(0)) // another process's watchdog
	n := FromEnv()
	if n.Watchdog() != 0 {
		t.Errorf("watchdog %v for another pid", n.Watchdog())
	}
	if err := n.Notify("READY=1"); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "READY=1" {
		t.Errorf("got %q", s)
	}
}

// TestPing: pings go out while healthy, none while not.
func TestPing(t *testing.T) {
	path, got := listen(t)
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "40000")
	t.Setenv("WATCHDOG_PID", "")
	n := FromEnv()
	if n.Watchdog() != 40*time.Millisecond {
		t.Fatalf("watchdog %v", n.Watchdog())
	}
	var healthy atomic.Bool
	var checks atomic.Int32
	healthy.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	check := func() bool { checks.Add(1); return healthy.Load() }
	go func() { n.Ping(ctx, check, slog.New(slog.DiscardHandler)); close(done) }()
	if s := <-got; s != "WATCHDOG=1" {
		t.Errorf("got %q", s)
	}
	healthy.Store(false)
	// Three checks after health went away, no ping beyond the one that
	// may have been on its way.
	from := checks.Load()
	for checks.Load() < from+3 {
		time.Sleep(time.Millisecond)
	}
	if n := len(got); n > 1 {
		t.Errorf("%d pings while unhealthy", n)
	}
	cancel()
	<-done
}

func TestOutsideSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n := FromEnv()
	if n != nil || n.Notify("READY=1") != nil || n.Watchdog() != 0 {
		t.Error("a nil notifier must ignore everything")
	}
	n.Ping(context.Background(), func() bool { return true }, nil) // returns at once
}
