-- The fleet's register of RFID id tokens (OCPP idTag / idToken): who a
-- token belongs to, its status and expiry, and the sites it works at
-- (all_sites: every site, those created later too). The register is
-- the source of the sites' authorization lists (auth_entries), which
-- every change to it updates in its own transaction.
CREATE TABLE id_tokens (
	id_tag     TEXT PRIMARY KEY,
	owner      TEXT NOT NULL DEFAULT '',
	note       TEXT NOT NULL DEFAULT '',
	status     TEXT NOT NULL,
	expiry     BIGINT NOT NULL DEFAULT 0,
	parent     TEXT NOT NULL DEFAULT '',
	all_sites  BOOLEAN NOT NULL DEFAULT FALSE,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);

CREATE TABLE id_token_sites (
	id_tag TEXT NOT NULL REFERENCES id_tokens (id_tag),
	site   TEXT NOT NULL REFERENCES sites (id),
	PRIMARY KEY (id_tag, site)
);
CREATE INDEX id_token_sites_site ON id_token_sites (site, id_tag);
