-- Times an appliance took before its clock was synchronised (syncproto
-- Header.Unsynced: a Raspberry Pi has no real-time clock) stay marked
-- where they are stored: an event's at, a charger's last_seen and
-- updated_at. A transaction's record keeps the mark as it came.
ALTER TABLE events ADD COLUMN unsynced BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE chargers ADD COLUMN unsynced BOOLEAN NOT NULL DEFAULT FALSE;
