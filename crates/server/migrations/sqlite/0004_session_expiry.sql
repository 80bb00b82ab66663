-- Sessions expire when idle (last_seen_at) and at an absolute age (created_at).
-- Existing sessions count as seen when this migration runs.
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000;
-- The retention sweep looks for silent visitors and old events by age.
CREATE INDEX visitors_last_seen ON visitors(last_seen_at);
CREATE INDEX events_created ON events(created_at);
