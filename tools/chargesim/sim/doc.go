// Package sim simulates OCPP charge points against a CSMS: [Station] is one
// charger living a scripted life (boot, sessions with meter values,
// heartbeats, offline queueing and replay of transaction messages, answers
// to every CSMS command), [Run] drives a fleet of them with progress
// output, and [Load] is a load generator for benchmarks.
//
// The connection (reconnect with backoff, the in-order outbox that keeps
// transaction messages until the CSMS acknowledges them, acknowledgement
// reporting, statistics) is version-neutral; the OCPP 1.6J messages and
// command handling live behind the small protocol seam in v16.go, so 2.0.1
// and 2.1 can be added beside it.
package sim
