-- Operators: users with a role and an argon2id password hash (PHC
-- string), their API tokens (SHA-256 of the secret only; a token's role
-- never outranks its owner's), and the audit log of every change and
-- command. Ids are random hex; an audit entry's id starts with its time
-- (hex milliseconds), so ordering by id orders by time and pages on it.
CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE,
	display_name  TEXT NOT NULL DEFAULT '',
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	disabled      BOOLEAN NOT NULL DEFAULT FALSE,
	created_at    BIGINT NOT NULL,
	updated_at    BIGINT NOT NULL
);

CREATE TABLE api_tokens (
	id         TEXT PRIMARY KEY,
	owner      TEXT NOT NULL REFERENCES users (id),
	name       TEXT NOT NULL,
	role       TEXT NOT NULL,
	hash       TEXT NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	last_used  BIGINT NOT NULL DEFAULT 0,
	expires_at BIGINT NOT NULL DEFAULT 0,
	revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_owner ON api_tokens (owner);

CREATE TABLE audit_log (
	id         TEXT PRIMARY KEY,
	at         BIGINT NOT NULL,
	actor      TEXT NOT NULL,
	actor_user TEXT NOT NULL DEFAULT '',
	action     TEXT NOT NULL,
	target     TEXT NOT NULL DEFAULT '',
	outcome    TEXT NOT NULL,
	message    TEXT NOT NULL DEFAULT '',
	request_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_actor_user ON audit_log (actor_user, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
