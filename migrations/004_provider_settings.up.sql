-- 004: what 003 lacks for every provider plugin: the plugin's non-secret settings (validated
-- against its manifest's config_schema) and its other secrets (e.g. SendGrid's API key),
-- as one AES-256-GCM ciphertext of a JSON object. 003's own secret columns keep their use.
ALTER TABLE email_configurations
    ADD COLUMN settings JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    ADD COLUMN secrets_encrypted TEXT CHECK (secrets_encrypted LIKE 'v1:%');
