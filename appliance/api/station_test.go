package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/internal/device"
	"github.com/constellation-ev/constellation/appliance/rfid"
)

// fakeStation is a station with a simulated reader that records taps.
type fakeStation struct{ tapped [][]byte }

func (f *fakeStation) StationStatus() StationStatus {
	return StationStatus{Reader: &rfid.Status{Health: device.Health{State: device.StateOK}, Taps: uint64(len(f.tapped))}, Lines: []string{"Tap your card"}, SimulatedReader: true}
}

func (f *fakeStation) TapCard(uid []byte) error { f.tapped = append(f.tapped, uid); return nil }

// TestStation: the station's state, simulated taps with their bad input,
// and the recorded taps.
func TestStation(t *testing.T) {
	e := newEnv(t)
	var none StationStatus
	e.get(t, "/api/v1/station").decode(t, http.StatusOK, &none)
	if none.Reader != nil || none.Display != nil || none.Lines == nil || none.SimulatedReader {
		t.Errorf("no station: %+v", none)
	}
	e.do(t, http.MethodPost, "/api/v1/station/tap", strings.NewReader(`{"uid":"04A1B2C3"}`)).wantError(t, http.StatusConflict, "not simulated")

	st := &fakeStation{}
	s, err := New(Options{Domain: e.svc, Station: st})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(s)
	t.Cleanup(e.srv.Close)
	var got tapBody
	e.do(t, http.MethodPost, "/api/v1/station/tap", strings.NewReader(`{"uid":"04:a1:b2:c3"}`)).decode(t, http.StatusAccepted, &got)
	if got.UID != "04A1B2C3" || len(st.tapped) != 1 || !slices.Equal(st.tapped[0], []byte{0x04, 0xA1, 0xB2, 0xC3}) {
		t.Errorf("answer %+v, tapped %x", got, st.tapped)
	}
	for body, want := range map[string]string{
		`{}`:                   "uid: required",
		`{"uid":"04A1B2"}`:     "uid:",
		`{"uid":"04A1B2C3",x}`: "body:",
		`{"card":"04A1B2C3"}`:  `unknown field "card"`,
	} {
		e.do(t, http.MethodPost, "/api/v1/station/tap", strings.NewReader(body)).wantError(t, http.StatusBadRequest, want)
	}
	var status StationStatus
	e.get(t, "/api/v1/station").decode(t, http.StatusOK, &status)
	if status.Reader == nil || status.Reader.Taps != 1 || !status.SimulatedReader {
		t.Errorf("status %+v", status)
	}

	for _, tap := range []charging.Tap{{Token: "A", Result: charging.TapRefused, Reason: "unknown"}, {Token: "B", Result: charging.TapStarted, ChargerID: "CP1", ConnectorID: 1}} {
		if _, err := e.svc.RecordTap(context.Background(), tap); err != nil {
			t.Fatal(err)
		}
	}
	var taps TapList
	e.get(t, "/api/v1/taps?limit=1").decode(t, http.StatusOK, &taps)
	if len(taps.Taps) != 1 || taps.Taps[0].Token != "B" {
		t.Errorf("taps %+v", taps)
	}
	e.get(t, "/api/v1/taps?limit=0").wantError(t, http.StatusBadRequest, "limit")
	e.get(t, "/api/v1/taps?since=1").wantError(t, http.StatusBadRequest, "unknown query parameter")
}

// TestStationPage: the pages are served with a policy that keeps them to
// the appliance's own API.
func TestStationPage(t *testing.T) {
	e := newEnv(t)
	for page, uses := range map[string]string{"/station": "/api/v1/station/tap", "/network": "/api/v1/network/clients"} {
		res, err := http.Get(e.srv.URL + page)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(res.Header.Get("Content-Security-Policy"), "connect-src 'self'") || !strings.Contains(string(body), uses) {
			t.Errorf("GET %s: %s %v", page, res.Status, res.Header)
		}
	}
}

// TestMetricsAndHealth: /metrics answers the Prometheus text format with
// the station's devices, and /healthz names their states.
func TestMetricsAndHealth(t *testing.T) {
	e := newEnv(t)
	s, err := New(Options{Domain: e.svc, Station: &fakeStation{}})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(s)
	t.Cleanup(e.srv.Close)
	res, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	body := string(b)
	for _, want := range []string{
		"# TYPE constellation_chargers_connected gauge\nconstellation_chargers_connected ",
		"# TYPE constellation_transactions_active gauge\n",
		`constellation_device_up{device="reader",state="ok"} 1` + "\n",
		"# TYPE constellation_reader_taps_total counter\nconstellation_reader_taps_total 0\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") || strings.Contains(body, "constellation_sync_") {
		t.Errorf("Content-Type %q; sync metrics without a sync:\n%s", ct, body)
	}
	var h Health
	e.get(t, "/healthz").decode(t, http.StatusOK, &h)
	if h != (Health{Status: "ok", Reader: "ok"}) {
		t.Errorf("health %+v", h)
	}
}

// TestMetricsEscapesLabels: label values are escaped as the format says.
func TestMetricsEscapesLabels(t *testing.T) {
	m := &metricsWriter{}
	m.family("x", "a \\ b\nc", "gauge")
	m.sample("x", 1.5, "k", "q\"\\\n")
	if want := "# HELP x a \\\\ b\\nc\n# TYPE x gauge\nx{k=\"q\\\"\\\\\\n\"} 1.5\n"; m.b.String() != want {
		t.Errorf("got %q, want %q", m.b.String(), want)
	}
}
