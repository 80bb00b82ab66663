-- Sessions expire when idle (last_seen_at) and at an absolute age (created_at).
-- Existing sessions count as seen when this migration runs.
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen_at = (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT;
-- The retention sweep looks for silent visitors and old events by age.
CREATE INDEX visitors_last_seen ON visitors(last_seen_at);
CREATE INDEX events_created ON events(created_at);
