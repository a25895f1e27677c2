-- Every statement tolerates a partial 003 (the seed's "relation already exists" case),
-- so `mailroom migrate down 003` also cleans up what a failed manual apply left.
DROP TABLE IF EXISTS email_delivery_logs;
DROP TABLE IF EXISTS email_queue;
DROP TABLE IF EXISTS email_templates;
DROP TABLE IF EXISTS google_workspace_quota;
DROP TABLE IF EXISTS dns_records;
DROP TABLE IF EXISTS email_configurations;
DROP FUNCTION IF EXISTS log_email_config_changes();
DROP FUNCTION IF EXISTS log_dns_record_changes();
DROP FUNCTION IF EXISTS audit_row_change(TEXT, JSONB, JSONB, TEXT[]);
