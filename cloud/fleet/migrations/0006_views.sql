-- The fleet views (issue 8): what the dashboard and the API's views read
-- and the indexes they need on a fleet of 10,000 sites and 1,000,000
-- sessions.

-- Every connector status applied, appended (a connector's latest stays in
-- connectors). A resent record adds nothing: a connector has each status
-- once a millisecond (chargers stamp to the second, so Preparing and
-- Charging may share one). The key starts with (site, charger, at): a
-- charger's history, newest first, is a backward range scan of it.
CREATE TABLE status_history (
	site       TEXT NOT NULL,
	charger    TEXT NOT NULL,
	at         BIGINT NOT NULL,
	connector  BIGINT NOT NULL,
	status     TEXT NOT NULL,
	error_code TEXT NOT NULL,
	info       TEXT NOT NULL,
	PRIMARY KEY (site, charger, at, connector, status)
);

-- Per connector, the latest active power (W) and energy register (Wh)
-- applied, each with its time and session: updated with the readings,
-- a value replaced only by one of a later time. An energy_at of 0: no
-- energy register seen yet.
CREATE TABLE live_power (
	site      TEXT NOT NULL,
	charger   TEXT NOT NULL,
	connector BIGINT NOT NULL,
	power_w   BIGINT NOT NULL,
	power_at  BIGINT NOT NULL,
	power_tx  BIGINT NOT NULL,
	energy_wh BIGINT NOT NULL,
	energy_at BIGINT NOT NULL,
	energy_tx BIGINT NOT NULL,
	PRIMARY KEY (site, charger, connector)
);

-- Sessions newest first (start_at, site, id) across the fleet, of a site,
-- of an id tag; of a charger: transactions_charger (0001). Open sessions
-- (a few per site at most) have an index of their own, for the chargers
-- in use.
CREATE INDEX transactions_start ON transactions (start_at, site, id);
CREATE INDEX transactions_site_start ON transactions (site, start_at, id);
CREATE INDEX transactions_id_tag ON transactions (id_tag, start_at, site, id);
CREATE INDEX transactions_open ON transactions (site, charger, id) WHERE stop_at = 0;

-- A site's and a charger's commands, newest first.
CREATE INDEX commands_site_created ON commands (site, created_at, id);
CREATE INDEX commands_charger_created ON commands (site, charger, created_at, id);

-- A site's tariff: the price of a kWh in millionths of the currency's
-- unit (NULL: no price), and its ISO 4217 code. Integer micro-units are
-- exact, multiply as integers on both engines (SQLite has no decimal
-- type), and six decimals are finer than any tariff.
ALTER TABLE sites ADD COLUMN price_per_kwh BIGINT;
ALTER TABLE sites ADD COLUMN currency TEXT NOT NULL DEFAULT '';

-- A site's latest event of a kind (its network report, say).
CREATE INDEX events_site_event ON events (site, event, at);
