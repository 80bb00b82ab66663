-- A batch of visitors' messages written in one round trip, as a statement of
-- its own (`postgres_sends`): one implicit transaction, committed when the
-- call returns.
--
-- Before, a batch was an explicit transaction of four round trips (BEGIN
-- with the visitors' locks, the insert, the summaries with search terms and
-- events, COMMIT), six with first messages. Between them the node and
-- PostgreSQL each waited to be scheduled again, on two cores they share with
-- everything else, and from its insert to its commit the transaction held
-- back the numbering of every later commit on every node (`number_events`
-- numbers only what is older than every transaction still open). Now the
-- writer reads what it needs first (ids from the sequences, each visitor's
-- latest conversation, without locks or a transaction id) and builds the
-- messages' events itself; this call takes the locks, checks that what was
-- read still holds, and writes.
--
-- `sends`: a JSON array of {k, lock_class, lock_id, visitor_id,
-- conversation_id, opens, id, client_id, body, terms, data, opened}: the
-- message `id` (from `messages_id_seq`), into the visitor's open
-- conversation `conversation_id`, or (`opens`) into a new one with that id
-- (from `conversations_id_seq`); `data` is the `message.created` event's,
-- `opened` the `conversation.created` event's for a new conversation.
--
-- Returns the `k` of each send written. A send is left out, for the general
-- path, when another transaction holds its visitor's lock, when its visitor's
-- latest conversation is no longer the one read (or no longer open, or now
-- exists when it was to open one), when a message with a higher id reached
-- that conversation in between (its id was taken before the lock: written
-- after that message it would come after it in the log but before it in the
-- conversation, and the summary and the operators' read marks would go
-- back), when the visitor is gone, or when the visitor already sent its
-- `client_id` (a retry).
CREATE FUNCTION store_visitor_sends(sends JSON, now BIGINT,
                                    conversation_created TEXT, message_created TEXT)
RETURNS SETOF INT
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    held INT[];
BEGIN
    -- Without waiting: a visitor whose lock is held elsewhere would hold up
    -- the whole batch.
    SELECT COALESCE(array_agg(s.k), '{}') INTO held
    FROM json_to_recordset(sends) AS s(k INT, lock_class INT, lock_id INT)
    WHERE pg_try_advisory_xact_lock(s.lock_class, s.lock_id);

    -- A statement of its own: its snapshot is taken under the locks, so what
    -- it checks cannot change before the commit. Each lookup goes through
    -- its index row by row (LATERAL … LIMIT 1): PostgreSQL guesses a hundred
    -- rows for json_to_recordset, and joined plainly it hashed whole tables.
    RETURN QUERY
    WITH s AS MATERIALIZED (
        SELECT s.*
        FROM json_to_recordset(sends) AS s(k INT, visitor_id BIGINT, conversation_id BIGINT,
                                          opens BOOLEAN, id BIGINT, client_id TEXT, body TEXT,
                                          terms TEXT, data TEXT, opened TEXT)
        CROSS JOIN LATERAL (SELECT 1 FROM visitors v WHERE v.id = s.visitor_id LIMIT 1) known
        LEFT JOIN LATERAL (SELECT c.id, c.status, c.last_message_id FROM conversations c
                           WHERE c.visitor_id = s.visitor_id ORDER BY c.id DESC LIMIT 1) latest ON true
        LEFT JOIN LATERAL (SELECT 1 AS one FROM messages m
                           WHERE m.author_kind = 'visitor' AND m.author_id = s.visitor_id
                             AND m.client_id = s.client_id LIMIT 1) sent ON true
        WHERE s.k = ANY (held)
          AND sent.one IS NULL
          AND CASE WHEN s.opens THEN latest.id IS NULL
                   ELSE latest.id = s.conversation_id AND latest.status = 'open'
                        AND s.id > COALESCE(latest.last_message_id, 0) END
    ),
    opened AS (
        INSERT INTO conversations (id, visitor_id, status, created_at, updated_at,
                                   last_message_id, first_visitor_at)
        SELECT s.conversation_id, s.visitor_id, 'open', now, now, s.id, now
        FROM s WHERE s.opens ORDER BY s.k
    ),
    inserted AS (
        INSERT INTO messages (id, conversation_id, client_id, author_kind, author_id, body,
                              channel, created_at, attachment_count)
        SELECT s.id, s.conversation_id, s.client_id, 'visitor', s.visitor_id, s.body,
               'chat', now, 0
        FROM s ORDER BY s.k
    ),
    recorded AS (
        UPDATE conversations c
        SET last_message_id = s.id, updated_at = GREATEST(c.updated_at, now),
            first_visitor_at = COALESCE(c.first_visitor_at, now)
        FROM s
        WHERE NOT s.opens AND c.id = s.conversation_id
          AND c.id = ANY (ARRAY(SELECT conversation_id FROM s WHERE NOT opens))
    ),
    indexed AS (
        INSERT INTO message_search (message_id, terms)
        SELECT s.id, strip(to_tsvector('simple', s.terms)) FROM s
    ),
    logged AS (
        INSERT INTO events (name, conversation_id, visitor_id, data, created_at)
        SELECT e.name, s.conversation_id, s.visitor_id, e.data, now
        FROM s CROSS JOIN LATERAL (VALUES (1, conversation_created, s.opened),
                                          (2, message_created, s.data)) AS e(o, name, data)
        WHERE e.data IS NOT NULL
        ORDER BY s.k, e.o
    )
    SELECT s.k FROM s ORDER BY s.k;
END
$$;

-- One plan for every call, and one without sequential scans. Left to
-- choose, PostgreSQL planned the write afresh on more than half of the calls
-- (0.45 ms a plan, counted with pg_stat_statements under load, about as long
-- as the write itself): with the values at hand a plan looks cheaper than
-- the generic one, which has to guess how many sends hold their lock. And a
-- plan made while the tables are small (a new install) must not scan them
-- once they are large, until the next ANALYZE replans it (see migration
-- 0014): each lookup has its index, reached row by row (LATERAL … LIMIT 1).
ALTER FUNCTION store_visitor_sends(JSON, BIGINT, TEXT, TEXT)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION store_visitor_sends(JSON, BIGINT, TEXT, TEXT)
    SET enable_seqscan = off;
