package app_test

import (
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestShutdownClosesChargersGoingAway: on shutdown every charger's socket
// is closed with 1001 after the calls in flight are answered, and the API
// stops answering.
func TestShutdownClosesChargersGoingAway(t *testing.T) {
	a := startAppliance(t, nil)
	resp, err := http.Get(a.api + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %s, want 200 once ready", resp.Status)
	}
	chargers := []*rawCharger{dialRaw(t, a, "BYE-1"), dialRaw(t, a, "BYE-2")}
	for _, c := range chargers {
		c.call("BootNotification", boot)
	}
	if err := a.stop(); err != nil {
		t.Fatalf("app.Run: %v", err)
	}
	for _, c := range chargers {
		expectClose(t, c, websocket.CloseGoingAway)
	}
	if _, err := http.Get(a.api + "/healthz"); err == nil {
		t.Error("API still answering after shutdown")
	}
}

// TestSystemdNotify: under systemd the appliance says READY=1 once it
// serves, pings the watchdog while healthy, and says STOPPING=1 when it
// stops.
func TestSystemdNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "100000")
	t.Setenv("WATCHDOG_PID", "")
	a := startAppliance(t, nil)
	next := func() string {
		t.Helper()
		buf := make([]byte, 64)
		if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:n])
	}
	if s := next(); s != "READY=1" {
		t.Fatalf("first %q, want READY=1", s)
	}
	if s := next(); s != "WATCHDOG=1" {
		t.Fatalf("then %q, want WATCHDOG=1", s)
	}
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	for s := next(); s != "STOPPING=1"; s = next() {
		if s != "WATCHDOG=1" {
			t.Fatalf("got %q, want STOPPING=1", s)
		}
	}
}
