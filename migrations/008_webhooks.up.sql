-- 008: provider webhooks. An event a provider sends twice is recorded once (per email and
-- provider event id); emails are found by the provider's message id within a configuration.
CREATE UNIQUE INDEX idx_email_delivery_logs_provider_event ON email_delivery_logs (email_queue_id, provider_event_id)
    WHERE provider_event_id IS NOT NULL;
CREATE INDEX idx_email_queue_provider_message ON email_queue (email_configuration_id, message_id)
    WHERE message_id IS NOT NULL;
