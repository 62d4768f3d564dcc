// Package registry is the action registry machinery the OCPP version
// packages (v16, v201, v21) share: an [Action] names an action, says who
// sends its request and gives its payload types, and a [Registry] built
// from a version's action list finds actions by name and decodes their
// payloads with package payload under that version's rules.
package registry

import (
	"encoding/json"
	"reflect"

	"github.com/constellation-ev/constellation/appliance/ocpp/ocppj"
	"github.com/constellation-ev/constellation/appliance/ocpp/payload"
)

// Direction says who sends an action's request.
type Direction uint8

// Directions.
const (
	ChargerToCSMS Direction = 1 << iota
	CSMSToCharger
	Both = ChargerToCSMS | CSMSToCharger
)

// Action describes one OCPP action.
type Action struct {
	Name      string
	Direction Direction
	// Request and Response are the payload struct types. Response is nil
	// for a message sent with SEND (OCPP 2.1), which has no response.
	Request, Response reflect.Type
}

// Call returns the action name, answered with a CALLRESULT: request
// payload Req, response payload Resp.
func Call[Req, Resp any](name string, dir Direction) Action {
	return Action{Name: name, Direction: dir, Request: reflect.TypeFor[Req](), Response: reflect.TypeFor[Resp]()}
}

// Send returns the action name, sent with SEND: request payload Req and
// no response.
func Send[Req any](name string, dir Direction) Action {
	return Action{Name: name, Direction: dir, Request: reflect.TypeFor[Req]()}
}

// Registry is the set of actions of one OCPP version. It is read-only and
// safe for concurrent use.
type Registry struct {
	version ocppj.Version
	actions []Action
	byName  map[string]*Action
}

// New returns the registry of version v's actions, listed in the order
// [Registry.Actions] returns them.
func New(v ocppj.Version, actions []Action) *Registry {
	r := &Registry{version: v, actions: actions, byName: make(map[string]*Action, len(actions))}
	for i := range actions {
		r.byName[actions[i].Name] = &actions[i]
	}
	return r
}

// Version returns the OCPP version whose rules the registry decodes with.
func (r *Registry) Version() ocppj.Version { return r.version }

// Actions lists every action, in the order given to [New]. The caller must
// not modify it.
func (r *Registry) Actions() []Action { return r.actions }

// Lookup returns the action called name.
func (r *Registry) Lookup(name string) (Action, bool) {
	a, ok := r.byName[name]
	if !ok {
		return Action{}, false
	}
	return *a, true
}

// NewRequest returns a pointer to a new zero request payload for action.
func (r *Registry) NewRequest(action string) (any, bool) {
	a, ok := r.byName[action]
	if !ok {
		return nil, false
	}
	return reflect.New(a.Request).Interface(), true
}

// NewResponse returns a pointer to a new zero response payload for action;
// false for an unknown action and for a SEND message.
func (r *Registry) NewResponse(action string) (any, bool) {
	a, ok := r.byName[action]
	if !ok || a.Response == nil {
		return nil, false
	}
	return reflect.New(a.Response).Interface(), true
}

// DecodeRequest decodes the request payload of action; lenient relaxes
// the checks as [payload.Options] says. An unknown action is a
// NotImplemented error, as OCPP-J answers it.
func (r *Registry) DecodeRequest(action string, data json.RawMessage, lenient bool) (any, []string, error) {
	v, ok := r.NewRequest(action)
	if !ok {
		return nil, nil, ocppj.Errorf(ocppj.NotImplemented, "unknown action %q", action)
	}
	return r.decode(v, data, lenient)
}

// DecodeResponse decodes the response payload of action. An unknown action
// or one without a response (SEND) is a NotImplemented error.
func (r *Registry) DecodeResponse(action string, data json.RawMessage, lenient bool) (any, []string, error) {
	v, ok := r.NewResponse(action)
	if !ok {
		if _, known := r.byName[action]; known {
			return nil, nil, ocppj.Errorf(ocppj.NotImplemented, "action %q has no response payload (SEND)", action)
		}
		return nil, nil, ocppj.Errorf(ocppj.NotImplemented, "unknown action %q", action)
	}
	return r.decode(v, data, lenient)
}

func (r *Registry) decode(v any, data json.RawMessage, lenient bool) (any, []string, error) {
	w, err := payload.Decode(data, v, payload.Options{Version: r.version, Lenient: lenient})
	return v, w, err
}
