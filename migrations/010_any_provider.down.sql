-- Back to the seed's provider names. Refused (check violation) while a row names another
-- plugin: move or remove those rows first.
ALTER TABLE IF EXISTS dns_zones DROP CONSTRAINT dns_zones_provider_check,
    ADD CONSTRAINT dns_zones_provider_check CHECK (provider IN ('cloudflare', 'route53', 'azure_dns'));
ALTER TABLE IF EXISTS dns_records DROP CONSTRAINT dns_records_provider_check,
    ADD CONSTRAINT dns_records_provider_check CHECK (provider IN ('cloudflare', 'route53', 'azure_dns'));
ALTER TABLE IF EXISTS email_delivery_logs DROP CONSTRAINT email_delivery_logs_provider_check,
    ADD CONSTRAINT email_delivery_logs_provider_check CHECK (provider IN ('google_workspace', 'smtp_relay', 'sendgrid'));
ALTER TABLE IF EXISTS email_configurations DROP CONSTRAINT email_configurations_provider_check,
    ADD CONSTRAINT email_configurations_provider_check CHECK (provider IN ('google_workspace', 'smtp_relay', 'sendgrid'));
