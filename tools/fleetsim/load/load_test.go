package load_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/cloudsync/synctest"
	"github.com/constellation-ev/constellation/syncproto"
	"github.com/constellation-ev/constellation/tools/fleetsim/load"
)

// A small fleet against a watchtower: every kind of record is
// acknowledged, none refused, the watchtower stored exactly what it
// acknowledged, and the sites go offline when the fleet disconnects.
func TestStoredWhatWasAcknowledged(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			w, api := startTower(t, e.store(t))
			sites, err := load.Provision(ctx, api, "verify", 3)
			if err != nil {
				t.Fatal(err)
			}
			before, err := api.Counts(ctx, sites)
			if err != nil {
				t.Fatal(err)
			}
			f, err := load.Connect(ctx, load.Config{Broker: "tcp://" + w.MQTTAddr(), Sites: sites, Chargers: 3,
				ReadingsPerSession: 2, SamplesPerReadings: 5, Logger: logger(t)})
			if err != nil {
				t.Fatal(err)
			}
			const records = 300
			res, err := f.Run(ctx, load.Budget{Records: records})
			if err != nil {
				t.Fatal(err)
			}
			t.Log(res)
			if res.Acked != records || res.RefusedTotal() != 0 || res.Failed != 0 || res.LinksLost != 0 {
				t.Fatalf("acked %d of %d, refused %v, failed %d, links lost %v", res.Acked, records, res.Refused, res.Failed, res.Errors)
			}
			for _, k := range []syncproto.Kind{syncproto.KindChargerStatus, syncproto.KindEvent, syncproto.KindTransaction, syncproto.KindReadings} {
				if res.ByKind[k] == 0 {
					t.Errorf("no %s record acknowledged: %v", k, res.ByKind)
				}
			}
			if res.Latency.Count() != records || res.P99 <= 0 || res.PerSecond <= 0 {
				t.Errorf("latency %d samples, p99 %v, rate %v", res.Latency.Count(), res.P99, res.PerSecond)
			}
			if err := load.Verify(ctx, api, before, res); err != nil {
				t.Fatal(err)
			}
			// A second run on the same links carries on the sessions.
			if res, err = f.Run(ctx, load.Budget{Records: records}); err != nil || res.Acked != records {
				t.Fatalf("second run: %v, %v", res, err)
			}
			f.Close()
			wctx, cancel := context.WithTimeout(ctx, guard)
			defer cancel()
			if err := api.WaitOffline(wctx, sites); err != nil {
				t.Fatalf("after the fleet disconnected: %v", err)
			}
		})
	}
}

// Verify notices a watchtower that holds less than was acknowledged.
func TestVerifyNoticesMissingRecords(t *testing.T) {
	w, api := startTower(t, engines[0].store(t))
	sites, err := load.Provision(ctx, api, "missing", 1)
	if err != nil {
		t.Fatal(err)
	}
	before, err := api.Counts(ctx, sites)
	if err != nil {
		t.Fatal(err)
	}
	res, err := load.Run(ctx, load.Config{Broker: "tcp://" + w.MQTTAddr(), Sites: sites, Chargers: 2, ReadingsPerSession: 1,
		SamplesPerReadings: 2, Logger: logger(t)}, load.Budget{Records: 40})
	if err != nil {
		t.Fatal(err)
	}
	res.PerSite[0].Readings++
	res.PerSite[0].Transactions[1] = 1
	if err := load.Verify(ctx, api, before, res); err == nil {
		t.Fatal("a missing reading and session went unnoticed")
	} else {
		t.Log(err)
	}
}

// Wrong credentials are refused at connect, and say which site.
func TestConnectRefused(t *testing.T) {
	w, api := startTower(t, engines[0].store(t))
	sites, err := load.Provision(ctx, api, "refused", 1)
	if err != nil {
		t.Fatal(err)
	}
	sites[0].Password += "x"
	_, err = load.Connect(ctx, load.Config{Broker: "tcp://" + w.MQTTAddr(), Sites: sites, Logger: logger(t)})
	if err == nil {
		t.Fatal("connected with a wrong password")
	}
	t.Log(err)
}

func TestConfigChecked(t *testing.T) {
	for name, cfg := range map[string]load.Config{
		"no sites":          {Broker: "tcp://127.0.0.1:1883"},
		"no port":           {Broker: "tcp://127.0.0.1", Sites: []load.Site{{ID: "a"}}},
		"http":              {Broker: "http://127.0.0.1:1883", Sites: []load.Site{{ID: "a"}}},
		"user in URL":       {Broker: "tcp://u:p@127.0.0.1:1883", Sites: []load.Site{{ID: "a"}}},
		"bad site":          {Broker: "tcp://127.0.0.1:1883", Sites: []load.Site{{ID: "a/b"}}},
		"twice":             {Broker: "tcp://127.0.0.1:1883", Sites: []load.Site{{ID: "a"}, {ID: "a"}}},
		"too many samples":  {Broker: "tcp://127.0.0.1:1883", Sites: []load.Site{{ID: "a"}}, SamplesPerReadings: 5000},
		"negative chargers": {Broker: "tcp://127.0.0.1:1883", Sites: []load.Site{{ID: "a"}}, Chargers: -1},
	} {
		if _, err := load.Connect(ctx, cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The same load runs against an external broker (Mosquitto), credentials
// and all from the caller: nothing stores it there, but the broker
// acknowledges every record.
func TestExternalBroker(t *testing.T) {
	broker := synctest.Broker(t)
	sites := []load.Site{{ID: synctest.Site(t), Password: "any"}, {ID: synctest.Site(t), Password: "any"}}
	res, err := load.Run(ctx, load.Config{Broker: broker, Sites: sites, Chargers: 2, Logger: logger(t)}, load.Budget{Records: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.Acked != 100 || res.RefusedTotal() != 0 || res.Failed != 0 {
		t.Fatalf("%v", res)
	}
}

func TestCredentialsRoundTrip(t *testing.T) {
	in := []load.Site{{ID: "a", Username: "a", Password: "p1"}, {ID: "b", Username: "user-b", Password: "p2"}}
	var b bytes.Buffer
	if err := load.WriteCredentials(&b, in); err != nil {
		t.Fatal(err)
	}
	out, err := load.ReadCredentials(&b)
	if err != nil || len(out) != 2 || out[0] != in[0] || out[1] != in[1] {
		t.Fatalf("%+v %v", out, err)
	}
	if _, err := load.ReadCredentials(strings.NewReader("a\n")); err == nil {
		t.Fatalf("a line without a password: %v", err)
	}
}

// guard bounds waits for the watchtower: a test that waits longer has hung.
const guard = 2 * time.Minute
