-- Switchboard schema, PostgreSQL flavour. Integers are 64-bit; booleans are 0/1;
-- times are milliseconds since the Unix epoch.

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL,
    status TEXT NOT NULL,                 -- invited | active | removed
    password_hash TEXT NOT NULL,
    must_change_password BIGINT NOT NULL DEFAULT 0,
    password_expires_at BIGINT,          -- temporary (emailed) passwords only
    avatar_file TEXT,
    locale TEXT NOT NULL DEFAULT 'en',
    notify_sound BIGINT NOT NULL DEFAULT 1,
    notify_email BIGINT NOT NULL DEFAULT 1,
    away BIGINT NOT NULL DEFAULT 0,
    invited_by BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    mail_from TEXT NOT NULL,
    rcpt_to TEXT NOT NULL,
    subject TEXT NOT NULL,
    message BYTEA NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0,
    sent_at BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox(sent_at, next_attempt_at);

CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    conversation_id BIGINT,
    visitor_id BIGINT,                   -- whose conversation, for visitor streams
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE visitors (
    id BIGSERIAL PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT,
    email TEXT,
    locale TEXT NOT NULL DEFAULT 'en',
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);

CREATE TABLE conversations (
    id BIGSERIAL PRIMARY KEY,
    visitor_id BIGINT NOT NULL REFERENCES visitors(id),
    status TEXT NOT NULL,                 -- open | closed
    assignee_id BIGINT REFERENCES users(id),
    last_message_id BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX conversations_visitor ON conversations(visitor_id, id);
CREATE INDEX conversations_updated ON conversations(updated_at, id);

CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES conversations(id),
    client_id TEXT,
    author_kind TEXT NOT NULL,            -- visitor | operator | system
    author_id BIGINT,
    body TEXT NOT NULL,
    channel TEXT NOT NULL,                -- chat | email
    email_message_id TEXT,
    raw_email BYTEA,
    created_at BIGINT NOT NULL
);
CREATE INDEX messages_conversation ON messages(conversation_id, id);
CREATE UNIQUE INDEX messages_client_id ON messages(author_kind, author_id, client_id);
CREATE UNIQUE INDEX messages_email_id ON messages(email_message_id);

CREATE TABLE reads (
    user_id BIGINT NOT NULL,
    conversation_id BIGINT NOT NULL,
    last_read_message_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
);
