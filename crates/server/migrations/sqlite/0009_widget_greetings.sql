-- Greetings (issue 13): the widget's settings live in `settings` (key
-- `widget_settings`); each showing of a greeting to a visitor is a row here,
-- which caps how often one visitor sees it and counts showings for reports.
-- A conversation opened by answering a greeting remembers which one.
ALTER TABLE conversations ADD COLUMN greeting_id INTEGER;

CREATE TABLE greeting_shows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    greeting_id INTEGER NOT NULL,
    visitor_id INTEGER NOT NULL,
    shown_at INTEGER NOT NULL
);
CREATE INDEX greeting_shows_visitor ON greeting_shows(visitor_id, greeting_id);
CREATE INDEX greeting_shows_time ON greeting_shows(shown_at);
CREATE INDEX conversations_greeting ON conversations(greeting_id) WHERE greeting_id IS NOT NULL;
