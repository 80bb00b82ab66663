-- Reports read every conversation opened in their range (issue 13): with the
-- figures they need in the index itself, a month of conversations is one
-- ordered index scan instead of a lookup into the table per conversation.
CREATE INDEX conversations_report ON conversations(created_at, first_visitor_at, first_answer_at, first_answer_by, first_answer_channel, closed_at, assignee_id, greeting_id);
DROP INDEX conversations_created;
