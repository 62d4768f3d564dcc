// Package cloudsync is the appliance's side of the edge-cloud sync: a
// durable outbox in the appliance's bbolt file, an MQTT v5 client
// (autopaho) that drains it to the broker, and the handlers of what the
// cloud sends down. The wire format is package syncproto's; docs/sync.md
// describes the whole for operators.
//
// # Upstream: the outbox
//
// The charging service calls [Client.OnChange] inside the bbolt
// transaction of every domain mutation; it maps the change to syncproto
// records (ChargerStatus, Transaction with a per-session revision,
// Readings, Event, ChargerConfig) and appends them to the outbox in that
// same transaction. So whatever a charger was told is stored is also
// queued for the cloud, and nothing relies on the broker or on paho's
// in-memory queue. Each record's idempotency key is the store's random id
// and the record's outbox sequence ("3f2a9c1b0e7d5a48-1042"): it is fixed
// when the record is queued, so every resend, after a reconnect or a
// restart, carries the same key. Token changes are not sent: the cloud
// owns the authorization list.
//
// A record leaves the outbox only after the broker's PUBACK. The drain
// keeps each charger's records in order (one publish per charger in
// flight, a few chargers at once), merges adjacent readings of one
// connector's session into one record, and holds live readings back for
// the readings batch window so that they travel in few, well compressed
// messages; a session's stop and a backlog (records queued before the
// link came up) send them at once. The outbox is bounded: when full, the
// oldest readings are dropped first, then the oldest status, event,
// configuration and reported records; transactions and command results
// are never dropped (the outbox grows past its limit instead). Drops are
// logged and counted in [Status].
//
// With Options.ClockSync, records queued before the appliance's clock is
// synchronised (a Pi has no real-time clock) are marked
// (syncproto.Header.Unsynced), and the stamp's monotonic time is kept
// beside them (store.BucketSyncUnsynced). Once the clock is synchronised,
// Run corrects the ones still queued: their appliance times move by the
// step the clock made, the mark goes, a batch per bbolt transaction. The
// monotonic times of an earlier run are forgotten when the outbox opens:
// its records stay marked.
//
// # The link
//
// One persistent MQTT session (CleanStart false, a week's session expiry)
// reconnects with growing, random waits. Every connection attempt gets a
// new bdSeq, stored, and registers a Death carrying it (and the boot id)
// as its will; after every connect the client subscribes to the site's
// downstream topics (first: the cloud answers the Birth there),
// publishes a Birth with the same pair, the applied desired and
// authorization list versions and the backlog, and drains the outbox.
//
// # Enrollment
//
// Without a password file but with an enrollment token (Options
// EnrollURL, EnrollTokenFile), Run first trades the token at the
// watchtower's POST /api/v1/enroll, and connects only once it has
// credentials; the appliance charges meanwhile and the outbox fills. The
// appliance chooses its password and stores it durably in a pending file
// before it asks, so an attempt that fails in any way, a lost answer or
// a restart included, is retried (growing random waits) with the same
// password, which the watchtower accepts again. On success the pending
// file becomes the password file and the token file is removed; a final
// refusal (400, 401, 403, 410) stops the enrollment. [Status] shows it.
//
// # Downstream
//
// A Desired configuration newer than the one applied is applied (the
// settings the appliance knows: heartbeat_interval, unknown_tokens,
// network, and meter_interval and site_power_limit, which the Client,
// as a connection and boot observer of the CSMS, keeps on the chargers
// as they come and go),
// remembered, and answered with a Reported through the outbox; unknown
// settings are reported as not applied. An AuthList goes into the
// authorization cache (Source "cloud"): a full list replaces the cloud's
// tokens, a delta applies only on top of exactly its base version. A
// Command is executed once (its id is remembered), through the same
// parser as the local API's commands, unless it is past its deadline;
// its CommandResult goes through the outbox. Malformed messages, another
// site's and another version's are logged, counted and change nothing.
package cloudsync
