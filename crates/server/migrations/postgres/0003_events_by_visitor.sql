-- A visitor's stream resumes from their own events only.
CREATE INDEX events_visitor ON events(visitor_id, seq);
