-- 003: the email relay and DNS schema, exactly as shared/seed/migration-003-email-relay-dns.md
-- describes it: six tables, their indexes, the audit and updated_at triggers.
-- Secret columns (*_encrypted) hold only AES-256-GCM ciphertexts ("v1:<key id>:<base64>"),
-- written by mailroom's crypto module; the database never sees a plaintext secret.

CREATE TABLE email_configurations (
    id                                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                              UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider                             TEXT NOT NULL
        CHECK (provider IN ('google_workspace', 'smtp_relay', 'sendgrid')),
    google_oauth_token_encrypted         TEXT CHECK (google_oauth_token_encrypted LIKE 'v1:%'),
    google_oauth_refresh_token_encrypted TEXT CHECK (google_oauth_refresh_token_encrypted LIKE 'v1:%'),
    google_service_account_encrypted     TEXT CHECK (google_service_account_encrypted LIKE 'v1:%'),
    smtp_host                            TEXT,
    smtp_port                            INTEGER CHECK (smtp_port BETWEEN 1 AND 65535),
    smtp_username                        TEXT,
    smtp_password_encrypted              TEXT CHECK (smtp_password_encrypted LIKE 'v1:%'),
    from_address                         TEXT,
    from_name                            TEXT,
    reply_to_address                     TEXT,
    is_active                            BOOLEAN NOT NULL DEFAULT true,
    is_verified                          BOOLEAN NOT NULL DEFAULT false,
    created_at                           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                           TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by                           UUID REFERENCES users (id) ON DELETE SET NULL,
    updated_by                           UUID REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX idx_email_configurations_user_id ON email_configurations (user_id);
CREATE INDEX idx_email_configurations_provider ON email_configurations (provider);
CREATE INDEX idx_email_configurations_is_active ON email_configurations (is_active);
CREATE INDEX idx_email_configurations_is_verified ON email_configurations (is_verified);
CREATE INDEX idx_email_configurations_created_at ON email_configurations (created_at);

CREATE TABLE dns_records (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider            TEXT NOT NULL CHECK (provider IN ('cloudflare', 'route53', 'azure_dns')),
    provider_record_id  TEXT,
    record_type         TEXT NOT NULL
        CHECK (record_type IN ('A', 'AAAA', 'CNAME', 'MX', 'TXT', 'SPF', 'DKIM', 'DMARC')),
    name                TEXT NOT NULL,
    value               TEXT NOT NULL,
    ttl                 INTEGER NOT NULL DEFAULT 3600 CHECK (ttl BETWEEN 1 AND 2147483647),
    priority            INTEGER CHECK (priority BETWEEN 0 AND 65535),
    status              TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'active', 'failed', 'invalid')),
    validation_status   TEXT CHECK (validation_status IN ('valid', 'mismatch', 'missing', 'error')),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_dns_records_user_id ON dns_records (user_id);
CREATE INDEX idx_dns_records_provider ON dns_records (provider);
CREATE INDEX idx_dns_records_record_type ON dns_records (record_type);
CREATE INDEX idx_dns_records_name ON dns_records (name);
CREATE INDEX idx_dns_records_status ON dns_records (status);
CREATE INDEX idx_dns_records_created_at ON dns_records (created_at);

CREATE TABLE email_queue (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    recipient_email  TEXT NOT NULL,
    recipient_name   TEXT,
    subject          TEXT NOT NULL,
    template_name    TEXT,
    template_data    JSONB,
    html_body        TEXT,
    text_body        TEXT,
    status           TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'queued', 'sending', 'sent', 'failed', 'bounced', 'spam')),
    retry_count      INTEGER NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
    max_retries      INTEGER NOT NULL DEFAULT 3 CHECK (max_retries >= 0),
    message_id       TEXT,
    sent_at          TIMESTAMPTZ,
    delivered_at     TIMESTAMPTZ,
    bounced_at       TIMESTAMPTZ,
    bounce_type      TEXT,
    bounce_reason    TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_email_queue_user_id ON email_queue (user_id);
CREATE INDEX idx_email_queue_status ON email_queue (status);
CREATE INDEX idx_email_queue_recipient_email ON email_queue (recipient_email);
CREATE INDEX idx_email_queue_created_at ON email_queue (created_at);
CREATE INDEX idx_email_queue_sent_at ON email_queue (sent_at);
CREATE INDEX idx_email_queue_status_created ON email_queue (status, created_at);

CREATE TABLE email_delivery_logs (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    email_queue_id     UUID NOT NULL REFERENCES email_queue (id) ON DELETE CASCADE,
    user_id            UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_type         TEXT NOT NULL CHECK (event_type IN
        ('queued', 'sending', 'sent', 'failed', 'bounced', 'opened', 'clicked', 'complained')),
    event_status       TEXT,
    error_code         TEXT,
    error_message      TEXT,
    provider           TEXT CHECK (provider IN ('google_workspace', 'smtp_relay', 'sendgrid')),
    provider_event_id  TEXT,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_email_delivery_logs_email_queue_id ON email_delivery_logs (email_queue_id);
CREATE INDEX idx_email_delivery_logs_user_id ON email_delivery_logs (user_id);
CREATE INDEX idx_email_delivery_logs_event_type ON email_delivery_logs (event_type);
CREATE INDEX idx_email_delivery_logs_created_at ON email_delivery_logs (created_at);

CREATE TABLE google_workspace_quota (
    id                     UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    daily_quota_limit      INTEGER NOT NULL DEFAULT 2000 CHECK (daily_quota_limit >= 0),
    daily_quota_used       INTEGER NOT NULL DEFAULT 0 CHECK (daily_quota_used >= 0),
    daily_quota_reset_at   TIMESTAMPTZ,
    hourly_quota_limit     INTEGER NOT NULL DEFAULT 500 CHECK (hourly_quota_limit >= 0),
    hourly_quota_used      INTEGER NOT NULL DEFAULT 0 CHECK (hourly_quota_used >= 0),
    hourly_quota_reset_at  TIMESTAMPTZ,
    is_quota_exceeded      BOOLEAN NOT NULL DEFAULT false,
    quota_exceeded_at      TIMESTAMPTZ,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_google_workspace_quota_user_id ON google_workspace_quota (user_id);
CREATE INDEX idx_google_workspace_quota_is_quota_exceeded ON google_workspace_quota (is_quota_exceeded);
CREATE INDEX idx_google_workspace_quota_updated_at ON google_workspace_quota (updated_at);

CREATE TABLE email_templates (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             UUID REFERENCES users (id) ON DELETE CASCADE,  -- NULL: system template
    name                TEXT NOT NULL,
    description         TEXT,
    subject             TEXT NOT NULL,
    html_body           TEXT,
    text_body           TEXT,
    variables           TEXT[] NOT NULL DEFAULT '{}',
    is_active           BOOLEAN NOT NULL DEFAULT true,
    is_system_template  BOOLEAN NOT NULL DEFAULT false,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by          UUID REFERENCES users (id) ON DELETE SET NULL,
    updated_by          UUID REFERENCES users (id) ON DELETE SET NULL,
    CHECK (is_system_template = (user_id IS NULL))
);
CREATE INDEX idx_email_templates_user_id ON email_templates (user_id);
CREATE INDEX idx_email_templates_name ON email_templates (name);
CREATE INDEX idx_email_templates_is_active ON email_templates (is_active);
CREATE INDEX idx_email_templates_is_system_template ON email_templates (is_system_template);

-- Audit. One helper writes the row; the two functions the seed names say what to record.
-- The actor is the transaction's mailroom.actor_id (set by the host on every write), else
-- the row's updated_by, else its owner. Only field *names* are recorded, never values, so
-- no secret (ciphertext or not) reaches audit_logs; `details` holds non-secret fields only.
CREATE FUNCTION audit_row_change(resource_type TEXT, old_row JSONB, new_row JSONB,
                                 detail_fields TEXT[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    subject  JSONB := COALESCE(new_row, old_row);
    actor    UUID;
    action   TEXT;
    changed  TEXT[];
BEGIN
    actor := COALESCE(NULLIF(current_setting('mailroom.actor_id', true), '')::uuid,
                      (subject ->> 'updated_by')::uuid,
                      (subject ->> 'user_id')::uuid);
    IF old_row IS NULL THEN
        action := 'CREATE';
        SELECT COALESCE(array_agg(key ORDER BY key), '{}') INTO changed
          FROM jsonb_each(new_row)
         WHERE value <> 'null'::jsonb AND key NOT IN ('id', 'created_at', 'updated_at');
    ELSIF new_row IS NULL THEN
        action := 'DELETE';
        changed := '{}';
    ELSE
        action := 'UPDATE';
        SELECT COALESCE(array_agg(n.key ORDER BY n.key), '{}') INTO changed
          FROM jsonb_each(new_row) n
         WHERE n.value IS DISTINCT FROM old_row -> n.key AND n.key <> 'updated_at';
        IF cardinality(changed) = 0 THEN
            RETURN;  -- a no-op UPDATE changes nothing worth auditing
        END IF;
    END IF;
    INSERT INTO audit_logs (user_id, action, resource_type, resource_id, changed_fields, details)
    VALUES (actor, action, resource_type, (subject ->> 'id')::uuid, changed,
            (SELECT COALESCE(jsonb_object_agg(key, value), '{}')
               FROM jsonb_each(subject) WHERE key = ANY (detail_fields)));
END
$$;

CREATE FUNCTION log_email_config_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM audit_row_change('email_configuration',
        CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
        CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END,
        ARRAY['provider', 'is_active', 'is_verified']);
    RETURN NULL;
END
$$;

CREATE FUNCTION log_dns_record_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM audit_row_change('dns_record',
        CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
        CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END,
        ARRAY['provider', 'record_type', 'name', 'status', 'validation_status']);
    RETURN NULL;
END
$$;

CREATE TRIGGER email_configurations_audit_trigger
    AFTER INSERT OR UPDATE OR DELETE ON email_configurations
    FOR EACH ROW EXECUTE FUNCTION log_email_config_changes();
CREATE TRIGGER dns_records_audit_trigger
    AFTER INSERT OR UPDATE OR DELETE ON dns_records
    FOR EACH ROW EXECUTE FUNCTION log_dns_record_changes();

CREATE TRIGGER email_configurations_updated_at_trigger
    BEFORE UPDATE ON email_configurations FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER dns_records_updated_at_trigger
    BEFORE UPDATE ON dns_records FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER email_queue_updated_at_trigger
    BEFORE UPDATE ON email_queue FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER google_workspace_quota_updated_at_trigger
    BEFORE UPDATE ON google_workspace_quota FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER email_templates_updated_at_trigger
    BEFORE UPDATE ON email_templates FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
