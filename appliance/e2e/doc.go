// Package e2e holds end-to-end tests of the whole appliance ([app.Run])
// against simulated chargers (tools/chargesim/sim) over real sockets:
//
//   - TestKill (kill_test.go) SIGKILLs the appliance, running as a child
//     process, at random moments while 20 simulated chargers run sessions,
//     and checks that every message that got a CALLRESULT is stored exactly
//     once. CONSTELLATION_KILLS sets the number of kills (default 5; run
//     hundreds in the long run), CONSTELLATION_KILL_SEED the random seed.
//   - TestOCPP16 (ocpp16_test.go) drives every OCPP 1.6 action through a
//     real websocket round trip between a chargesim station and the
//     appliance, sends every command through the local API, and validates
//     every message on the wire against the official schemas in
//     ../shared/ocpp-schemas/1.6 (skipped when that folder is absent).
//
// The package has no non-test code.
//
// [app.Run]: github.com/constellation-ev/constellation/appliance/app.Run
package e2e
