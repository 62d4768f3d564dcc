package e2e

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/api"
	"github.com/constellation-ev/constellation/appliance/app"
	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/schematest"
	"github.com/constellation-ev/constellation/tools/chargesim/sim"
)

// testConfig is the appliance configuration of these tests: everything on
// loopback with ports chosen by the kernel, every charger and token let in.
func testConfig(dataDir string) config.Config {
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.OCPP.Addr = "127.0.0.1:0"
	cfg.API.Addr = "127.0.0.1:0"
	cfg.OCPP.UnknownChargers = "accept"
	cfg.Auth.UnknownTokens = "open"
	return cfg
}

// site is one appliance, run in-process, with a recording proxy in front
// of its OCPP endpoint that the stations connect through.
type site struct {
	api *apiClient
	rec *recorder
	url string // the proxy's OCPP base URL; a station appends its id
	log *slog.Logger
}

// startSite runs the appliance until the test ends.
func startSite(t *testing.T) *site {
	t.Helper()
	return startSiteWith(t, nil)
}

// startSiteWith runs the appliance with testConfig changed by mutate
// (nil: as it is) until the test ends.
func startSiteWith(t *testing.T, mutate func(*config.Config)) *site {
	t.Helper()
	cfg := testConfig(t.TempDir())
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan app.Addrs, 1)
	runErr := make(chan error, 1)
	go func() { runErr <- app.Run(ctx, cfg, log, func(a app.Addrs) { ready <- a }) }()
	var addrs app.Addrs
	select {
	case addrs = <-ready:
	case err := <-runErr:
		cancel()
		t.Fatalf("app.Run: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("app.Run: %v", err)
		}
	})
	s := &site{api: newAPIClient(addrs.API), rec: newRecorder(), log: log}
	srv := httptest.NewServer(newProxy(addrs.OCPP, s.rec))
	t.Cleanup(srv.Close)
	s.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/ocpp"
	return s
}

// stationOptions are the options of an interactive station of version v:
// two connectors whose sessions run until a command ends them (between
// sessions a connector waits for a remote start), meter values every
// 100 ms, quick retries.
func stationOptions(id string, v ocppj.Version) sim.Options {
	return sim.Options{
		ID: id, Version: v, Connectors: 2, MeterInterval: 100 * time.Millisecond,
		SessionLength: time.Hour, Sessions: 0, Pause: time.Hour,
		Tags: []string{"TAG-A", "TAG-B"}, HeartbeatInterval: time.Hour,
		RetryInterval: 200 * time.Millisecond, CallTimeout: 20 * time.Second,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
	}
}

// station is one chargesim station connected to a site.
type station struct {
	*site
	id      string
	version ocppj.Version
	sim     *sim.Station
	cancel  context.CancelFunc // ends Run
	done    chan struct{}      // closed when Run returned
	err     error              // Run's result, set before done closes
}

// connect runs a station with opts (URL and logger filled in) until it
// finishes its sessions or the test ends.
func (s *site) connect(t *testing.T, opts sim.Options) *station {
	t.Helper()
	opts.URL = sim.StationURL(s.url, opts.ID)
	opts.Logger = s.log
	st, err := sim.NewStation(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &station{site: s, id: opts.ID, version: cmp.Or(opts.Version, ocppj.V16), sim: st, cancel: cancel, done: make(chan struct{})}
	go func() {
		c.err = st.Run(ctx)
		close(c.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-c.done
		if c.err != nil {
			t.Errorf("station %s: %v", c.id, c.err)
		}
	})
	return c
}

// disconnect stops the station (its connection closes) and waits until
// it has.
func (c *station) disconnect(t *testing.T) {
	t.Helper()
	c.cancel()
	select {
	case <-c.done:
	case <-time.After(time.Minute):
		t.Fatalf("station %s did not stop within a minute", c.id)
	}
}

// wait waits until the station finished its sessions and every
// transaction message was acknowledged.
func (c *station) wait(t *testing.T) {
	t.Helper()
	select {
	case <-c.done:
		if c.err != nil {
			t.Fatalf("station %s: %v", c.id, c.err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("station %s did not finish within a minute", c.id)
	}
}

// command sends an OCPP request through the local API and returns the
// station's response payload; the API must answer 200.
func (c *station) command(t *testing.T, action, body string) json.RawMessage {
	t.Helper()
	var res api.CommandResult
	c.post(t, "/ocpp/"+action, body, &res)
	if res.Action != action {
		t.Errorf("%s: answer names action %q", action, res.Action)
	}
	return res.Response
}

// neutral sends a version-neutral command through the local API; the API
// must answer 200.
func (c *station) neutral(t *testing.T, command, body string) charging.CommandReply {
	t.Helper()
	var r charging.CommandReply
	c.post(t, "/commands/"+command, body, &r)
	if r.Kind != charging.CommandKind(command) {
		t.Errorf("%s: answer names command %q", command, r.Kind)
	}
	return r
}

// post posts body to the station's path under /api/v1/chargers/{id}.
func (c *station) post(t *testing.T, path, body string, out any) {
	t.Helper()
	status, raw, err := c.api.do(t.Context(), http.MethodPost, "/api/v1/chargers/"+c.id+path, []byte(body), out)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if status != http.StatusOK {
		t.Fatalf("%s %s: HTTP %d: %s", path, body, status, raw)
	}
}

// expectStatus sends an OCPP request to charger that must be refused with
// HTTP status want.
func (c *station) expectStatus(t *testing.T, charger, action, body string, want int) {
	t.Helper()
	expectRefused(t, c.api, "/api/v1/chargers/"+charger+"/ocpp/"+action, body, want)
}

// expectRefused posts body to path, which must answer HTTP status want.
func expectRefused(t *testing.T, c *apiClient, path, body string, want int) {
	t.Helper()
	status, raw, err := c.do(t.Context(), http.MethodPost, path, []byte(body), nil)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if status != want {
		t.Errorf("POST %s with %s: HTTP %d (%s), want %d", path, body, status, raw, want)
	}
}

func (c *station) charger(t *testing.T) charging.Charger {
	t.Helper()
	var ch charging.Charger
	c.api.get(t, "/api/v1/chargers/"+c.id, &ch)
	return ch
}

// variables is the station's device model as the appliance recorded it,
// by key.
func (c *station) variables(t *testing.T) map[string]api.Variable {
	t.Helper()
	var l api.VariableList
	c.api.get(t, "/api/v1/chargers/"+c.id+"/variables", &l)
	out := map[string]api.Variable{}
	for _, v := range l.Variables {
		out[v.Key] = v
	}
	return out
}

// transactions lists the station's sessions, newest first (all of them:
// the tests run fewer than a page).
func (c *station) transactions(t *testing.T, activeOnly bool) []charging.Transaction {
	t.Helper()
	var l api.TransactionList
	c.api.get(t, fmt.Sprintf("/api/v1/transactions?limit=500&active=%t&charger=%s", activeOnly, c.id), &l)
	return l.Transactions
}

func (s *site) transaction(t *testing.T, id int64) api.TransactionDetail {
	t.Helper()
	var d api.TransactionDetail
	s.api.get(t, fmt.Sprintf("/api/v1/transactions/%d", id), &d)
	return d
}

// reservation returns reservation id as the appliance knows it (zero if
// it does not).
func (s *site) reservation(t *testing.T, id int) charging.Reservation {
	t.Helper()
	var l api.ReservationList
	s.api.get(t, "/api/v1/reservations", &l)
	for _, r := range l.Reservations {
		if r.ID == id {
			return r
		}
	}
	return charging.Reservation{}
}

func decode[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, raw, err)
	}
	return v
}

// connectorStatus is the status of connector (2.x: EVSE) id, "" if the
// charger has not reported it.
func connectorStatus(c charging.Charger, id int) charging.ConnectorStatus {
	for _, cn := range c.Connectors {
		if cn.ID == id {
			return cn.Status
		}
	}
	return ""
}

// readingKey identifies a meter reading in every version: when it was
// taken (Unix ms), what it measured, and its value in canonical form.
type readingKey struct {
	at                              int64
	measurand, phase, context, unit string
	value                           string
}

// canonical writes a decimal reading value one way, so that 1.6's "230.0"
// and 2.x's 230 are the same reading; other text stays as it is.
func canonical(value string) string {
	f, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return value
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// fieldDiff lists, one per line, the fields of two structs that differ
// (times compared as instants, pointers by what they point to); "" when
// none does.
func fieldDiff[T any](a, b T) string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out strings.Builder
	for i := range va.NumField() {
		fa, fb := va.Field(i).Interface(), vb.Field(i).Interface()
		same := reflect.DeepEqual(fa, fb)
		if ta, ok := fa.(time.Time); ok {
			same = ta.Equal(fb.(time.Time))
		}
		if !same {
			fmt.Fprintf(&out, "  %s: %s ≠ %s\n", va.Type().Field(i).Name, show(fa), show(fb))
		}
	}
	return out.String()
}

// show renders a field value, what pointers point to included.
func show(v any) string {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return fmt.Sprintf("&%v", rv.Elem().Interface())
	}
	return fmt.Sprintf("%v", v)
}

// apiClient talks to the appliance's local API.
type apiClient struct {
	base string // http://host:port
	hc   *http.Client
}

func newAPIClient(addr string) *apiClient {
	return &apiClient{base: "http://" + addr, hc: &http.Client{Timeout: 30 * time.Second}}
}

// do sends a request and decodes a JSON answer into out (when not nil). It
// returns the status and the raw body.
func (c *apiClient) do(ctx context.Context, method, path string, body []byte, out any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, raw, fmt.Errorf("%s %s: decode %s: %w", method, path, raw, err)
		}
	}
	return resp.StatusCode, raw, nil
}

// get fails the test unless GET path answers 200, decoding into out.
func (c *apiClient) get(t testing.TB, path string, out any) {
	t.Helper()
	status, raw, err := c.do(t.Context(), http.MethodGet, path, nil, out)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if status != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d: %s", path, status, raw)
	}
}

// checkSchema returns the official schema's verdict on a request (or
// response) payload of action in version v; the test skips when the
// schemas are absent.
func checkSchema(t testing.TB, v ocppj.Version, action string, response bool, payload []byte) error {
	t.Helper()
	return schematest.Check(t, v, action, response, payload)
}

// tail returns the last n bytes of a file, for failure messages.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	if off := fi.Size() - n; off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return err.Error()
		}
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}
