-- 013: a plugin may keep the short-lived token it obtains (an OAuth access token) in the seed's
-- google_oauth_token_encrypted (its manifest's "credential_column"), shared by every host.
-- Refreshing it is not a change of the configuration: an update that changes that column and
-- nothing else writes no audit row and leaves updated_at alone, or an hourly token refresh
-- would bury the audit log. Every other update is audited and moves updated_at as before.
CREATE OR REPLACE FUNCTION log_email_config_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.google_oauth_token_encrypted IS DISTINCT FROM NEW.google_oauth_token_encrypted
       AND to_jsonb(OLD) - ARRAY['google_oauth_token_encrypted', 'updated_at']
         = to_jsonb(NEW) - ARRAY['google_oauth_token_encrypted', 'updated_at'] THEN
        RETURN NULL;
    END IF;
    PERFORM audit_row_change('email_configuration',
        CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
        CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END,
        ARRAY['provider', 'is_active', 'is_verified']);
    RETURN NULL;
END
$$;

DROP TRIGGER email_configurations_updated_at_trigger ON email_configurations;
CREATE TRIGGER email_configurations_updated_at_trigger
    BEFORE UPDATE ON email_configurations FOR EACH ROW
    WHEN (OLD.google_oauth_token_encrypted IS NOT DISTINCT FROM NEW.google_oauth_token_encrypted
          OR to_jsonb(OLD) - 'google_oauth_token_encrypted' IS DISTINCT FROM to_jsonb(NEW) - 'google_oauth_token_encrypted')
    EXECUTE FUNCTION update_updated_at_column();
