ALTER TABLE email_configurations DROP COLUMN IF EXISTS send_window, DROP COLUMN IF EXISTS requests_per_second;
