package app_test

import (
	"net/http"
	"testing"

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
