package v21

import (
	"errors"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/internal/schematest"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
)

// fuzzTarget is a payload kind FuzzDecodeV21 picks with its first byte.
type fuzzTarget struct {
	action   string
	response bool
}

func (tg fuzzTarget) name() string {
	if tg.response {
		return tg.action + "Response"
	}
	return tg.action
}

func fuzzTargets() []fuzzTarget {
	var ts []fuzzTarget
	for _, a := range Actions {
		ts = append(ts, fuzzTarget{a.Name, false})
		if a.Response != nil {
			ts = append(ts, fuzzTarget{a.Name, true})
		}
	}
	return ts
}

// FuzzDecodeV21 checks, for every action's request and response, that
// Decode never panics (strict or lenient), agrees with the official schema
// on accept/reject in strict mode, and that whatever it accepts encodes
// (payload.Marshal) to schema-valid JSON. Documented deliberate
// differences are in knownDifference.
func FuzzDecodeV21(f *testing.F) {
	targets := fuzzTargets()
	index := map[fuzzTarget]int{}
	for i, tg := range targets {
		index[tg] = i
	}
	for _, ex := range examples(f) {
		f.Add(append([]byte{byte(index[fuzzTarget{ex.action, ex.response}])}, ex.data...))
	}
	for _, tc := range malformed {
		f.Add(append([]byte{byte(index[fuzzTarget{tc.action, tc.response}])}, tc.data...))
	}
	schemas := officialSchemas(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		tg := targets[int(in[0])%len(targets)]
		data := in[1:]
		decode := DecodeRequest
		if tg.response {
			decode = DecodeResponse
		}
		_, _, _ = decode(tg.action, data, true) // lenient mode must not panic either
		v, _, err := decode(tg.action, data, false)
		var rpc *ocppj.Error
		if err != nil && !errors.As(err, &rpc) {
			t.Fatalf("error is not an *ocppj.Error: %v", err)
		}
		schemaErr := schemaValid(schemas[tg.name()], data)
		if (err == nil) != (schemaErr == nil) && !knownDifference(data, rpc) {
			t.Fatalf("%s %q: Decode says %v, schema says %v", tg.name(), data, err, schemaErr)
		}
		if err != nil {
			return
		}
		out, mErr := payload.Marshal(v)
		if mErr != nil {
			// Only a date-time whose UTC year leaves 0000-9999 cannot be encoded.
			if !strings.Contains(mErr.Error(), "year") {
				t.Fatalf("Marshal: %v", mErr)
			}
			return
		}
		if err := schemaValid(schemas[tg.name()], out); err != nil {
			t.Fatalf("%s: accepted %q but encoded schema-invalid %s: %v", tg.name(), data, out, err)
		}
	})
}

// knownDifference reports the deliberate differences from the schema, where
// Decode rejects what the schema accepts:
//   - duplicate properties are a FormatViolation (the schema's JSON reader
//     keeps the last one);
//   - integers beyond int64 and numbers beyond float64 are out of range;
//   - date-times with a leap second (ss=60) are rejected, as are the forms
//     the validator's loose parsing accepts (e.g. "+1" as an hour).
func knownDifference(data []byte, err *ocppj.Error) bool {
	if err == nil {
		return false
	}
	d := err.Description
	switch {
	case err.Code == ocppj.FormatViolation && strings.Contains(d, "duplicate field"):
		return true
	case strings.Contains(d, "out of range"), strings.Contains(d, "invalid date-time"):
		return true
	}
	return schematest.HasDuplicateKeys(data)
}
