-- Notification emails waiting for their moment (see services/notify.rs), and
-- the inbound emails we refused (audit).
CREATE TABLE pending_notifications (
    user_id BIGINT NOT NULL,
    conversation_id BIGINT NOT NULL,
    -- 'followup': collect visitor messages after an immediate email;
    -- 'delayed': the member was online, email only what is still unread.
    kind TEXT NOT NULL,
    after_message_id BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
);
CREATE INDEX pending_notifications_due ON pending_notifications(due_at);

CREATE TABLE refused_emails (
    id BIGSERIAL PRIMARY KEY,
    reason TEXT NOT NULL,
    sender TEXT,
    message_id TEXT,
    raw BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

-- Messages whose notifications a node has taken on: with several nodes, each
-- message is handled by exactly one of them.
CREATE TABLE notified_messages (
    message_id BIGINT PRIMARY KEY
);
