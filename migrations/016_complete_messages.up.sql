-- Complete messages: attachments and inline images, custom headers, tags and metadata.
--
-- An attachment's bytes are kept once per user and content (SHA-256), however many emails
-- carry it: a newsletter's PDF to 10,000 recipients is one row of contents and 10,000 small
-- rows that name it. Contents are per user so that one user's upload can never tell another
-- whether a file is already known.
CREATE TABLE email_attachment_contents (
    user_id     UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    sha256      BYTEA NOT NULL CHECK (length(sha256) = 32),
    content     BYTEA NOT NULL,
    size_bytes  INTEGER NOT NULL CHECK (size_bytes >= 0),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, sha256)
);

CREATE TABLE email_attachments (
    email_queue_id UUID NOT NULL REFERENCES email_queue(id) ON DELETE CASCADE,
    position       SMALLINT NOT NULL CHECK (position >= 0),
    user_id        UUID NOT NULL,
    filename       TEXT NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
    content_type   TEXT NOT NULL,
    content_id     TEXT,  -- set: an inline part (<img src="cid:...">)
    sha256         BYTEA NOT NULL,
    PRIMARY KEY (email_queue_id, position),
    FOREIGN KEY (user_id, sha256) REFERENCES email_attachment_contents (user_id, sha256)
);
CREATE INDEX idx_email_attachments_contents ON email_attachments (user_id, sha256);

-- Header fields the application adds ([[name, value], ...], in order), tags and metadata; and
-- whether the email carries one-click List-Unsubscribe (RFC 8058), with a mailto: beside it.
ALTER TABLE email_queue
    ADD COLUMN headers            JSONB NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN tags               TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN metadata           JSONB NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN list_unsubscribe   BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN unsubscribe_mailto TEXT;
CREATE INDEX idx_email_queue_tags ON email_queue USING gin (tags);
-- A configuration's default for its emails (an email's own list_unsubscribe wins).
ALTER TABLE email_configurations
    ADD COLUMN list_unsubscribe   BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN unsubscribe_mailto TEXT;

GRANT SELECT, INSERT, UPDATE, DELETE ON email_attachment_contents, email_attachments TO mailroom_app;
ALTER TABLE email_attachment_contents ENABLE ROW LEVEL SECURITY;
CREATE POLICY email_attachment_contents_owner ON email_attachment_contents TO mailroom_app
    USING (user_id = mailroom_actor() OR mailroom_actor_is_admin())
    WITH CHECK (user_id = mailroom_actor() OR mailroom_actor_is_admin());
ALTER TABLE email_attachments ENABLE ROW LEVEL SECURITY;
CREATE POLICY email_attachments_owner ON email_attachments TO mailroom_app
    USING (user_id = mailroom_actor() OR mailroom_actor_is_admin())
    WITH CHECK (user_id = mailroom_actor() OR mailroom_actor_is_admin());
