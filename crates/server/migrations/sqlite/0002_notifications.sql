-- Notification emails waiting for their moment (see services/notify.rs), and
-- the inbound emails we refused (audit).
CREATE TABLE pending_notifications (
    user_id INTEGER NOT NULL,
    conversation_id INTEGER NOT NULL,
    -- 'followup': collect visitor messages after an immediate email;
    -- 'delayed': the member was online, email only what is still unread.
    kind TEXT NOT NULL,
    after_message_id INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
);
CREATE INDEX pending_notifications_due ON pending_notifications(due_at);

CREATE TABLE refused_emails (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reason TEXT NOT NULL,
    sender TEXT,
    message_id TEXT,
    raw BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

-- Messages whose notifications a node has taken on: with several nodes, each
-- message is handled by exactly one of them.
CREATE TABLE notified_messages (
    message_id INTEGER PRIMARY KEY
);
