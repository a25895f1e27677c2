#include "db.hpp"
#include "sql_arrays.hpp"

namespace mailroom::db {
namespace {

const char* const kZoneColumns =
    "id::text AS id, user_id::text AS user_id, name, provider, coalesce(plugin, '') AS plugin, "
    "coalesce(provider_zone_id, '') AS provider_zone_id, settings::text AS settings, "
    "coalesce(secrets_encrypted, '') AS secrets_encrypted, created_at::text AS created_at";

DnsZoneRow to_zone(const pqxx::row& r) {
  DnsZoneRow z;
  z.id = r["id"].as<std::string>();
  z.user_id = r["user_id"].as<std::string>();
  z.name = r["name"].as<std::string>();
  z.provider = r["provider"].as<std::string>();
  z.plugin = r["plugin"].as<std::string>();
  z.provider_zone_id = r["provider_zone_id"].as<std::string>();
  z.settings = nlohmann::json::parse(r["settings"].as<std::string>());
  z.secrets_encrypted = r["secrets_encrypted"].as<std::string>();
  z.created_at = r["created_at"].as<std::string>();
  return z;
}

const char* const kRecordColumns =
    "id::text AS id, user_id::text AS user_id, coalesce(zone_id::text, '') AS zone_id, provider, "
    "coalesce(provider_record_id, '') AS provider_record_id, record_type, name, value, ttl, "
    "coalesce(priority::text, '') AS priority, status, coalesce(validation_status, '') AS validation_status, "
    "desired, coalesce(last_error, '') AS last_error, coalesce(served_value, '') AS served_value, "
    "coalesce(validated_at::text, '') AS validated_at, updated_at::text AS updated_at";

DnsRecordRow to_record(const pqxx::row& r) {
  DnsRecordRow d;
  d.id = r["id"].as<std::string>();
  d.user_id = r["user_id"].as<std::string>();
  d.zone_id = r["zone_id"].as<std::string>();
  d.provider = r["provider"].as<std::string>();
  d.provider_record_id = r["provider_record_id"].as<std::string>();
  d.record_type = r["record_type"].as<std::string>();
  d.name = r["name"].as<std::string>();
  d.value = r["value"].as<std::string>();
  d.ttl = r["ttl"].as<int>();
  const auto priority = r["priority"].as<std::string>();
  if (!priority.empty()) d.priority = std::stoi(priority);
  d.status = r["status"].as<std::string>();
  d.validation_status = r["validation_status"].as<std::string>();
  d.desired = r["desired"].as<std::string>();
  d.last_error = r["last_error"].as<std::string>();
  d.served_value = r["served_value"].as<std::string>();
  d.validated_at = r["validated_at"].as<std::string>();
  d.updated_at = r["updated_at"].as<std::string>();
  return d;
}

// Turns constraint violations into messages that name the field.
template <class F>
void guarded_write(const std::string& what, F&& write) {
  try {
    write();
  } catch (const pqxx::unique_violation&) {
    throw DbError(what + " already exists");
  } catch (const pqxx::check_violation& e) {
    const std::string message = e.what();
    for (const char* field : {"name", "provider", "plugin", "record_type", "ttl", "priority", "settings"})
      if (message.find(std::string("_") + field + "_check") != std::string::npos)
        throw DbError(what + ": invalid " + field);
    throw DbError(what + ": a value is out of range");
  } catch (const pqxx::foreign_key_violation&) {
    throw DbError(what + ": no such user or zone");
  }
}

struct RecordArrays {
  std::vector<std::string> id, type, name, value, ttl, priority;
  explicit RecordArrays(const std::vector<DnsRecordRow>& records) {
    for (const auto& r : records) {
      id.push_back(r.id);
      type.push_back(r.record_type);
      name.push_back(r.name);
      value.push_back(r.value);
      ttl.push_back(std::to_string(r.ttl));
      priority.push_back(r.priority ? std::to_string(*r.priority) : "");
    }
  }
};

}  // namespace

std::string DnsZones::new_id() {
  Reader reader(pool_);
  auto& tx = reader.tx();
  return tx.exec("SELECT gen_random_uuid()::text")[0][0].as<std::string>();
}

void DnsZones::create(const DnsZoneRow& z, const std::string& actor_id) {
  guarded_write("zone " + z.name, [&] {
    transact(pool_, actor_id, [&](pqxx::work& tx) {
      tx.exec_params(
          "INSERT INTO dns_zones (id, user_id, name, provider, plugin, settings, secrets_encrypted) VALUES "
          "($1::uuid, $2::uuid, $3, $4, NULLIF($5, ''), $6::jsonb, NULLIF($7, ''))",
          z.id, z.user_id, z.name, z.provider, z.plugin, z.settings.dump(), z.secrets_encrypted);
    });
  });
}

std::optional<DnsZoneRow> DnsZones::find(const std::string& user_id, const std::string& name) {
  Reader reader(pool_);
  auto& tx = reader.tx();
  const auto rows = tx.exec_params(std::string("SELECT ") + kZoneColumns +
                                       " FROM dns_zones WHERE user_id = $1::uuid AND name = $2",
                                   user_id, name);
  if (rows.empty()) return std::nullopt;
  return to_zone(rows[0]);
}

std::vector<DnsZoneRow> DnsZones::list(const std::string& user_id) {
  Reader reader(pool_);
  auto& tx = reader.tx();
  const auto rows = tx.exec_params(std::string("SELECT ") + kZoneColumns +
                                       " FROM dns_zones WHERE $1 = '' OR user_id = NULLIF($1, '')::uuid ORDER BY name",
                                   user_id);
  std::vector<DnsZoneRow> out;
  for (const auto& r : rows) out.push_back(to_zone(r));
  return out;
}

bool DnsZones::remove(const std::string& id, const std::string& actor_id) {
  bool removed = false;
  transact(pool_, actor_id, [&](pqxx::work& tx) {
    removed = tx.exec_params("DELETE FROM dns_zones WHERE id = $1::uuid", id).affected_rows() == 1;
  });
  return removed;
}

void DnsZones::set_provider_zone_id(const std::string& id, const std::string& provider_zone_id,
                                    const std::string& actor_id) {
  transact(pool_, actor_id, [&](pqxx::work& tx) {
    tx.exec_params("UPDATE dns_zones SET provider_zone_id = $2 WHERE id = $1::uuid AND provider_zone_id IS DISTINCT FROM $2",
                   id, provider_zone_id);
  });
}

std::vector<DnsZoneRow> DnsZones::needing_rotation(const std::string& key_id, std::size_t limit) {
  Reader reader(pool_);
  auto& tx = reader.tx();
  const auto rows = tx.exec_params(std::string("SELECT ") + kZoneColumns +
                                       " FROM dns_zones WHERE secrets_encrypted IS NOT NULL "
                                       "AND secrets_encrypted NOT LIKE 'v1:' || $1 || ':%' ORDER BY id LIMIT $2",
                                   key_id, static_cast<long>(limit));
  std::vector<DnsZoneRow> out;
  for (const auto& r : rows) out.push_back(to_zone(r));
  return out;
}

void DnsZones::store_ciphertexts(const std::vector<DnsZoneRow>& zones, const std::string& actor_id) {
  transact(pool_, actor_id, [&](pqxx::work& tx) {
    for (const auto& z : zones)
      tx.exec_params("UPDATE dns_zones SET secrets_encrypted = $2 WHERE id = $1::uuid", z.id, z.secrets_encrypted);
  });
}

std::vector<DnsRecordRow> DnsRecords::list(const std::string& zone_id) {
  Reader reader(pool_);
  auto& tx = reader.tx();
  const auto rows = tx.exec_params(std::string("SELECT ") + kRecordColumns +
                                       " FROM dns_records WHERE zone_id = $1::uuid ORDER BY name, record_type, value, id",
                                   zone_id);
  std::vector<DnsRecordRow> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(to_record(r));
  return out;
}

std::vector<std::string> DnsRecords::save(const std::string& zone_id, const std::vector<DnsRecordRow>& added,
                                          const std::vector<DnsRecordRow>& changed, const std::string& actor_id) {
  std::vector<std::string> ids;
  const RecordArrays a(added), c(changed);
  const std::string first = added.empty() ? (changed.empty() ? std::string() : changed.front().name) : added.front().name;
  guarded_write("record " + first, [&] {
    transact(pool_, actor_id, [&](pqxx::work& tx) {
      if (!changed.empty())
        tx.exec_params(
            "UPDATE dns_records d SET value = r.value, ttl = r.ttl::int, priority = NULLIF(r.priority, '')::int, "
            "status = 'pending', desired = 'present', last_error = NULL, validation_status = NULL "
            "FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[]) AS r(id, value, ttl, priority) "
            "WHERE d.id = r.id AND d.zone_id = $1::uuid",
            zone_id, text_array(c.id), text_array(c.value), text_array(c.ttl), text_array(c.priority));
      if (added.empty()) return;
      const auto rows = tx.exec_params(
          "INSERT INTO dns_records (user_id, zone_id, provider, record_type, name, value, ttl, priority) "
          "SELECT z.user_id, z.id, z.provider, r.type, r.name, r.value, r.ttl::int, NULLIF(r.priority, '')::int "
          "FROM dns_zones z, unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) "
          "WITH ORDINALITY AS r(type, name, value, ttl, priority, n) WHERE z.id = $1::uuid ORDER BY r.n "
          "RETURNING id::text",
          zone_id, text_array(a.type), text_array(a.name), text_array(a.value), text_array(a.ttl), text_array(a.priority));
      if (rows.size() != added.size()) throw DbError("no such zone");
      for (const auto& r : rows) ids.push_back(r[0].as<std::string>());
    });
  });
  return ids;
}

bool DnsRecords::mark_absent(const std::string& zone_id, const std::string& record_id, const std::string& actor_id) {
  if (!is_uuid(record_id)) return false;  // a malformed id names no record
  bool found = false;
  transact(pool_, actor_id, [&](pqxx::work& tx) {
    found = tx.exec_params("UPDATE dns_records SET desired = 'absent' WHERE id = $2::uuid AND zone_id = $1::uuid",
                           zone_id, record_id)
                .affected_rows() == 1;
  });
  return found;
}

void DnsRecords::record_outcomes(const std::vector<DnsOutcome>& outcomes, const std::string& actor_id) {
  std::vector<std::string> active_ids, provider_ids, failed_ids, errors, deleted_ids;
  for (const auto& o : outcomes) {
    switch (o.kind) {
      case DnsOutcome::Kind::active:
        active_ids.push_back(o.record_id);
        provider_ids.push_back(o.provider_record_id);
        break;
      case DnsOutcome::Kind::failed:
        failed_ids.push_back(o.record_id);
        errors.push_back(o.error);
        break;
      case DnsOutcome::Kind::deleted:
        deleted_ids.push_back(o.record_id);
        break;
    }
  }
  transact(pool_, actor_id, [&](pqxx::work& tx) {
    if (!active_ids.empty())
      tx.exec_params(
          "UPDATE dns_records d SET status = 'active', provider_record_id = r.pid, last_error = NULL, "
          "validation_status = CASE WHEN d.status = 'active' AND d.provider_record_id = r.pid THEN d.validation_status END "
          "FROM unnest($1::uuid[], $2::text[]) AS r(id, pid) WHERE d.id = r.id",
          text_array(active_ids), text_array(provider_ids));
    if (!failed_ids.empty())
      tx.exec_params(
          "UPDATE dns_records d SET status = 'failed', last_error = r.error "
          "FROM unnest($1::uuid[], $2::text[]) AS r(id, error) WHERE d.id = r.id",
          text_array(failed_ids), text_array(errors));
    if (!deleted_ids.empty())
      tx.exec_params("DELETE FROM dns_records WHERE id = ANY($1::uuid[])", text_array(deleted_ids));
  });
}

void DnsRecords::record_validations(const std::vector<DnsValidation>& validations, const std::string& actor_id) {
  if (validations.empty()) return;
  std::vector<std::string> ids, statuses, served;
  for (const auto& v : validations) {
    ids.push_back(v.record_id);
    statuses.push_back(v.validation_status);
    served.push_back(v.served_value);
  }
  transact(pool_, actor_id, [&](pqxx::work& tx) {
    tx.exec_params(
        "UPDATE dns_records d SET validation_status = r.vs, served_value = r.served, validated_at = now(), "
        "status = CASE WHEN d.status NOT IN ('active', 'invalid') THEN d.status "  // not applied yet
        "              WHEN r.vs IN ('mismatch', 'missing') THEN 'invalid' "
        "              WHEN r.vs = 'valid' THEN 'active' ELSE d.status END "
        "FROM unnest($1::uuid[], $2::text[], $3::text[]) AS r(id, vs, served) WHERE d.id = r.id",
        text_array(ids), text_array(statuses), text_array(served));
  });
}

}  // namespace mailroom::db
