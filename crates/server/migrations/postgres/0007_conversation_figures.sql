-- What reports are computed from (issue 13), kept on each conversation as
-- it happens so a report reads conversations, not every message:
-- when the visitor first wrote, when and by whom and how it was first
-- answered, and when it was closed.
ALTER TABLE conversations ADD COLUMN first_visitor_at BIGINT;
ALTER TABLE conversations ADD COLUMN first_answer_at BIGINT;
ALTER TABLE conversations ADD COLUMN first_answer_by BIGINT;
ALTER TABLE conversations ADD COLUMN first_answer_channel TEXT;
ALTER TABLE conversations ADD COLUMN closed_at BIGINT;

-- Conversations of earlier releases: the same figures from their messages.
UPDATE conversations SET first_visitor_at = (
    SELECT MIN(m.created_at) FROM messages m
    WHERE m.conversation_id = conversations.id AND m.author_kind = 'visitor');
UPDATE conversations SET first_answer_at = (
    SELECT MIN(m.created_at) FROM messages m
    WHERE m.conversation_id = conversations.id AND m.author_kind = 'operator'
      AND m.created_at >= conversations.first_visitor_at);
UPDATE conversations SET
    first_answer_by = (
        SELECT m.author_id FROM messages m
        WHERE m.conversation_id = conversations.id AND m.author_kind = 'operator'
          AND m.created_at = conversations.first_answer_at ORDER BY m.id LIMIT 1),
    first_answer_channel = (
        SELECT m.channel FROM messages m
        WHERE m.conversation_id = conversations.id AND m.author_kind = 'operator'
          AND m.created_at = conversations.first_answer_at ORDER BY m.id LIMIT 1)
WHERE first_answer_at IS NOT NULL;
-- When a closed conversation was closed is not known: its last change is
-- the best guess.
UPDATE conversations SET closed_at = updated_at WHERE status = 'closed';

CREATE INDEX conversations_created ON conversations(created_at);
