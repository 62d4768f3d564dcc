// Package sdnotify tells systemd how the appliance is doing, the
// sd_notify(3) protocol of a Type=notify service: READY=1 once it serves,
// WATCHDOG=1 pings while it is healthy (so systemd restarts it when it
// hangs or stops serving), STOPPING=1 when it shuts down. Run outside
// systemd ($NOTIFY_SOCKET unset) it does nothing.
package sdnotify

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"
)

// Notifier sends states to systemd's notification socket. A nil
// *Notifier (not run by systemd) ignores every call.
type Notifier struct {
	socket   string
	watchdog time.Duration
}

// FromEnv returns the Notifier of the service manager that started the
// process ($NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID), or nil.
func FromEnv() *Notifier {
	socket := os.Getenv("NOTIFY_SOCKET")
	if socket == "" {
		return nil
	}
	n := &Notifier{socket: socket}
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	pid := os.Getenv("WATCHDOG_PID")
	if err == nil && usec > 0 && (pid == "" || pid == strconv.Itoa(os.Getpid())) {
		n.watchdog = time.Duration(usec) * time.Microsecond
	}
	return n
}

// Notify sends state, e.g. "READY=1".
func (n *Notifier) Notify(state string) error {
	if n == nil {
		return nil
	}
	// A leading @ names an abstract socket, which Go's net package
	// understands as such.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sdnotify: %s: %w", state, err)
	}
	return nil
}

// Watchdog is the interval systemd expects pings within (WatchdogSec);
// zero when it expects none.
func (n *Notifier) Watchdog() time.Duration {
	if n == nil {
		return 0
	}
	return n.watchdog
}

// Ping sends WATCHDOG=1 every half watchdog interval while healthy
// reports true, until ctx ends: a hung or unhealthy appliance misses its
// pings and systemd restarts it. It returns at once without a watchdog.
func (n *Notifier) Ping(ctx context.Context, healthy func() bool, log *slog.Logger) {
	every := n.Watchdog() / 2
	if every <= 0 {
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !healthy() {
			log.Warn("unhealthy: no watchdog ping (systemd restarts the appliance if this lasts)")
			continue
		}
		if err := n.Notify("WATCHDOG=1"); err != nil {
			log.Warn("watchdog ping", "err", err)
		}
	}
}
