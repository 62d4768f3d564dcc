// Package v201 defines the OCPP 2.0.1 message payloads: a Go type for the
// request and the response of every action in the official OCPP 2.0.1 JSON
// schemas, with the schema constraints declared as struct tags for package
// payload to check, and a registry of actions ([Actions], [Lookup],
// [DecodeRequest], ...).
//
// Everything in messages_gen.go is generated from the schemas by
// tools/ocppgen (see its documentation for the mapping rules); do not edit
// it, run go generate. A test in tools/ocppgen fails when the file is
// stale. As in package v16, Go names follow the schema names: a field is
// the property name capitalised (IdToken, EvseId), a type the schema's
// javaType (IdTokenType → IdToken, BootReasonEnumType → BootReason).
// Optional numbers, booleans and objects are pointers, optional strings,
// enumerations and arrays omitempty, optional date-times omitzero, so
// encoding never emits a property the schema forbids. DataTransfer's data,
// which the schema leaves untyped, is a json.RawMessage. CustomData allows
// vendor properties, as the schemas do: they are accepted and dropped.
package v201

//go:generate go run ../../../tools/ocppgen -schemas ../../../../shared/ocpp-schemas/2.0.1 -pkg v201 -version V201 -out messages_gen.go
