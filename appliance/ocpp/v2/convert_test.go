package v2

import (
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
	"github.com/constellation-ev/constellation/appliance/ocpp/schematest"
	"github.com/constellation-ev/constellation/appliance/ocpp/v201"
	"github.com/constellation-ev/constellation/appliance/ocpp/v21"
)

// TestConvertEveryMessage: every 2.0.1 payload, minimal and full, carries
// over to its 2.1 struct and back to a 2.0.1 payload that is still valid
// against the official 2.0.1 schema: the conversion helper loses nothing
// 2.0.1 can say.
func TestConvertEveryMessage(t *testing.T) {
	for _, act := range v201.Actions {
		if _, ok := v21.Lookup(act.Name); !ok {
			t.Errorf("2.0.1 action %s has no 2.1 counterpart", act.Name)
			continue
		}
		for _, response := range []bool{false, true} {
			for _, full := range []bool{false, true} {
				data := schematest.Example(t, ocppj.V201, act.Name, response, full)
				decode, newV21, newV201 := v201.DecodeRequest, v21.NewRequest, v201.NewRequest
				if response {
					decode, newV21, newV201 = v201.DecodeResponse, v21.NewResponse, v201.NewResponse
				}
				src, _, err := decode(act.Name, data, false)
				if err != nil {
					t.Errorf("%s (response %t, full %t): the 2.0.1 example does not decode: %v", act.Name, response, full, err)
					continue
				}
				mid, _ := newV21(act.Name)
				if err := convertIn(act.Name, mid, src); err != nil {
					t.Errorf("%s (response %t, full %t): to 2.1: %v", act.Name, response, full, err)
					continue
				}
				back, _ := newV201(act.Name)
				if err := convert(back, mid); err != nil {
					t.Errorf("%s (response %t, full %t): back to 2.0.1: %v", act.Name, response, full, err)
					continue
				}
				out, err := payload.Marshal(back)
				if err != nil {
					t.Errorf("%s (response %t, full %t): back to 2.0.1 is invalid: %v", act.Name, response, full, err)
					continue
				}
				if err := schematest.Check(t, ocppj.V201, act.Name, response, out); err != nil {
					t.Errorf("%s (response %t, full %t): the round trip is not schema-valid: %v\n%s", act.Name, response, full, err, out)
				}
			}
		}
	}
}
