-- Switchboard schema, SQLite flavour. Integers are 64-bit; booleans are 0/1;
-- times are milliseconds since the Unix epoch.

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL,
    status TEXT NOT NULL,                 -- invited | active | removed
    password_hash TEXT NOT NULL,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    password_expires_at INTEGER,          -- temporary (emailed) passwords only
    avatar_file TEXT,
    locale TEXT NOT NULL DEFAULT 'en',
    notify_sound INTEGER NOT NULL DEFAULT 1,
    notify_email INTEGER NOT NULL DEFAULT 1,
    away INTEGER NOT NULL DEFAULT 0,
    invited_by INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    mail_from TEXT NOT NULL,
    rcpt_to TEXT NOT NULL,
    subject TEXT NOT NULL,
    message BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    locked_until INTEGER NOT NULL DEFAULT 0,
    sent_at INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox(sent_at, next_attempt_at);

CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    conversation_id INTEGER,
    visitor_id INTEGER,                   -- whose conversation, for visitor streams
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE visitors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT,
    email TEXT,
    locale TEXT NOT NULL DEFAULT 'en',
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);

CREATE TABLE conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    visitor_id INTEGER NOT NULL REFERENCES visitors(id),
    status TEXT NOT NULL,                 -- open | closed
    assignee_id INTEGER REFERENCES users(id),
    last_message_id INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX conversations_visitor ON conversations(visitor_id, id);
CREATE INDEX conversations_updated ON conversations(updated_at, id);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    client_id TEXT,
    author_kind TEXT NOT NULL,            -- visitor | operator | system
    author_id INTEGER,
    body TEXT NOT NULL,
    channel TEXT NOT NULL,                -- chat | email
    email_message_id TEXT,
    raw_email BLOB,
    created_at INTEGER NOT NULL
);
CREATE INDEX messages_conversation ON messages(conversation_id, id);
CREATE UNIQUE INDEX messages_client_id ON messages(author_kind, author_id, client_id);
CREATE UNIQUE INDEX messages_email_id ON messages(email_message_id);

CREATE TABLE reads (
    user_id INTEGER NOT NULL,
    conversation_id INTEGER NOT NULL,
    last_read_message_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
);
