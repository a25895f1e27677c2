-- 012: what providers report after sending (their webhooks), stored as what it is.
-- 003's event types fold "delivered" and "deferred" into 'sent'; here they, "dropped" and
-- "unsubscribed" become event types of their own, and the rows 008's webhook route wrote as
-- 'sent' with that status are moved to them.
ALTER TABLE email_delivery_logs DROP CONSTRAINT email_delivery_logs_event_type_check,
    ADD CONSTRAINT email_delivery_logs_event_type_check CHECK (event_type IN
        ('queued', 'sending', 'sent', 'failed', 'bounced', 'opened', 'clicked', 'complained',
         'delivered', 'deferred', 'dropped', 'unsubscribed'));
UPDATE email_delivery_logs SET event_type = event_status, event_status = NULL
    WHERE event_type = 'sent' AND event_status IN ('delivered', 'deferred') AND provider_event_id IS NOT NULL;

-- A recipient who unsubscribes (from everything, or from one of the provider's unsubscribe
-- groups) is suppressed with that reason.
ALTER TABLE email_suppressions DROP CONSTRAINT email_suppressions_reason_check,
    ADD CONSTRAINT email_suppressions_reason_check
        CHECK (reason IN ('hard_bounce', 'complaint', 'manual', 'unsubscribe', 'group_unsubscribe'));

-- Events whose email mailroom cannot find (sent by another system through the same account,
-- an email since deleted, a message id not yet written): kept, not lost, and de-duplicated by
-- the provider's event id like matched ones.
CREATE TABLE unmatched_provider_events (
    id                      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    email_configuration_id  UUID NOT NULL REFERENCES email_configurations (id) ON DELETE CASCADE,
    user_id                 UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider                TEXT NOT NULL CHECK (provider ~ '^[a-z][a-z0-9_]{0,62}$'),
    event_type              TEXT NOT NULL,
    email_id                TEXT,  -- as the provider echoed it; not a foreign key: no such email
    provider_message_id     TEXT,
    provider_event_id       TEXT,
    recipient               TEXT,
    detail                  TEXT,  -- the reason, bounce type or clicked URL
    occurred_at             TIMESTAMPTZ,
    received_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX idx_unmatched_provider_events_event ON unmatched_provider_events (email_configuration_id, provider_event_id)
    WHERE provider_event_id IS NOT NULL;
CREATE INDEX idx_unmatched_provider_events_user_received ON unmatched_provider_events (user_id, received_at);

GRANT SELECT ON unmatched_provider_events TO mailroom_app;
ALTER TABLE unmatched_provider_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY unmatched_provider_events_owner ON unmatched_provider_events FOR SELECT TO mailroom_app
    USING (user_id = mailroom_actor() OR mailroom_actor_is_admin());
