-- Subscriptions, undelivered events and the attempt history are dropped.
DROP TRIGGER IF EXISTS email_delivery_logs_webhook_event ON email_delivery_logs;
DROP TRIGGER IF EXISTS dns_records_webhook_event ON dns_records;
DROP FUNCTION IF EXISTS mailroom_email_log_event();
DROP FUNCTION IF EXISTS mailroom_dns_record_event();
DROP FUNCTION IF EXISTS mailroom_emit_webhook_event(UUID, TEXT, JSONB, TIMESTAMPTZ);
DROP TABLE IF EXISTS webhook_attempts;
DROP TABLE IF EXISTS webhook_messages;
DROP TABLE IF EXISTS webhook_events;
DROP TABLE IF EXISTS webhook_subscriptions;
