-- A session's readings are read by (site, tx) in time order: the primary key starts
-- with the charger, so without this index each read scans the site's
-- readings.
CREATE INDEX readings_by_tx ON readings (site, tx, at);
