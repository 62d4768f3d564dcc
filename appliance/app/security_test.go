package app_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/config"
	"github.com/constellation-ev/constellation/appliance/internal/testpki"
	"github.com/constellation-ev/constellation/appliance/ocpp/security"
	"github.com/constellation-ev/constellation/tools/chargesim/sim"
)

// TestSecurityProfiles runs one chargesim station per security profile
// against the whole appliance, with its plain and TLS listeners, and checks
// that each completed a stored session.
func TestSecurityProfiles(t *testing.T) {
	const pw1, pw2 = "profile-one-password-1", "profile-two-password-2"
	pki := testpki.New(t)
	dir := t.TempDir()
	serverCert, serverKey := testpki.Write(t, dir, "server", pki.Server)
	a := startAppliance(t, func(c *config.Config) {
		c.OCPP.UnknownChargers = "reject"
		c.OCPP.TLSAddr = "127.0.0.1:0"
		c.OCPP.TLSCert, c.OCPP.TLSKey = serverCert, serverKey
		c.OCPP.ClientCA = pki.WriteCA(t, dir)
		c.OCPP.Chargers = []config.Charger{
			{ID: "P0", SecurityProfile: 0},
			{ID: "P1", SecurityProfile: 1, PasswordHash: hashOf(t, pw1)},
			{ID: "P2", SecurityProfile: 2, PasswordHash: hashOf(t, pw2)},
			{ID: "P3", SecurityProfile: 3},
		}
	})
	plain := "ws://" + a.addrs.OCPP + "/ocpp"
	secure := "wss://" + a.addrs.OCPPTLS + "/ocpp"
	clientCert := pki.Issue(t, "P3", x509.ExtKeyUsageClientAuth)
	stations := []sim.Options{
		{ID: "P0", URL: sim.StationURL(plain, "P0")},
		{ID: "P1", URL: sim.StationURL(plain, "P1"), Password: pw1},
		{ID: "P2", URL: sim.StationURL(secure, "P2"), Password: pw2, TLSConfig: &tls.Config{RootCAs: pki.Pool}},
		{ID: "P3", URL: sim.StationURL(secure, "P3"), TLSConfig: &tls.Config{RootCAs: pki.Pool, Certificates: []tls.Certificate{clientCert}}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := make(chan error, len(stations))
	for _, o := range stations {
		o.Connectors, o.Sessions, o.Pause = 1, 1, -1
		o.MeterInterval, o.SessionLength = 20*time.Millisecond, 60*time.Millisecond
		o.ReconnectMax = 100 * time.Millisecond
		st, err := sim.NewStation(o)
		if err != nil {
			t.Fatal(err)
		}
		go func() { errs <- st.Run(ctx) }()
	}
	for range stations {
		if err := <-errs; err != nil {
			t.Fatalf("station: %v", err)
		}
	}
	for _, o := range stations {
		var list struct {
			Transactions []struct {
				ChargerID   string `json:"chargerId"`
				MeterStopWh *int64 `json:"meterStopWh"`
			} `json:"transactions"`
		}
		getJSON(t, a.api+"/api/v1/transactions?charger="+o.ID, &list)
		if len(list.Transactions) != 1 || list.Transactions[0].MeterStopWh == nil {
			t.Errorf("%s: stored transactions %+v, want one stopped session", o.ID, list.Transactions)
		}
	}
}

func hashOf(t *testing.T, pw string) string {
	t.Helper()
	h, err := security.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// getText GETs url, which must answer 200, and returns the body.
func getText(t *testing.T, url string) string {
	t.Helper()
	status, body := getPage(t, url)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, status, body)
	}
	return body
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
