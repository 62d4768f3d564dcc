package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/api"
	"github.com/constellation-ev/constellation/appliance/app"
	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/cloudsync/synctest"
	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/appliance/firstboot"
	"github.com/constellation-ev/constellation/appliance/internal/testlog"
	"github.com/constellation-ev/constellation/appliance/network"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/tools/chargesim/sim"
)

// TestTapToCharge: cards tapped on the simulated reader start and stop
// sessions at a simulated charger whose driver plugged in and waits; an
// unknown and a blocked card start nothing and the display says why.
// The same with the cloud unreachable and with it up, for 1.6 and 2.0.1.
func TestTapToCharge(t *testing.T) {
	clouds := map[string]func(t *testing.T) string{
		"cloud unreachable": func(*testing.T) string { return "tcp://127.0.0.1:1" },
		"cloud up":          func(t *testing.T) string { return synctest.Broker(t) },
	}
	for name, broker := range clouds {
		for _, v := range []ocppj.Version{ocppj.V16, ocppj.V201} {
			t.Run(name+"/"+string(v), func(t *testing.T) { tapToCharge(t, broker(t), v) })
		}
	}
}

func tapToCharge(t *testing.T, broker string, v ocppj.Version) {
	pwFile := filepath.Join(t.TempDir(), "mqtt-password")
	if err := os.WriteFile(pwFile, []byte("s3cret-mqtt-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	a := startApplianceLogging(t, func(c *config.Config) {
		c.Auth.UnknownTokens = "strict"
		c.Auth.LocalList = true
		c.RFID.Driver, c.LCD.Driver = "sim", "sim"
		c.Station.SiteName = "Depot"
		c.Sync = config.Sync{Enabled: true, Broker: broker, Site: synctest.Site(t), PasswordFile: pwFile,
			ReadingsBatch: config.Duration{Duration: time.Minute}, OutboxMaxEntries: 1000, OutboxMaxBytes: 1 << 20}
	}, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	request(t, http.MethodPut, a.api+"/api/v1/tokens/04A1B2C3", `{"status":"Accepted"}`, http.StatusOK)
	request(t, http.MethodPut, a.api+"/api/v1/tokens/04FFEE01", `{"status":"Blocked"}`, http.StatusOK)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	st, err := sim.NewStation(sim.Options{ID: "TAP-1", URL: sim.StationURL(a.ocpp, "TAP-1"), Version: v,
		AwaitRemoteStart: true, MeterInterval: time.Second, SessionLength: time.Hour, Pause: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { _ = st.Run(ctx) })
	eventually(t, logs, "the EV plugged in", func() bool {
		var cs api.ChargerList
		getJSON(t, a.api+"/api/v1/chargers", &cs)
		return slices.ContainsFunc(cs.Chargers, func(c charging.Charger) bool {
			return c.ID == "TAP-1" && c.Connected && slices.ContainsFunc(c.Connectors, func(cn charging.Connector) bool {
				return cn.ID == 1 && (cn.Status == charging.StatusPreparing || cn.Status == charging.StatusOccupied)
			})
		})
	})

	tap := func(uid string) {
		t.Helper()
		request(t, http.MethodPost, a.api+"/api/v1/station/tap", `{"uid":"`+uid+`"}`, http.StatusAccepted)
	}
	display := func(what string, want ...string) {
		t.Helper()
		eventually(t, logs, "the display to show "+what, func() bool {
			var s api.StationStatus
			getJSON(t, a.api+"/api/v1/station", &s)
			text := strings.Join(s.Lines, " ")
			return !slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(text, w) })
		})
	}
	lastTap := func(what string, match func(charging.Tap) bool) {
		t.Helper()
		eventually(t, logs, what, func() bool {
			var l api.TapList
			getJSON(t, a.api+"/api/v1/taps?limit=1", &l)
			return len(l.Taps) == 1 && match(l.Taps[0])
		})
	}
	active := func() []charging.Transaction {
		var l api.TransactionList
		getJSON(t, a.api+"/api/v1/transactions?active=true", &l)
		return l.Transactions
	}

	tap("0A0B0C0D")
	display("the unknown card", "Card refused", "Unknown card")
	lastTap("the unknown card recorded", func(tp charging.Tap) bool {
		return tp.Token == "0A0B0C0D" && tp.Result == charging.TapRefused && tp.Reason == "unknown"
	})
	tap("04:ff:ee:01")
	display("the blocked card", "Card refused", "Card blocked")
	lastTap("the blocked card recorded", func(tp charging.Tap) bool { return tp.Token == "04FFEE01" && tp.Reason == "blocked" })
	if txs := active(); len(txs) != 0 {
		t.Fatalf("refused cards started %+v", txs)
	}

	tap("04A1B2C3")
	lastTap("the start recorded", func(tp charging.Tap) bool {
		return tp.Token == "04A1B2C3" && tp.Result == charging.TapStarted && tp.ChargerID == "TAP-1" && tp.ConnectorID == 1
	})
	eventually(t, logs, "the session to run", func() bool {
		txs := active()
		return len(txs) == 1 && txs[0].IDTag == "04A1B2C3" && txs[0].ChargerID == "TAP-1"
	})
	display("the session", "Charging")
	id := active()[0].ID

	// The card leaves the reader before it is tapped again.
	eventually(t, logs, "the card taken away", func() bool {
		var s api.StationStatus
		getJSON(t, a.api+"/api/v1/station", &s)
		return s.Reader != nil && s.Reader.Taps == 3 && !s.Reader.CardPresent
	})
	tap("04A1B2C3")
	lastTap("the stop recorded", func(tp charging.Tap) bool { return tp.Result == charging.TapStopped && tp.TransactionID == id })
	eventually(t, logs, "the session to stop", func() bool { return len(active()) == 0 })
	display("the end of the session", "Charging stopped")
}

// eventually polls cond until it holds, failing with the logs after 30 s.
func eventually(t *testing.T, logs *testlog.Buffer, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30s for %s\n%s", what, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// request sends body and checks the status; it returns the answer.
func request(t *testing.T, method, url, body string, want int) []byte {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != want {
		t.Fatalf("%s %s %s: %s %s, want %d (%v)", method, url, body, resp.Status, b, want, err)
	}
	return b
}

// The display shows the access point's password only when first boot
// generated it and the configuration still uses it.
func TestGeneratedAPPassword(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Network.AP.Password = network.Secret("k7m2q9xw4hfp3ncr")
	log := slog.New(slog.DiscardHandler)
	if got := app.GeneratedAPPassword(cfg, log); got != "" {
		t.Errorf("no generated password file: got %q", got)
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, firstboot.APPasswordName), []byte("k7m2q9xw4hfp3ncr\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := app.GeneratedAPPassword(cfg, log); got != "k7m2q9xw4hfp3ncr" {
		t.Errorf("generated and in use: got %q", got)
	}
	cfg.Network.AP.Password = "the-installer-changed-it"
	if got := app.GeneratedAPPassword(cfg, log); got != "" {
		t.Errorf("replaced by the installer's: got %q", got)
	}
}
