-- Each step only where its table still exists: `migrate down` also repairs a database whose
-- tables were dropped by hand (docs/database.md).
DROP TABLE IF EXISTS unmatched_provider_events;
DO $$
BEGIN
    IF to_regclass('email_suppressions') IS NOT NULL THEN
        -- Unsubscriptions become manual suppressions: the addresses stay suppressed.
        UPDATE email_suppressions SET reason = 'manual' WHERE reason IN ('unsubscribe', 'group_unsubscribe');
        ALTER TABLE email_suppressions DROP CONSTRAINT email_suppressions_reason_check,
            ADD CONSTRAINT email_suppressions_reason_check CHECK (reason IN ('hard_bounce', 'complaint', 'manual'));
    END IF;
    IF to_regclass('email_delivery_logs') IS NOT NULL THEN
        -- 003's types again: delivered, deferred, dropped and unsubscribed are 'sent' with that status.
        UPDATE email_delivery_logs SET event_status = event_type, event_type = 'sent'
            WHERE event_type IN ('delivered', 'deferred', 'dropped', 'unsubscribed');
        ALTER TABLE email_delivery_logs DROP CONSTRAINT email_delivery_logs_event_type_check,
            ADD CONSTRAINT email_delivery_logs_event_type_check CHECK (event_type IN
                ('queued', 'sending', 'sent', 'failed', 'bounced', 'opened', 'clicked', 'complained'));
    END IF;
END
$$;
