DROP INDEX IF EXISTS idx_email_delivery_logs_provider_event;
DROP INDEX IF EXISTS idx_email_queue_provider_message;
