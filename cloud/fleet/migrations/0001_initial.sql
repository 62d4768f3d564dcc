-- The fleet store's first schema. Times are Unix milliseconds (BIGINT),
-- flags BOOLEAN, JSON documents TEXT: the same DDL runs on SQLite and
-- PostgreSQL.

CREATE TABLE sites (
	id              TEXT PRIMARY KEY,
	name            TEXT NOT NULL DEFAULT '',
	password_hash   TEXT NOT NULL DEFAULT '',
	revoked         BOOLEAN NOT NULL DEFAULT FALSE,
	created_at      BIGINT NOT NULL,
	online          BOOLEAN NOT NULL DEFAULT FALSE,
	last_seen       BIGINT NOT NULL DEFAULT 0,
	boot            TEXT NOT NULL DEFAULT '',
	bd_seq          BIGINT NOT NULL DEFAULT 0,
	software        TEXT NOT NULL DEFAULT '',
	backlog         BIGINT NOT NULL DEFAULT 0,
	desired_applied BIGINT NOT NULL DEFAULT 0,
	auth_applied    BIGINT NOT NULL DEFAULT 0,
	auth_version    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE enrollment_tokens (
	hash       TEXT PRIMARY KEY,
	site       TEXT NOT NULL REFERENCES sites (id),
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE applied_keys (
	site       TEXT NOT NULL,
	key        TEXT NOT NULL,
	kind       TEXT NOT NULL,
	applied_at BIGINT NOT NULL,
	PRIMARY KEY (site, key)
);

CREATE TABLE chargers (
	site       TEXT NOT NULL,
	id         TEXT NOT NULL,
	connected  BOOLEAN NOT NULL,
	protocol   TEXT NOT NULL,
	vendor     TEXT NOT NULL,
	model      TEXT NOT NULL,
	serial     TEXT NOT NULL,
	firmware   TEXT NOT NULL,
	last_seen  BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (site, id)
);

CREATE TABLE connectors (
	site       TEXT NOT NULL,
	charger    TEXT NOT NULL,
	id         BIGINT NOT NULL,
	status     TEXT NOT NULL,
	error_code TEXT NOT NULL,
	info       TEXT NOT NULL,
	at         BIGINT NOT NULL,
	PRIMARY KEY (site, charger, id)
);

CREATE TABLE transactions (
	site           TEXT NOT NULL,
	id             BIGINT NOT NULL,
	rev            BIGINT NOT NULL,
	event          TEXT NOT NULL,
	charger        TEXT NOT NULL,
	connector      BIGINT NOT NULL,
	id_tag         TEXT NOT NULL,
	start_at       BIGINT NOT NULL,
	stop_at        BIGINT NOT NULL,
	meter_start_wh BIGINT NOT NULL,
	meter_stop_wh  BIGINT,
	record         TEXT NOT NULL,
	PRIMARY KEY (site, id)
);
CREATE INDEX transactions_charger ON transactions (site, charger, start_at);

CREATE TABLE readings (
	site      TEXT NOT NULL,
	charger   TEXT NOT NULL,
	connector BIGINT NOT NULL,
	tx        BIGINT NOT NULL,
	at        BIGINT NOT NULL,
	measurand TEXT NOT NULL,
	phase     TEXT NOT NULL,
	unit      TEXT NOT NULL,
	context   TEXT NOT NULL,
	location  TEXT NOT NULL,
	format    TEXT NOT NULL,
	value     TEXT NOT NULL,
	PRIMARY KEY (site, charger, connector, tx, at, measurand, phase, unit, context, location, format)
);

CREATE TABLE events (
	site    TEXT NOT NULL,
	key     TEXT NOT NULL,
	event   TEXT NOT NULL,
	charger TEXT NOT NULL,
	at      BIGINT NOT NULL,
	code    TEXT NOT NULL,
	detail  TEXT NOT NULL,
	PRIMARY KEY (site, key)
);

CREATE TABLE desired (
	site       TEXT PRIMARY KEY REFERENCES sites (id),
	version    BIGINT NOT NULL,
	settings   TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);

CREATE TABLE reported (
	site            TEXT PRIMARY KEY,
	desired_version BIGINT NOT NULL,
	applied         BOOLEAN NOT NULL,
	error           TEXT NOT NULL,
	settings        TEXT NOT NULL,
	at              BIGINT NOT NULL
);

CREATE TABLE charger_config (
	site          TEXT NOT NULL,
	charger       TEXT NOT NULL,
	configuration TEXT NOT NULL,
	at            BIGINT NOT NULL,
	PRIMARY KEY (site, charger)
);

-- Removed entries stay as tombstones (removed = TRUE) with the version
-- that removed them, so that a delta from any earlier version can be built.
CREATE TABLE auth_entries (
	site    TEXT NOT NULL REFERENCES sites (id),
	id      TEXT NOT NULL,
	status  TEXT NOT NULL,
	expiry  BIGINT NOT NULL,
	parent  TEXT NOT NULL,
	version BIGINT NOT NULL,
	removed BOOLEAN NOT NULL,
	PRIMARY KEY (site, id)
);

CREATE TABLE commands (
	id         TEXT PRIMARY KEY,
	site       TEXT NOT NULL REFERENCES sites (id),
	charger    TEXT NOT NULL,
	command    TEXT NOT NULL,
	args       TEXT NOT NULL,
	deadline   BIGINT NOT NULL,
	status     TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	action     TEXT NOT NULL DEFAULT '',
	reply      TEXT NOT NULL DEFAULT '',
	error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX commands_site_status ON commands (site, status);
