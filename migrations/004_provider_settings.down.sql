ALTER TABLE IF EXISTS email_configurations DROP COLUMN IF EXISTS settings, DROP COLUMN IF EXISTS secrets_encrypted;
