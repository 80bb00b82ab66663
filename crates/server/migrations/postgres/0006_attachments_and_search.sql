-- Files sent with messages (issue 12). A row per upload; the bytes live in the
-- file store under `files/<sha256>`, so the same file uploaded twice is kept
-- once. `message_id` is NULL until the upload is sent; unsent uploads are
-- deleted after a day.
CREATE TABLE attachments (
    id BIGSERIAL PRIMARY KEY,
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    uploader_kind TEXT NOT NULL,          -- visitor | operator | email
    uploader_id BIGINT,
    has_thumbnail BIGINT NOT NULL DEFAULT 0,
    message_id BIGINT REFERENCES messages(id),
    position BIGINT NOT NULL DEFAULT 0,  -- order within the message
    created_at BIGINT NOT NULL
);
CREATE INDEX attachments_message ON attachments(message_id, position);
CREATE INDEX attachments_unsent ON attachments(created_at) WHERE message_id IS NULL;
CREATE INDEX attachments_sha256 ON attachments(sha256);

-- How many attachments a message has, so that the many messages without any
-- cost no extra lookup.
ALTER TABLE messages ADD COLUMN attachment_count BIGINT NOT NULL DEFAULT 0;

-- Search: each message's words reduced to their stems (Russian and English,
-- computed in Rust so both stores behave alike), matched with the 'simple'
-- configuration, which takes the stems as they are; the same for visitors'
-- names and emails. Messages stored before this migration are indexed by the
-- server in the background (`services::search::backfill`).
CREATE TABLE message_search (
    message_id BIGINT PRIMARY KEY,
    terms TSVECTOR NOT NULL
);
CREATE INDEX message_search_terms ON message_search USING GIN (terms);
CREATE TABLE visitor_search (
    visitor_id BIGINT PRIMARY KEY,
    terms TSVECTOR NOT NULL
);
CREATE INDEX visitor_search_terms ON visitor_search USING GIN (terms);
