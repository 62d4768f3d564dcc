package registry_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/constellation-ev/constellation/appliance/ocpp/internal/registrytest"
	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/registry"
)

type pingRequest struct {
	N int `json:"n" ocpp:"required,maximum=9"`
}

type pingResponse struct{}

type streamRequest struct {
	Data string `json:"data,omitempty" ocpp:"maxLength=3"`
}

var reg = registry.New(ocppj.V21, []registry.Action{
	registry.Call[pingRequest, pingResponse]("Ping", registry.Both),
	registry.Send[streamRequest]("Stream", registry.ChargerToCSMS),
})

func TestLookup(t *testing.T) {
	if reg.Version() != ocppj.V21 || len(reg.Actions()) != 2 {
		t.Fatalf("version %s, %d actions", reg.Version(), len(reg.Actions()))
	}
	a, ok := reg.Lookup("Ping")
	if !ok || a.Direction != registry.Both || a.Request != reflect.TypeFor[pingRequest]() || a.Response != reflect.TypeFor[pingResponse]() {
		t.Errorf("Lookup(Ping) = %+v, %v", a, ok)
	}
	if a, ok := reg.Lookup("Stream"); !ok || a.Response != nil || a.Request != reflect.TypeFor[streamRequest]() {
		t.Errorf("Lookup(Stream) = %+v, %v", a, ok)
	}
	if _, ok := reg.Lookup("Nope"); ok {
		t.Error("Lookup found an unknown action")
	}
	if v, ok := reg.NewRequest("Ping"); !ok || reflect.TypeOf(v) != reflect.TypeFor[*pingRequest]() {
		t.Errorf("NewRequest(Ping) = %T, %v", v, ok)
	}
	if v, ok := reg.NewResponse("Ping"); !ok || reflect.TypeOf(v) != reflect.TypeFor[*pingResponse]() {
		t.Errorf("NewResponse(Ping) = %T, %v", v, ok)
	}
	for _, name := range []string{"Stream", "Nope"} {
		if v, ok := reg.NewResponse(name); ok || v != nil {
			t.Errorf("NewResponse(%s) = %T, %v", name, v, ok)
		}
	}
	if _, ok := reg.NewRequest("Nope"); ok {
		t.Error("NewRequest of an unknown action")
	}
}

func TestDecode(t *testing.T) {
	v, w, err := reg.DecodeRequest("Ping", []byte(`{"n":3}`), false)
	if err != nil || len(w) > 0 || v.(*pingRequest).N != 3 {
		t.Errorf("DecodeRequest = %+v, %q, %v", v, w, err)
	}
	if _, _, err := reg.DecodeRequest("Ping", []byte(`{"n":10}`), false); registrytest.Code(err) != ocppj.PropertyConstraintViolation {
		t.Errorf("DecodeRequest of a value over maximum: %v", err)
	}
	// lenient reaches package payload: an over-long string is kept with a warning.
	v, w, err = reg.DecodeRequest("Stream", []byte(`{"data":"abcd"}`), true)
	if err != nil || len(w) != 1 || v.(*streamRequest).Data != "abcd" {
		t.Errorf("lenient DecodeRequest = %+v, %q, %v", v, w, err)
	}
	if _, _, err := reg.DecodeResponse("Ping", []byte(`{}`), false); err != nil {
		t.Errorf("DecodeResponse: %v", err)
	}
	for _, tc := range []struct {
		name, want string
		response   bool
	}{
		{"Nope", `unknown action "Nope"`, false},
		{"Nope", `unknown action "Nope"`, true},
		{"Stream", "no response", true},
	} {
		decode := reg.DecodeRequest
		if tc.response {
			decode = reg.DecodeResponse
		}
		v, _, err := decode(tc.name, []byte(`{}`), false)
		if v != nil || registrytest.Code(err) != ocppj.NotImplemented || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("decoding %s (response %t): %v, %v; want NotImplemented %q", tc.name, tc.response, v, err, tc.want)
		}
	}
}
