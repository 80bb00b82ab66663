-- Who the visitor is (issue 13), as the widget tells on each page: language,
-- time zone, browser and OS (parsed from User-Agent), where they came from,
-- and the pages they saw (the latest 50). The address only when an admin
-- runs the server with --store-visitor-ip.
ALTER TABLE visitors ADD COLUMN language TEXT;
ALTER TABLE visitors ADD COLUMN time_zone TEXT;
ALTER TABLE visitors ADD COLUMN browser TEXT;
ALTER TABLE visitors ADD COLUMN os TEXT;
ALTER TABLE visitors ADD COLUMN referrer TEXT;
ALTER TABLE visitors ADD COLUMN ip_address TEXT;

CREATE TABLE visitor_pages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    visitor_id INTEGER NOT NULL,
    url TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    seen_at INTEGER NOT NULL
);
CREATE INDEX visitor_pages_visitor ON visitor_pages(visitor_id, id);
CREATE INDEX visitors_email ON visitors(email);
