-- Emails queued with attachments, headers, tags or metadata lose them: the rows stay, and are
-- sent without (down is for going back to a release that cannot send them at all).
DROP TABLE IF EXISTS email_attachments;
DROP TABLE IF EXISTS email_attachment_contents;
DROP INDEX IF EXISTS idx_email_queue_tags;
ALTER TABLE IF EXISTS email_configurations
    DROP COLUMN IF EXISTS list_unsubscribe,
    DROP COLUMN IF EXISTS unsubscribe_mailto;
ALTER TABLE IF EXISTS email_queue
    DROP COLUMN IF EXISTS headers,
    DROP COLUMN IF EXISTS tags,
    DROP COLUMN IF EXISTS metadata,
    DROP COLUMN IF EXISTS list_unsubscribe,
    DROP COLUMN IF EXISTS unsubscribe_mailto;
