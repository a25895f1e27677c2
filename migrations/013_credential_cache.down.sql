-- 003's trigger function and trigger again: every update is audited and bumps updated_at.
DO $$
BEGIN
    IF to_regclass('email_configurations') IS NOT NULL THEN
        DROP TRIGGER IF EXISTS email_configurations_updated_at_trigger ON email_configurations;
        CREATE TRIGGER email_configurations_updated_at_trigger
            BEFORE UPDATE ON email_configurations FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
    END IF;
END
$$;
CREATE OR REPLACE FUNCTION log_email_config_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM audit_row_change('email_configuration',
        CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
        CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END,
        ARRAY['provider', 'is_active', 'is_verified']);
    RETURN NULL;
END
$$;
