package registrytest

import (
	"errors"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
	"github.com/constellation-ev/constellation/appliance/ocpp/schematest"
)

// FuzzDecode checks, for every action's request and response (picked by
// the input's first byte), that Decode never panics (strict or lenient),
// agrees with the official schema on accept/reject in strict mode, and
// that whatever it accepts encodes (payload.Marshal) to schema-valid JSON.
// Documented deliberate differences are in knownDifference. The examples
// and s.Malformed are the seeds.
func (s Suite) FuzzDecode(f *testing.F) {
	kinds := s.kinds()
	index := map[kind]int{}
	for i, k := range kinds {
		index[k] = i
	}
	for _, ex := range s.examples(f) {
		f.Add(append([]byte{byte(index[ex.kind])}, ex.data...))
	}
	for _, tc := range s.Malformed {
		f.Add(append([]byte{byte(index[kind{tc.Action, tc.Response}])}, tc.Data...))
	}
	schemas := s.schemas(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		k := kinds[int(in[0])%len(kinds)]
		data := in[1:]
		_, _, _ = s.decode(k, data, true) // lenient mode must not panic either
		v, _, err := s.decode(k, data, false)
		var rpc *ocppj.Error
		if err != nil && !errors.As(err, &rpc) {
			t.Fatalf("error is not an *ocppj.Error: %v", err)
		}
		schemaErr := schemaValid(schemas[k.name()], data)
		if (err == nil) != (schemaErr == nil) && !knownDifference(data, rpc) {
			t.Fatalf("%s %q: Decode says %v, schema says %v", k.name(), data, err, schemaErr)
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
		if err := schemaValid(schemas[k.name()], out); err != nil {
			t.Fatalf("%s: accepted %q but encoded schema-invalid %s: %v", k.name(), data, out, err)
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
