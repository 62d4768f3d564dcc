-- Readings move from one row per value (an eleven-column text key, most
-- of ingest's cost) to one row per series of an applied Readings record:
-- its column, the time of its first and last value, and its values as a
-- JSON array of [milliseconds after first_at, "value"]. A record of 20
-- samples in two columns writes two rows instead of 40.
--
-- reading_groups holds, per site, charger, connector and session, what
-- writing needs to keep the readings' natural key unique without looking
-- up every value: the latest time stored (a record starting after it
-- overlaps nothing), the series stored (the next seq) and the values
-- stored (the site's count). Its row is also the lock concurrent
-- replicas take before writing a group's series.

CREATE TABLE reading_groups (
	site         TEXT NOT NULL,
	charger      TEXT NOT NULL,
	connector    BIGINT NOT NULL,
	tx           BIGINT NOT NULL,
	last_at      BIGINT NOT NULL,
	series_count BIGINT NOT NULL,
	value_count  BIGINT NOT NULL,
	PRIMARY KEY (site, charger, connector, tx)
);

-- The key starts with (site, tx): a session's readings are read by it.
CREATE TABLE reading_series (
	site      TEXT NOT NULL,
	tx        BIGINT NOT NULL,
	charger   TEXT NOT NULL,
	connector BIGINT NOT NULL,
	seq       BIGINT NOT NULL,
	measurand TEXT NOT NULL,
	phase     TEXT NOT NULL,
	unit      TEXT NOT NULL,
	context   TEXT NOT NULL,
	location  TEXT NOT NULL,
	format    TEXT NOT NULL,
	first_at  BIGINT NOT NULL,
	last_at   BIGINT NOT NULL,
	samples   TEXT NOT NULL,
	PRIMARY KEY (site, tx, charger, connector, seq)
);

INSERT INTO reading_groups (site, charger, connector, tx, last_at, series_count, value_count)
SELECT site, charger, connector, tx, MAX(at), COUNT(*), COUNT(*)
FROM readings GROUP BY site, charger, connector, tx;

-- Each stored value becomes a series of one value. Values are printable
-- (syncproto refuses control characters in them), so escaping the
-- backslash and the quote makes a JSON string.
INSERT INTO reading_series (site, tx, charger, connector, seq, measurand, phase, unit, context, location, format, first_at, last_at, samples)
SELECT site, tx, charger, connector,
	ROW_NUMBER() OVER (PARTITION BY site, charger, connector, tx ORDER BY at, measurand, phase, unit, context, location, format) - 1,
	measurand, phase, unit, context, location, format, at, at,
	'[[0,"' || REPLACE(REPLACE(value, '\', '\\'), '"', '\"') || '"]]'
FROM readings;

DROP TABLE readings;
