// Package sim simulates OCPP 1.6J, 2.0.1 and 2.1 charging stations against
// a CSMS: [Station] is one charger living a scripted life (boot, sessions
// with meter values, heartbeats, offline queueing and replay of
// transaction messages, answers to every CSMS command), [Run] drives a
// fleet of them with progress output, and [Load] is a load generator for
// benchmarks. Stations with the same Options.MeterSeed on [ManualClock]s
// stepped alike live identical sessions, whatever their version.
//
// A station has three layers. The connection (station.go: reconnect with
// backoff, the in-order outbox that keeps transaction messages until the
// CSMS acknowledges them, acknowledgement reporting, statistics) and the
// charger model (charger.go: connectors, the session script, meters,
// authorization cache and local list, reservations, availability,
// charging limits) are version-neutral. The version-specific part sits
// behind two small interfaces: protocol (boot, heartbeat, decoding
// answers, answering CSMS commands) for the connection, and dialect
// (status, authorization and transaction messages) for the charger model.
// v16.go implements them for OCPP 1.6J; v2.go, v2_commands.go and
// v2_devicemodel.go implement them once for OCPP 2.0.1 and 2.1, written
// against the 2.1 types and converted to the 2.0.1 types on the wire.
package sim
