-- SPF/DKIM/DMARC results of a reply that came in over SMTP.
ALTER TABLE messages ADD COLUMN email_auth TEXT;
-- A visitor address that bounced: no email goes to it until the visitor
-- gives another.
ALTER TABLE visitors ADD COLUMN email_bounced_at BIGINT;
