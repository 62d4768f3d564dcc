package v2

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/constellation-ev/constellation/appliance/charging"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/schematest"
	"github.com/constellation-ev/constellation/appliance/ocpp/v201"
	"github.com/constellation-ev/constellation/appliance/ocpp/v21"
	"github.com/constellation-ev/constellation/appliance/store"
)

type fuzzTarget struct {
	v      ocppj.Version
	action string
}

// fuzzTargets are every charger-to-CSMS action of both registries, and an
// unknown one, per version; FuzzHandle picks one with its first byte.
func fuzzTargets() []fuzzTarget {
	var ts []fuzzTarget
	for _, a := range v201.Actions {
		if a.Direction&v201.ChargerToCSMS != 0 {
			ts = append(ts, fuzzTarget{ocppj.V201, a.Name})
		}
	}
	for _, a := range v21.Actions {
		if a.Direction&v21.ChargerToCSMS != 0 {
			ts = append(ts, fuzzTarget{ocppj.V21, a.Name})
		}
	}
	return append(ts, fuzzTarget{ocppj.V201, "Teleport"}, fuzzTarget{ocppj.V21, "Teleport"})
}

var knownCodes = map[ocppj.ErrorCode]bool{
	ocppj.NotImplemented: true, ocppj.NotSupported: true, ocppj.FormatViolation: true,
	ocppj.PropertyConstraintViolation: true, ocppj.OccurrenceConstraintViolation: true,
	ocppj.TypeConstraintViolation: true, ocppj.RPCFrameworkError: true,
}

// FuzzHandle feeds every charger-to-CSMS action of 2.0.1 and 2.1, strict and
// lenient, to the adapters on a real domain: Handle never panics, every
// error is an *ocppj.Error with a code a charger may be answered with (the
// domain and the store do not fail here, so there is no internal error to
// excuse), and every answer is valid against the version's official
// schema.
func FuzzHandle(f *testing.F) {
	targets := fuzzTargets()
	for i, tg := range targets {
		if tg.action == "Teleport" {
			f.Add([]byte{byte(i), 0}, []byte(`{}`))
			continue
		}
		for _, full := range []bool{false, true} {
			f.Add([]byte{byte(i), 0}, schematest.Example(f, tg.v, tg.action, false, full))
		}
	}
	for i, tg := range targets {
		switch tg.action {
		case "TransactionEvent":
			f.Add([]byte{byte(i), 1}, []byte(`{"eventType":"Ended","timestamp":"2025-06-01T12:00:00Z","triggerReason":"Trigger","seqNo":3,`+
				`"transactionInfo":{"transactionId":"F"},"evse":{"id":1,"connectorId":2},"idToken":{"idToken":"","type":"NoAuthorization"},`+
				`"meterValue":[{"timestamp":"2025-06-01T12:00:00Z","sampledValue":[{"value":1e308,"unitOfMeasure":{"unit":"kWh","multiplier":3}}]}]}`))
		case "NotifyReport":
			f.Add([]byte{byte(i), 1}, []byte(`{"requestId":1,"generatedAt":"2025-06-01T12:00:00Z","seqNo":0,"reportData":[`+
				`{"component":{"name":"C","evse":{"id":0,"connectorId":1}},"variable":{"name":"V"},"variableAttribute":[{"value":"x"}]}]}`))
		case "StatusNotification":
			f.Add([]byte{byte(i), 0}, []byte(`{"timestamp":"0000-01-01T00:00:00+01:00","connectorStatus":"Available","evseId":-1,"connectorId":1}`))
		}
	}
	db, err := store.Open(filepath.Join(f.TempDir(), "db"), store.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = db.Close() })
	svc, err := charging.NewService(context.Background(), db, charging.Config{
		Clock:  charging.NewFakeClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)),
		Policy: charging.PolicyConfig{Default: charging.AuthPolicy{Mode: charging.PolicyOpen}},
	})
	if err != nil {
		f.Fatal(err)
	}
	adapters := map[ocppj.Version]*Adapter{}
	for _, v := range []ocppj.Version{ocppj.V201, ocppj.V21} {
		adapters[v], err = NewAdapter(v, Options{Domain: svc, Lenient: func(id string) bool { return id == "LAX" }})
		if err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, sel, data []byte) {
		if len(sel) < 2 {
			return
		}
		tg := targets[int(sel[0])%len(targets)]
		charger := "STRICT"
		if sel[1]&1 != 0 {
			charger = "LAX"
		}
		resp, err := adapters[tg.v].Handle(context.Background(), charger, tg.action, json.RawMessage(data))
		if err != nil {
			var oe *ocppj.Error
			if !errors.As(err, &oe) {
				t.Fatalf("%s %s %q: error is not an *ocppj.Error: %v", tg.v, tg.action, data, err)
			}
			if !knownCodes[oe.Code] {
				t.Fatalf("%s %s %q: answered %s", tg.v, tg.action, data, oe)
			}
			return
		}
		if err := schematest.Check(t, tg.v, tg.action, true, resp); err != nil {
			t.Fatalf("%s %s %q: answer %s is not schema-valid: %v", tg.v, tg.action, data, resp, err)
		}
	})
}
