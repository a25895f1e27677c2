-- 005: what the queue needs beyond 003 (which stays exactly as the seed describes it).

-- Which plugin sends for a configuration. NULL: the plugin named like `provider`. Lets a
-- third-party email plugin (or a test double) serve a configuration whose provider column
-- keeps the seed's three values.
ALTER TABLE email_configurations
    ADD COLUMN plugin TEXT CHECK (plugin ~ '^[a-z][a-z0-9_]{0,62}$');

ALTER TABLE email_queue
    ADD COLUMN email_configuration_id UUID REFERENCES email_configurations (id) ON DELETE RESTRICT,
    ADD COLUMN from_address TEXT,
    ADD COLUMN from_name TEXT,
    ADD COLUMN reply_to_address TEXT,
    ADD COLUMN cc TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN bcc TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN priority SMALLINT NOT NULL DEFAULT 100 CHECK (priority BETWEEN 0 AND 1000),  -- lower first
    ADD COLUMN run_at TIMESTAMPTZ NOT NULL DEFAULT now(),    -- not before
    ADD COLUMN locked_by TEXT,                              -- the worker holding the lease
    ADD COLUMN locked_until TIMESTAMPTZ,                    -- when the lease expires
    ADD COLUMN last_error TEXT,
    ADD COLUMN last_error_kind TEXT,
    ADD COLUMN idempotency_key TEXT CHECK (length(idempotency_key) BETWEEN 1 AND 255);

-- The same key twice returns the first email: unique per user among live rows (a failed
-- email frees its key).
CREATE UNIQUE INDEX idx_email_queue_idempotency ON email_queue (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL AND status <> 'failed';
-- What workers claim, in claim order.
CREATE INDEX idx_email_queue_due ON email_queue (priority, run_at, id) WHERE status = 'queued';
-- What the rescuer looks at.
CREATE INDEX idx_email_queue_lease ON email_queue (locked_until) WHERE status = 'sending';

CREATE TABLE email_suppressions (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    reason      TEXT NOT NULL CHECK (reason IN ('hard_bounce', 'complaint', 'manual')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX idx_email_suppressions_user_email ON email_suppressions (user_id, lower(email));

-- The quota gate keeps one counter row per user.
CREATE UNIQUE INDEX idx_google_workspace_quota_user_unique ON google_workspace_quota (user_id);

-- Templates: one name per owner (system templates have no owner).
CREATE UNIQUE INDEX idx_email_templates_owner_name
    ON email_templates (coalesce(user_id, '00000000-0000-0000-0000-000000000000'::uuid), name);

INSERT INTO email_templates (user_id, name, description, subject, text_body, html_body, variables, is_system_template)
VALUES
  (NULL, 'welcome', 'Greets a new user', 'Welcome, {{name}}',
   E'Hello {{name}},\n\nwelcome aboard.\n',
   '<p>Hello {{name}},</p><p>welcome aboard.</p>', '{name}', true),
  (NULL, 'password_reset', 'Sends a password reset link', 'Reset your password',
   E'Hello {{name}},\n\nreset your password here: {{reset_url}}\nThe link expires in {{expires_in}}.\n',
   '<p>Hello {{name}},</p><p><a href="{{reset_url}}">Reset your password</a>. The link expires in {{expires_in}}.</p>',
   '{expires_in,name,reset_url}', true),
  (NULL, 'notification', 'A plain notification', '{{subject}}', E'{{body}}\n', '<p>{{body}}</p>',
   '{body,subject}', true);
