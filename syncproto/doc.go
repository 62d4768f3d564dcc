// Package syncproto is the one contract between a site's appliance and the
// watchtower cloud: MQTT topics, message types, their encoding, the
// version rules and the idempotency keys. Both sides import it; it imports
// neither.
//
// # Topics
//
// Every topic is cst/v1/{site}/{up|down}/{kind}: up is published by the
// site's appliance only, down by the cloud only, and brokers confine each
// appliance to its own site ([ApplianceMayPublish],
// [ApplianceMaySubscribe]). The appliance subscribes to
// cst/v1/{site}/down/+; cloud replicas share cst/v1/+/up/+
// ($share/{group}/... on an external broker).
//
//	up    birth     Birth: a new link session (boot id, bdSeq, applied versions, backlog)
//	up    death     Death: the session's will (same boot id and bdSeq)
//	up    status    ChargerStatus: identity, link and connector states
//	up    tx        Transaction: a session's whole record after an event, with a revision
//	up    readings  Readings: one connector's meter readings, batched in columns
//	up    event     Event: boot, security, firmware, diagnostics, fault
//	up    reported  Reported: what the appliance applied of a desired configuration
//	up    config    ChargerConfig: a charger's configuration (1.6 keys, 2.x variables)
//	up    result    CommandResult: the outcome of a command
//	down  desired   Desired: the site's whole desired configuration, versioned, retained
//	down  auth      AuthList: the authorization list, full or a delta, versioned
//	down  command   Command: a version-neutral command to a charger, with a deadline
//
// # Encoding
//
// A payload is a JSON object (its first byte is '{'), or, when the JSON is
// longer than [CompressAbove] bytes, the byte 0x00 followed by the JSON
// compressed with DEFLATE (RFC 1951). At most [MaxPayload] bytes travel
// and at most [MaxDecoded] bytes are inflated. Times are RFC 3339. Every
// object starts with the [Header] fields:
//
//	{"v":"1.0","site":"depot-7","key":"3f2a9c-1042","ts":"2026-12-04T10:00:00Z", ...}
//
// A Readings batch names each series once and writes each instant as a
// row [offset in ms from start, value per column]:
//
//	{"v":"1.0","site":"depot-7","key":"3f2a9c-1043","ts":"2026-12-04T10:05:00Z",
//	 "charger":"CP1","connector":1,"tx":42,"start":"2026-12-04T10:00:00Z",
//	 "cols":[{"m":"Energy.Active.Import.Register","u":"Wh","c":"Sample.Periodic","l":"Outlet"},
//	         {"m":"Power.Active.Import","u":"W","c":"Sample.Periodic","l":"Outlet"}],
//	 "s":[[0,"100030.8","7412.1"],[15000,"100061.6","7398.4"]]}
//
// Batched over five minutes and deflated, a session's readings cost about
// 4 % of the OCPP-J bytes the charger sent for them (TestSessionBytes).
//
// # Time
//
// A Raspberry Pi has no real-time clock: until NTP has set it, the
// appliance's clock shows the time saved at its last shutdown, hours or
// days behind. A message made then is marked with "unsynced":true
// (Header.Unsynced; left out when false): its "ts" and the times in it
// that the appliance's clock took (an event's "at", a status's
// "lastSeen", a connector's "ts" when the charger gave none) may be
// behind. The charger's own times (a session's start and stop, readings)
// are never marked nor changed:
//
//	{"v":"1.0","site":"depot-7","key":"3f2a9c-1044","ts":"2026-12-01T06:12:00Z","unsynced":true,
//	 "event":"diagnostics","charger":"CP1","at":"2026-12-01T06:12:00Z","code":"Uploaded"}
//
// Once the clock is set, the appliance corrects the records it still
// has queued and sends them unmarked, under the same keys; a record
// sent before stays marked (the cloud applies a key once).
//
// # Versions
//
// Header.Version is "major.minor". A reader accepts every minor version of
// its major and ignores fields it does not know: a new minor version only
// adds optional fields and kinds. Another major version is refused
// ([ErrUnsupportedVersion]) and lives on other topics (cst/v2/...).
//
// # Exactly once over at-least-once
//
// MQTT QoS 1 may deliver a message twice, and the appliance resends what
// the broker did not acknowledge. Every upstream record but birth and
// death carries an idempotency key (Header.Key), stable across resends:
// the cloud applies a record once per (site, key). Records that describe
// a state carry a version of it as well (Transaction.Rev), so a late
// record never overwrites a newer one. Downstream state is whole and
// versioned (Desired, AuthList): after every reconnect the appliance
// announces the versions it has (Birth) and the cloud sends what is newer,
// instead of the appliance trusting queued patches.
package syncproto
