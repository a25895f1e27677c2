DROP TABLE IF EXISTS dns_zones CASCADE;
DROP INDEX IF EXISTS idx_dns_records_zone;
ALTER TABLE dns_records
    DROP COLUMN IF EXISTS zone_id,
    DROP COLUMN IF EXISTS desired,
    DROP COLUMN IF EXISTS last_error,
    DROP COLUMN IF EXISTS served_value,
    DROP COLUMN IF EXISTS validated_at;
DROP FUNCTION IF EXISTS log_dns_zone_changes();
