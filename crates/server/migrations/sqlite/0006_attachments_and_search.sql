-- Files sent with messages (issue 12). A row per upload; the bytes live in the
-- file store under `files/<sha256>`, so the same file uploaded twice is kept
-- once. `message_id` is NULL until the upload is sent; unsent uploads are
-- deleted after a day.
CREATE TABLE attachments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    uploader_kind TEXT NOT NULL,          -- visitor | operator | email
    uploader_id INTEGER,
    has_thumbnail INTEGER NOT NULL DEFAULT 0,
    message_id INTEGER REFERENCES messages(id),
    position INTEGER NOT NULL DEFAULT 0,  -- order within the message
    created_at INTEGER NOT NULL
);
CREATE INDEX attachments_message ON attachments(message_id, position);
CREATE INDEX attachments_unsent ON attachments(created_at) WHERE message_id IS NULL;
CREATE INDEX attachments_sha256 ON attachments(sha256);

-- How many attachments a message has, so that the many messages without any
-- cost no extra lookup.
ALTER TABLE messages ADD COLUMN attachment_count INTEGER NOT NULL DEFAULT 0;

-- Search: each message's words reduced to their stems (Russian and English,
-- computed in Rust so both stores behave alike), the rowid being the
-- message's id; the same for visitors' names and emails. Contentless: the
-- stems are not stored twice. Messages stored before this migration are
-- indexed by the server in the background (`services::search::backfill`).
CREATE VIRTUAL TABLE message_search USING fts5(
    terms,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 0'
);
CREATE VIRTUAL TABLE visitor_search USING fts5(
    terms,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 0'
);
