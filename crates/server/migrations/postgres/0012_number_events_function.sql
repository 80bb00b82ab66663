-- Numbering the event log (`store::events::sequence`) in one round trip.
-- Every node's hub numbers after each commit it hears of; as separate
-- statements that was a check, BEGIN, the lock, the numbering, COMMIT and a
-- second check, each a trip to the database. In a function they run on the
-- server. It is VOLATILE, so each statement inside takes a fresh snapshot:
-- the numbering reads MAX(pos) only once it holds the lock.
CREATE FUNCTION number_events(OUT numbered BIGINT, OUT held_back BOOLEAN)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(5, 0);
    WITH base AS (SELECT COALESCE(MAX(pos), 0) AS b FROM events),
         todo AS (SELECT seq, row_number() OVER (ORDER BY xid, seq) AS n FROM events
                  WHERE pos IS NULL AND xid < pg_snapshot_xmin(pg_current_snapshot())
                  ORDER BY xid, seq LIMIT 10000)
    UPDATE events SET pos = base.b + todo.n FROM base, todo WHERE events.seq = todo.seq;
    GET DIAGNOSTICS numbered = ROW_COUNT;
    held_back := EXISTS (SELECT 1 FROM events WHERE pos IS NULL);
END
$$;
