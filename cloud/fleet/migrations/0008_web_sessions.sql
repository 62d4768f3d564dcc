-- Dashboard sign-ins: the SHA-256 of the cookie's secret only, the
-- session's CSRF token, and its absolute and idle limits. Kept in the
-- store, not in a replica's memory, so any replica serves a session and
-- signing out (or a password change) ends it everywhere.
CREATE TABLE web_sessions (
	hash       TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id),
	csrf       TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	last_seen  BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
