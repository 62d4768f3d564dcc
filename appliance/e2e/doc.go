// Package e2e holds end-to-end tests of the whole appliance ([app.Run])
// against simulated chargers (tools/chargesim/sim) over real sockets. The
// interactive tests connect the stations through a proxy that records
// every frame, and validate every frame against the official schemas in
// ../shared/ocpp-schemas (skipped when that folder is absent):
//
//   - TestOCPP16 (ocpp16_test.go) drives every OCPP 1.6 action through a
//     real websocket round trip between a chargesim station and the
//     appliance, sends every command through the local API, and checks
//     the effects through the API.
//   - TestOCPP2 (ocpp2_test.go) does the same for OCPP 2.0.1 and 2.1 (a
//     subtest each): every charger message and command of the 2.x list
//     (TransactionEvent Started, Updated and Ended, NotifyReport,
//     NotifyEvent, GetBaseReport, Get/SetVariables, smart charging, 2.1's
//     periodic event stream with its SEND frames, ...), as OCPP requests
//     and as the version-neutral commands (remote-start, remote-stop,
//     get- and set-configuration, reset). Each session's record is
//     compared with the TransactionEvents the station got acknowledged
//     (EVSE, token, times, meter start and stop, stop reason, version
//     tag, every meter value as a reading); the device model, the
//     configuration, connector states and reservations are checked too.
//   - TestMixedSite (mixed_test.go) runs a 1.6, a 2.0.1 and a 2.1 station
//     on one appliance at once, each living the same session (one meter
//     seed, manual clocks stepped alike), and checks that the three
//     stored sessions are the same record apart from ids, charger,
//     version tag and 2.x-only fields, with the same readings and energy.
//   - TestKill and TestKill201 (kill_test.go) SIGKILL the appliance,
//     running as a child process, at random moments while 20 simulated
//     chargers (1.6, or 2.0.1 with TransactionEvents) run sessions, and
//     check that every transaction message that got a CALLRESULT is
//     stored exactly once: sessions, stops, 2.x sequence numbers, meter
//     readings. CONSTELLATION_KILLS sets the number of kills of each
//     (default 5; run hundreds in the long run), CONSTELLATION_KILL_SEED
//     the random seed.
//   - TestSyncKill (sync_kill_test.go) does the same with the sync to a
//     watchtower (in the test process, embedded broker, SQLite) live:
//     after the kills and a last run that empties the outbox, every
//     acknowledged session and reading is in the cloud exactly once, and
//     the cloud holds what the appliance stored.
//
// The package has no non-test code.
//
// [app.Run]: github.com/constellation-ev/constellation/appliance/app.Run
package e2e
