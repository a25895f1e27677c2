-- pgbench script: the ceiling of POST /v1/emails on this database, the same writes in one
-- transaction without HTTP, authentication, validation or row-level security: the email
-- row, its `queued` delivery log, the NOTIFY that wakes workers.
\set n random(1, 2000000000)
BEGIN;
WITH ins AS (
  INSERT INTO email_queue (user_id, email_configuration_id, recipient_email, subject, text_body, status)
  VALUES (:user_id::uuid, :config_id::uuid, 'p' || :n || '@example.com', 'bench', 'hello', 'queued')
  RETURNING id, user_id)
INSERT INTO email_delivery_logs (email_queue_id, user_id, event_type, event_status)
SELECT id, user_id, 'queued', 'enqueued' FROM ins;
SELECT pg_notify('mailroom_email_queue', '');
END;
