// Package fleet is the watchtower's store: the sites and their
// credentials, enrollment tokens, and the cloud's view of every site's
// chargers, connectors, transactions, readings, events and
// configuration, the desired state sent down (configuration,
// authorization list) and the operators' commands.
//
// One schema, in embedded versioned migrations, runs on SQLite (the
// default, pure Go) and PostgreSQL through database/sql; queries are
// written once with '?' placeholders and rebound for PostgreSQL, and the
// few dialect differences live in dialect.go and txqueue.go: applying a
// batch of records queues its statements, which PostgreSQL receives as
// pipelines (two round trips a batch) and multi-row inserts as one array
// per column, and SQLite runs one by one and as VALUES.
//
// Applying upstream records is idempotent: every keyed record is applied
// once per (site, key) (table applied_keys, in the same SQL transaction
// as its effect), a transaction record never replaces one of a higher
// revision, and a reading is stored once per natural key (site, charger,
// connector, session, time, column), its first value staying, so batches
// merged differently on a resend add nothing twice. Readings are stored
// as series, a row per column of a record (readings.go).
//
// Operators (users.go) are users with a role and an argon2id password
// hash (cloud/auth), their API tokens, and the audit log. An audited
// change writes its entry in its own transaction: the caller puts the
// entry in the context (WithAudit) and inTx, the transaction of every
// change, writes it there (PendingAudit).
//
// Secrets (site passwords, enrollment tokens, API tokens) are stored as SHA-256
// hashes: they are 256-bit random values, so a slow password hash would
// add nothing but a cost to every connect.
package fleet
