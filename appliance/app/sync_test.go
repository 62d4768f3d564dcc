package app_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/constellation-ev/constellation/appliance/cloudsync"
	"github.com/constellation-ev/constellation/appliance/cloudsync/synctest"
	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/appliance/internal/testlog"
	"github.com/constellation-ev/constellation/syncproto"
)

func TestSyncOffByDefault(t *testing.T) {
	a := startAppliance(t, nil)
	var st cloudsync.Status
	getJSON(t, a.api+"/api/v1/sync", &st)
	if st.Enabled || st.Connected {
		t.Fatalf("sync status %+v, want disabled", st)
	}
}

// With [sync] enabled, a charger's session reaches the broker, a command
// from the cloud reaches the charger and its result the broker, the
// local API shows the link, and the password is never logged.
func TestSyncEndToEnd(t *testing.T) {
	broker := synctest.Broker(t)
	site := synctest.Site(t)
	const password = "s3cret-mqtt-password"
	pwFile := filepath.Join(t.TempDir(), "mqtt-password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sub := synctest.Subscribe(t, broker, syncproto.Prefix+site+"/up/+")
	logs := &testlog.Buffer{}
	a := startApplianceLogging(t, func(c *config.Config) {
		c.Sync = config.Sync{Enabled: true, Broker: broker, Site: site, PasswordFile: pwFile,
			ReadingsBatch: config.Duration{Duration: 5 * time.Minute}, OutboxMaxEntries: 1000, OutboxMaxBytes: 1 << 20}
	}, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))

	c := dialRaw(t, a, "SYNC-1")
	c.call("BootNotification", boot)
	c.call("StatusNotification", `{"connectorId":1,"errorCode":"NoError","status":"Charging"}`)
	ans := c.call("StartTransaction", startTx)
	var started struct {
		TransactionID int64 `json:"transactionId"`
	}
	if err := json.Unmarshal(ans[2], &started); err != nil {
		t.Fatal(err)
	}
	c.call("MeterValues", fmt.Sprintf(`{"connectorId":1,"transactionId":%d,"meterValue":[{"timestamp":"2026-11-28T10:15:00Z","sampledValue":[{"value":"2100"}]}]}`, started.TransactionID))
	c.call("StopTransaction", fmt.Sprintf(`{"transactionId":%d,"meterStop":3100,"timestamp":"2026-11-28T11:00:00Z","reason":"Local"}`, started.TransactionID))

	sub.Wait(t, "the session and its reading", func(ms []synctest.Message) bool {
		var stop, reading bool
		for _, m := range ms {
			switch m := m.Msg.(type) {
			case *syncproto.Transaction:
				stop = stop || (m.Event == syncproto.TxStopped && m.ID == started.TransactionID && *m.MeterStopWh == 3100)
			case *syncproto.Readings:
				reading = reading || slices.ContainsFunc(m.Rows(), func(r syncproto.Reading) bool { return r.Value == "2100" })
			}
		}
		return stop && reading
	})
	var st cloudsync.Status
	getJSON(t, a.api+"/api/v1/sync", &st)
	if !st.Enabled || !st.Connected || st.Site != site || st.LastSync.IsZero() {
		t.Fatalf("sync status %+v", st)
	}
	metrics := getText(t, a.api+"/metrics")
	for _, want := range []string{"\nconstellation_sync_connected 1\n", "\nconstellation_sync_backlog_records ", "\nconstellation_chargers_connected 1\n"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q:\n%s", strings.TrimSpace(want), metrics)
		}
	}

	// A command from the cloud goes through the CSMS to the charger.
	synctest.PublishMessage(t, broker, site, &syncproto.Command{Header: syncproto.Header{Site: site, Time: time.Now()},
		ID: "cmd-1", Charger: "SYNC-1", Command: "clear-cache", Deadline: time.Now().Add(time.Hour)}, false)
	f := c.next()
	var call []json.RawMessage
	if err := json.Unmarshal(f.data, &call); err != nil || len(call) != 4 || string(call[2]) != `"ClearCache"` {
		t.Fatalf("charger got %s, want a ClearCache CALL", f.data)
	}
	c.send(websocket.TextMessage, fmt.Appendf(nil, `[3,%s,{"status":"Accepted"}]`, call[1]))
	sub.Wait(t, "the command's result", func(ms []synctest.Message) bool {
		return slices.ContainsFunc(ms, func(m synctest.Message) bool {
			r, ok := m.Msg.(*syncproto.CommandResult)
			return ok && r.CommandID == "cmd-1" && r.Status == syncproto.CommandAccepted && r.Action == "ClearCache"
		})
	})

	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	sub.Wait(t, "the death at shutdown", func(ms []synctest.Message) bool {
		return slices.ContainsFunc(ms, func(m synctest.Message) bool { _, ok := m.Msg.(*syncproto.Death); return ok })
	})
	if strings.Contains(logs.String(), password) {
		t.Fatal("the MQTT password was logged")
	}
	if !strings.Contains(logs.String(), "sync link up") {
		t.Fatalf("no link in the logs:\n%s", logs.String())
	}
}

// TestAuthListReachesTheCharger: the cloud's authorization list is applied
// to the cache and sent on to a connected charger's local list, whose
// state the API shows.
func TestAuthListReachesTheCharger(t *testing.T) {
	broker := synctest.Broker(t)
	site := synctest.Site(t)
	pwFile := filepath.Join(t.TempDir(), "mqtt-password")
	if err := os.WriteFile(pwFile, []byte("s3cret-mqtt-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	a := startApplianceLogging(t, func(c *config.Config) {
		c.Sync = config.Sync{Enabled: true, Broker: broker, Site: site, PasswordFile: pwFile,
			ReadingsBatch: config.Duration{Duration: time.Minute}, OutboxMaxEntries: 1000, OutboxMaxBytes: 1 << 20}
		c.Auth.LocalList = true
	}, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	c := dialRaw(t, a, "LIST-1")
	c.call("BootNotification", boot)
	synctest.PublishMessage(t, broker, site, &syncproto.AuthList{Header: syncproto.Header{Site: site, Time: time.Now()},
		Version: 1, Full: true, Entries: []syncproto.AuthEntry{{ID: "CARD-1", Status: "Accepted"}, {ID: "CARD-2", Status: "Blocked", Parent: "FLEET"}}}, true)

	// The charger answers the appliance's CALLs as a 1.6 charger with a
	// local list does, until its list holds the cloud's tokens.
	version, list := 0, map[string]string{}
	deadline := time.Now().Add(60 * time.Second)
	for list["CARD-1"] != "Accepted" || list["CARD-2"] != "Blocked" {
		if time.Now().After(deadline) {
			t.Fatalf("the charger's list is %v\n%s", list, logs)
		}
		f := c.next()
		var call []json.RawMessage
		if f.err != nil || json.Unmarshal(f.data, &call) != nil || len(call) != 4 {
			t.Fatalf("charger got %s (%v), want a CALL", f.data, f.err)
		}
		var action string
		json.Unmarshal(call[2], &action)
		answer := `{"status":"Accepted"}`
		switch action {
		case "GetLocalListVersion":
			answer = fmt.Sprintf(`{"listVersion":%d}`, version)
		case "SendLocalList":
			var r struct {
				ListVersion int    `json:"listVersion"`
				UpdateType  string `json:"updateType"`
				List        []struct {
					IDTag string `json:"idTag"`
					Info  *struct {
						Status string `json:"status"`
					} `json:"idTagInfo"`
				} `json:"localAuthorizationList"`
			}
			if err := json.Unmarshal(call[3], &r); err != nil {
				t.Fatal(err)
			}
			if r.UpdateType == "Full" {
				clear(list)
			}
			for _, e := range r.List {
				list[e.IDTag] = e.Info.Status
			}
			version = r.ListVersion
		default:
			t.Fatalf("charger got %s", f.data)
		}
		c.send(websocket.TextMessage, fmt.Appendf(nil, `[3,%s,%s]`, call[1], answer))
	}
	var st struct {
		Enabled  bool  `json:"enabled"`
		Version  int64 `json:"version"`
		Tokens   int   `json:"tokens"`
		Chargers []struct {
			ChargerID   string `json:"chargerId"`
			State       string `json:"state"`
			ListVersion int64  `json:"listVersion"`
		} `json:"chargers"`
	}
	deadline = time.Now().Add(10 * time.Second)
	for getJSON(t, a.api+"/api/v1/local-list", &st); len(st.Chargers) != 1 || st.Chargers[0].State != "current"; getJSON(t, a.api+"/api/v1/local-list", &st) {
		if time.Now().After(deadline) {
			t.Fatalf("local list status %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !st.Enabled || st.Tokens != 2 || st.Version != int64(version) || st.Chargers[0].ListVersion != int64(version) {
		t.Errorf("local list status %+v, want 2 tokens at the charger's version %d", st, version)
	}
}

// An appliance with sync enabled and only an enrollment token starts and
// serves chargers while the watchtower cannot be reached; it keeps
// trying to enroll, shows it in /api/v1/sync, and does not dial the
// broker without credentials.
func TestSyncEnrollingWithTheWatchtowerDown(t *testing.T) {
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	towerURL := "http://" + down.Addr().String()
	down.Close() // nothing listens there: the watchtower is down
	broker := &countingListener{}
	broker.start(t)

	dir := t.TempDir()
	token := filepath.Join(dir, "boot", "constellation-token")
	if err := os.MkdirAll(filepath.Dir(token), 0o700); err != nil {
		t.Fatal(err)
	}
	const secret = "single-use-enrollment-token-0123456789"
	if err := os.WriteFile(token, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	a := startApplianceLogging(t, func(c *config.Config) {
		c.Sync = config.Sync{Enabled: true, Broker: "tcp://" + broker.addr(), Site: "depot-7",
			PasswordFile: filepath.Join(dir, "state", "mqtt-password"), EnrollURL: towerURL, EnrollTokenFile: token,
			ReadingsBatch: config.Duration{Duration: time.Minute}, OutboxMaxEntries: 1000, OutboxMaxBytes: 1 << 20}
	}, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))

	resp, err := http.Get(a.api + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %s, want 200 while enrolling", resp.Status)
	}
	c := dialRaw(t, a, "ENROLL-1")
	if ans := c.call("BootNotification", boot); !strings.Contains(string(ans[2]), "Accepted") {
		t.Fatalf("boot answered %s", ans[2])
	}

	// Two failed attempts: the enroller retries.
	var st cloudsync.Status
	for deadline := time.Now().Add(2 * time.Minute); strings.Count(logs.String(), "sync enrollment failed") < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no second enrollment attempt:\n%s", logs.String())
		}
	}
	getJSON(t, a.api+"/api/v1/sync", &st)
	if !st.Enabled || st.Connected || st.Enrollment != cloudsync.EnrollmentEnrolling || !strings.Contains(st.LastError, "enroll") {
		t.Fatalf("sync status %+v, want enrolling with the last failure", st)
	}
	if n := broker.accepted(); n != 0 {
		t.Fatalf("the broker was dialled %d times before enrollment", n)
	}
	if _, err := os.Stat(token); err != nil {
		t.Fatalf("the token file: %v", err)
	}
	if strings.Contains(logs.String(), secret) {
		t.Fatal("the enrollment token was logged")
	}
}

// countingListener stands for a broker and counts the connections it gets.
type countingListener struct {
	ln net.Listener
	mu sync.Mutex
	n  int
}

func (l *countingListener) start(t *testing.T) {
	t.Helper()
	var err error
	if l.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := l.ln.Accept()
			if err != nil {
				return
			}
			l.mu.Lock()
			l.n++
			l.mu.Unlock()
			conn.Close()
		}
	}()
	t.Cleanup(func() {
		l.ln.Close()
		<-done
	})
}

func (l *countingListener) addr() string { return l.ln.Addr().String() }

func (l *countingListener) accepted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}
