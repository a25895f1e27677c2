-- Event webhooks to applications (Standard Webhooks).
--
-- A transactional outbox: triggers on email_delivery_logs and dns_records write the event
-- (webhook_events) and one message per active subscription that wants it (webhook_messages)
-- in the transaction that writes the log row or the record status, whichever code path
-- writes it. An event is therefore never lost and never emitted for something that rolled
-- back. The `serve` hosts deliver the messages (claim with SKIP LOCKED and a lease, like the
-- email queue) and record every attempt (webhook_attempts).

CREATE TABLE webhook_subscriptions (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id            UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url                TEXT NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    event_types        TEXT[] NOT NULL CHECK (cardinality(event_types) > 0),
    description        TEXT,
    -- The signing secret ("whsec_" + base64), sealed by the host (v1:<key id>:<base64>); the
    -- one it replaced stays valid until previous_secret_expires_at.
    secret_encrypted          TEXT NOT NULL,
    previous_secret_encrypted TEXT,
    previous_secret_expires_at TIMESTAMPTZ,
    status             TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    paused_reason      TEXT,
    failing_since      TIMESTAMPTZ,  -- the first failed attempt since the last success
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_webhook_subscriptions_user ON webhook_subscriptions (user_id);
CREATE TRIGGER webhook_subscriptions_updated_at_trigger BEFORE UPDATE ON webhook_subscriptions
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- What happened, once, for a user who has at least one subscription (kept for replay).
CREATE TABLE webhook_events (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_type  TEXT NOT NULL,
    payload     JSONB NOT NULL,  -- the exact body sent: {"type", "timestamp", "data"}
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_webhook_events_user_created ON webhook_events (user_id, created_at);

-- One event for one subscription. Its id is the `webhook-id` of every attempt (receivers
-- de-duplicate on it). pending: due at next_attempt_at; delivering: claimed until
-- next_attempt_at (the lease; a crashed host's claim is due again when it ends);
-- delivered; failed (every retry used).
CREATE TABLE webhook_messages (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id         UUID NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    subscription_id  UUID NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    user_id          UUID NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivering', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    locked_by        TEXT,
    last_error       TEXT,
    delivered_at     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (event_id, subscription_id)
);
CREATE INDEX idx_webhook_messages_due ON webhook_messages (next_attempt_at)
    WHERE status IN ('pending', 'delivering');
CREATE INDEX idx_webhook_messages_subscription ON webhook_messages (subscription_id, created_at);

CREATE TABLE webhook_attempts (
    id               BIGSERIAL PRIMARY KEY,
    message_id       UUID NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    subscription_id  UUID NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    user_id          UUID NOT NULL,
    attempt          INTEGER NOT NULL,
    attempted_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    status_code      INTEGER,          -- the receiver's HTTP status; NULL: no answer
    latency_ms       INTEGER NOT NULL,
    outcome          TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry_scheduled', 'failed', 'refused')),
    error            TEXT,             -- timeout, connection refused, an SSRF refusal, ...
    response         TEXT              -- the answer's first 1,024 bytes
);
CREATE INDEX idx_webhook_attempts_subscription ON webhook_attempts (subscription_id, attempted_at DESC);

-- Writes an event and its messages. SECURITY DEFINER: the row that causes an event may be
-- written as mailroom_app for one user (row-level security), and the outbox is the host's.
CREATE FUNCTION mailroom_emit_webhook_event(owner UUID, kind TEXT, data JSONB, occurred TIMESTAMPTZ)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    event UUID;
BEGIN
    -- One index probe when the user has no subscription: emails of users without webhooks
    -- pay nothing else.
    IF NOT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE user_id = owner) THEN RETURN; END IF;
    INSERT INTO webhook_events (user_id, event_type, payload, created_at)
    VALUES (owner, kind, jsonb_build_object(
                'type', kind,
                'timestamp', to_char(occurred AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                'data', jsonb_strip_nulls(data)),
            occurred)
    RETURNING id INTO event;
    INSERT INTO webhook_messages (event_id, subscription_id, user_id)
    SELECT event, s.id, owner FROM webhook_subscriptions s
    WHERE s.user_id = owner AND s.status = 'active' AND kind = ANY (s.event_types);
    IF FOUND THEN PERFORM pg_notify('mailroom_webhooks', ''); END IF;
END $$;

-- Delivery log row -> email.* event. A retry scheduled is logged as `failed` with
-- event_status retry_scheduled (the seed's vocabulary); quota and lease deferrals as `queued`.
CREATE FUNCTION mailroom_email_log_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    kind TEXT;
    q    email_queue%ROWTYPE;
BEGIN
    kind := CASE
        WHEN NEW.event_type = 'sent' THEN 'email.sent'
        WHEN NEW.event_type = 'failed' AND NEW.event_status = 'retry_scheduled' THEN 'email.deferred'
        WHEN NEW.event_type IN ('failed', 'dropped') THEN 'email.failed'
        WHEN NEW.event_type = 'queued' AND NEW.event_status IN ('quota_deferred', 'lease_expired') THEN 'email.deferred'
        WHEN NEW.event_type = 'deferred' THEN 'email.deferred'
        WHEN NEW.event_type IN ('delivered', 'bounced', 'complained', 'unsubscribed', 'opened', 'clicked')
            THEN 'email.' || NEW.event_type
    END;
    IF kind IS NULL THEN RETURN NULL; END IF;
    IF NOT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE user_id = NEW.user_id) THEN RETURN NULL; END IF;
    SELECT * INTO q FROM email_queue WHERE id = NEW.email_queue_id;
    PERFORM mailroom_emit_webhook_event(NEW.user_id, kind, jsonb_build_object(
        'email_id', NEW.email_queue_id,
        'configuration_id', q.email_configuration_id,
        'recipient', q.recipient_email,
        'status', q.status,
        'provider', coalesce(NEW.provider, (SELECT provider FROM email_configurations WHERE id = q.email_configuration_id)),
        'provider_message_id', q.message_id,
        'provider_event_id', NEW.provider_event_id,
        'detail', NEW.event_status,
        'reason', NEW.error_message,
        'error_code', NEW.error_code,
        'attempts', q.retry_count,
        'next_attempt_at', CASE WHEN q.status = 'queued'
            THEN to_char(q.run_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END,
        'tags', CASE WHEN cardinality(q.tags) > 0 THEN to_jsonb(q.tags) END,
        'metadata', CASE WHEN q.metadata <> '{}'::jsonb THEN q.metadata END),
        NEW.created_at);
    RETURN NULL;
END $$;
CREATE TRIGGER email_delivery_logs_webhook_event AFTER INSERT ON email_delivery_logs
    FOR EACH ROW EXECUTE FUNCTION mailroom_email_log_event();

-- Record status -> dns.record.* event: applied (now active at the provider), failed (the
-- provider refused it), invalid (validation found DNS serving something else, or nothing).
CREATE FUNCTION mailroom_dns_record_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    kind TEXT;
BEGIN
    kind := CASE
        WHEN NEW.status = 'active' AND NEW.validated_at IS NOT DISTINCT FROM OLD.validated_at
             AND (OLD.status IS DISTINCT FROM 'active' OR OLD.provider_record_id IS DISTINCT FROM NEW.provider_record_id)
            THEN 'dns.record.applied'
        WHEN NEW.status = 'failed'
             AND (OLD.status IS DISTINCT FROM 'failed' OR OLD.last_error IS DISTINCT FROM NEW.last_error)
            THEN 'dns.record.failed'
        WHEN NEW.status = 'invalid' AND OLD.status IS DISTINCT FROM 'invalid' THEN 'dns.record.invalid'
    END;
    IF kind IS NULL THEN RETURN NULL; END IF;
    PERFORM mailroom_emit_webhook_event(NEW.user_id, kind, jsonb_build_object(
        'record_id', NEW.id,
        'zone_id', NEW.zone_id,
        'zone', (SELECT name FROM dns_zones WHERE id = NEW.zone_id),
        'name', NEW.name,
        'record_type', NEW.record_type,
        'value', NEW.value,
        'provider', NEW.provider,
        'provider_record_id', NEW.provider_record_id,
        'validation_status', NEW.validation_status,
        'served_value', NEW.served_value,
        'reason', NEW.last_error),
        now());
    RETURN NULL;
END $$;
CREATE TRIGGER dns_records_webhook_event AFTER UPDATE OF status, provider_record_id, last_error ON dns_records
    FOR EACH ROW EXECUTE FUNCTION mailroom_dns_record_event();

GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_subscriptions, webhook_events, webhook_messages, webhook_attempts
    TO mailroom_app;
GRANT USAGE ON SEQUENCE webhook_attempts_id_seq TO mailroom_app;
-- Each table's rows are its user's, like every user table (migration 006).
DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['webhook_subscriptions', 'webhook_events', 'webhook_messages', 'webhook_attempts'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON %I TO mailroom_app'
                       ' USING (user_id = mailroom_actor() OR mailroom_actor_is_admin())'
                       ' WITH CHECK (user_id = mailroom_actor() OR mailroom_actor_is_admin())', t || '_owner', t);
    END LOOP;
END $$;
