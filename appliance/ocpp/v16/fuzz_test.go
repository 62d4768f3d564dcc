package v16

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/schematest"
)

// fuzzTargets are the payload kinds FuzzDecodeV16 picks from with its first byte.
type fuzzTarget struct {
	action   string
	response bool
}

func fuzzTargets() []fuzzTarget {
	var ts []fuzzTarget
	for _, a := range Actions {
		ts = append(ts, fuzzTarget{a.Name, false}, fuzzTarget{a.Name, true})
	}
	return ts
}

// FuzzDecodeV16 checks that strict Decode never panics and agrees with the
// official schema on accept/reject, and that whatever it accepts encodes
// back to schema-valid JSON. Documented deliberate differences are in
// knownDifference.
func FuzzDecodeV16(f *testing.F) {
	targets := fuzzTargets()
	for i, tg := range targets {
		ex := examples[tg.action][0]
		if tg.response {
			ex = examples[tg.action][1]
		}
		f.Add(append([]byte{byte(i)}, ex...))
	}
	for _, tc := range malformed {
		for i, tg := range targets {
			if tg.action == tc.Action && tg.response == tc.Response {
				f.Add(append([]byte{byte(i)}, tc.Data...))
			}
		}
	}
	schemas := officialSchemas(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		tg := targets[int(in[0])%len(targets)]
		data := in[1:]
		decode, name := DecodeRequest, tg.action
		if tg.response {
			decode, name = DecodeResponse, name+"Response"
		}
		// Lenient mode must not panic either.
		_, _, _ = decode(tg.action, data, true)
		v, _, err := decode(tg.action, data, false)
		var rpc *ocppj.Error
		if err != nil && !errors.As(err, &rpc) {
			t.Fatalf("error is not an *ocppj.Error: %v", err)
		}
		schemaErr := schemaValid(schemas[name], data)
		if (err == nil) != (schemaErr == nil) && !knownDifference(tg, data, rpc) {
			t.Fatalf("%s %q: Decode says %v, schema says %v", name, data, err, schemaErr)
		}
		if err != nil {
			return
		}
		out, mErr := json.Marshal(v)
		if mErr != nil {
			// Only a date-time whose UTC year leaves 0000-9999 cannot be encoded.
			if !strings.Contains(mErr.Error(), "year") {
				t.Fatalf("Marshal: %v", mErr)
			}
			return
		}
		if err := schemaValid(schemas[name], out); err != nil && !knownDifference(tg, out, nil) {
			t.Fatalf("%s: accepted %q but encoded schema-invalid %s: %v", name, data, out, err)
		}
	})
}

// knownDifference reports the deliberate differences from the schema:
//   - duplicate properties are a FormatViolation (the schema's JSON reader
//     keeps the last one);
//   - integers and numbers beyond int64/float64 are out of range;
//   - date-times with a leap second (ss=60) are rejected, as are the forms
//     the validator's loose strconv.Atoi accepts (e.g. "+1" as an hour);
//   - StopTransaction.transactionData uses MeterValues' MeterValue: at least
//     one sampledValue (as the spec says) and unit "Hertz" allowed.
func knownDifference(tg fuzzTarget, data []byte, err *ocppj.Error) bool {
	if err != nil {
		d := err.Description
		switch {
		case err.Code == ocppj.FormatViolation && strings.Contains(d, "duplicate field"):
			return true
		case strings.Contains(d, "out of range"), strings.Contains(d, "invalid date-time"):
			return true
		case tg.action == "StopTransaction" && strings.Contains(d, "transactionData") && strings.Contains(d, "minItems"):
			return true
		}
		return schematest.HasDuplicateKeys(data)
	}
	return tg.action == "StopTransaction" && bytes.Contains(data, []byte("Hertz"))
}
