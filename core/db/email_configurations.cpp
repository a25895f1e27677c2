#include "db.hpp"
#include "sql_arrays.hpp"

#include <algorithm>

namespace mailroom::db {
namespace {

const char* const kColumns =
    "id::text AS id, user_id::text AS user_id, provider, coalesce(smtp_host, '') AS smtp_host, "
    "coalesce(smtp_port::text, '') AS smtp_port, coalesce(smtp_username, '') AS smtp_username, "
    "coalesce(from_address, '') AS from_address, coalesce(from_name, '') AS from_name, "
    "coalesce(reply_to_address, '') AS reply_to_address, is_active, is_verified, settings::text AS settings, "
    "google_oauth_token_encrypted, google_oauth_refresh_token_encrypted, google_service_account_encrypted, "
    "smtp_password_encrypted, secrets_encrypted, coalesce(plugin, '') AS plugin, created_at::text AS created_at, "
    "coalesce(send_window::text, '') AS send_window, coalesce(requests_per_second::text, '') AS requests_per_second, "
    "coalesce(daily_limit::text, '') AS daily_limit, coalesce(hourly_limit::text, '') AS hourly_limit, "
    "array_to_json(verify_unchecked)::text AS verify_unchecked, list_unsubscribe, "
    "coalesce(unsubscribe_mailto, '') AS unsubscribe_mailto, "
    "updated_at::text AS updated_at";

EmailConfiguration to_config(const pqxx::row& r) {
  EmailConfiguration c;
  c.id = r["id"].as<std::string>();
  c.user_id = r["user_id"].as<std::string>();
  c.provider = r["provider"].as<std::string>();
  c.smtp_host = r["smtp_host"].as<std::string>();
  const auto port = r["smtp_port"].as<std::string>();
  if (!port.empty()) c.smtp_port = std::stoi(port);
  c.smtp_username = r["smtp_username"].as<std::string>();
  c.from_address = r["from_address"].as<std::string>();
  c.from_name = r["from_name"].as<std::string>();
  c.reply_to_address = r["reply_to_address"].as<std::string>();
  c.is_active = r["is_active"].as<bool>();
  c.is_verified = r["is_verified"].as<bool>();
  c.settings = nlohmann::json::parse(r["settings"].as<std::string>());
  for (const auto& column : kEmailConfigSecretColumns)
    if (!r[column].is_null()) c.ciphertexts[column] = r[column].as<std::string>();
  c.plugin = r["plugin"].as<std::string>();
  if (const auto window = r["send_window"].as<std::string>(); !window.empty()) c.send_window = std::stoi(window);
  if (const auto rate = r["requests_per_second"].as<std::string>(); !rate.empty()) c.requests_per_second = std::stod(rate);
  if (const auto limit = r["daily_limit"].as<std::string>(); !limit.empty()) c.daily_limit = std::stoi(limit);
  if (const auto limit = r["hourly_limit"].as<std::string>(); !limit.empty()) c.hourly_limit = std::stoi(limit);
  c.verify_unchecked = nlohmann::json::parse(r["verify_unchecked"].as<std::string>()).get<std::vector<std::string>>();
  c.list_unsubscribe = r["list_unsubscribe"].as<bool>();
  c.unsubscribe_mailto = r["unsubscribe_mailto"].as<std::string>();
  c.created_at = r["created_at"].as<std::string>();
  c.updated_at = r["updated_at"].as<std::string>();
  return c;
}

std::string cipher(const EmailConfiguration& c, const std::string& column) {
  auto it = c.ciphertexts.find(column);
  return it == c.ciphertexts.end() ? std::string() : it->second;
}

std::string port_text(const EmailConfiguration& c) { return c.smtp_port ? std::to_string(*c.smtp_port) : ""; }
std::string int_text(const std::optional<int>& value) { return value ? std::to_string(*value) : ""; }
std::string rate_text(const EmailConfiguration& c) {
  if (!c.requests_per_second) return "";
  char text[64];
  std::snprintf(text, sizeof text, "%.17g", *c.requests_per_second);  // round-trips the double
  return text;
}

// Turns constraint violations into messages that name the field.
template <class F>
void guarded_write(F&& write) {
  try {
    write();
  } catch (const pqxx::check_violation& e) {
    const std::string what = e.what();
    for (const char* field : {"provider", "smtp_port", "settings", "send_window", "requests_per_second", "daily_limit", "hourly_limit"})
      if (what.find(std::string("_") + field + "_check") != std::string::npos)
        throw DbError(std::string("invalid ") + field);
    throw DbError("a value is out of range");
  } catch (const pqxx::foreign_key_violation&) {
    throw DbError("no such user");
  }
}

}  // namespace

std::string EmailConfigurations::new_id() {
  Reader reader(pool_);
  auto& tx = reader.tx();
  return tx.exec("SELECT gen_random_uuid()::text")[0][0].as<std::string>();
}

void EmailConfigurations::create(const EmailConfiguration& c, const std::string& actor_id) {
  guarded_write([&] {
    transact(pool_, actor_id, [&](pqxx::work& tx) {
      tx.exec_params(
          "INSERT INTO email_configurations (id, user_id, provider, smtp_host, smtp_port, smtp_username, "
          "from_address, from_name, reply_to_address, is_active, is_verified, settings, "
          "google_oauth_token_encrypted, google_oauth_refresh_token_encrypted, google_service_account_encrypted, "
          "smtp_password_encrypted, secrets_encrypted, created_by, updated_by, plugin, send_window, requests_per_second, daily_limit, hourly_limit, "
          "verify_unchecked, list_unsubscribe, unsubscribe_mailto) VALUES ("
          "$1::uuid, $2::uuid, $3, NULLIF($4, ''), NULLIF($5, '')::int, NULLIF($6, ''), NULLIF($7, ''), "
          "NULLIF($8, ''), NULLIF($9, ''), $10, $11, $12::jsonb, NULLIF($13, ''), NULLIF($14, ''), "
          "NULLIF($15, ''), NULLIF($16, ''), NULLIF($17, ''), NULLIF($18, '')::uuid, NULLIF($18, '')::uuid, NULLIF($19, ''), NULLIF($20, '')::int, "
          "NULLIF($21, '')::float8, NULLIF($22, '')::int, NULLIF($23, '')::int, $24::text[], $25, NULLIF($26, ''))",
          c.id, c.user_id, c.provider, c.smtp_host, port_text(c), c.smtp_username, c.from_address, c.from_name,
          c.reply_to_address, c.is_active, c.is_verified, c.settings.dump(),
          cipher(c, "google_oauth_token_encrypted"), cipher(c, "google_oauth_refresh_token_encrypted"),
          cipher(c, "google_service_account_encrypted"), cipher(c, "smtp_password_encrypted"),
          cipher(c, "secrets_encrypted"), actor_id, c.plugin, int_text(c.send_window), rate_text(c),
          int_text(c.daily_limit), int_text(c.hourly_limit), text_array(c.verify_unchecked), c.list_unsubscribe,
          c.unsubscribe_mailto);
    });
  });
}

void EmailConfigurations::update(const EmailConfiguration& c, const std::string& actor_id) {
  guarded_write([&] {
    transact(pool_, actor_id, [&](pqxx::work& tx) {
      const auto result = tx.exec_params(
          "UPDATE email_configurations SET smtp_host = NULLIF($2, ''), smtp_port = NULLIF($3, '')::int, "
          "smtp_username = NULLIF($4, ''), from_address = NULLIF($5, ''), from_name = NULLIF($6, ''), "
          "reply_to_address = NULLIF($7, ''), is_active = $8, is_verified = $9, settings = $10::jsonb, "
          "google_oauth_token_encrypted = NULLIF($11, ''), google_oauth_refresh_token_encrypted = NULLIF($12, ''), "
          "google_service_account_encrypted = NULLIF($13, ''), smtp_password_encrypted = NULLIF($14, ''), "
          "secrets_encrypted = NULLIF($15, ''), updated_by = NULLIF($16, '')::uuid, plugin = NULLIF($17, ''), "
          "send_window = NULLIF($18, '')::int, requests_per_second = NULLIF($19, '')::float8, "
          "daily_limit = NULLIF($20, '')::int, hourly_limit = NULLIF($21, '')::int, verify_unchecked = $22::text[], "
          "list_unsubscribe = $23, unsubscribe_mailto = NULLIF($24, '') "
          "WHERE id = $1::uuid",
          c.id, c.smtp_host, port_text(c), c.smtp_username, c.from_address, c.from_name, c.reply_to_address,
          c.is_active, c.is_verified, c.settings.dump(), cipher(c, "google_oauth_token_encrypted"),
          cipher(c, "google_oauth_refresh_token_encrypted"), cipher(c, "google_service_account_encrypted"),
          cipher(c, "smtp_password_encrypted"), cipher(c, "secrets_encrypted"), actor_id, c.plugin, int_text(c.send_window),
          rate_text(c), int_text(c.daily_limit), int_text(c.hourly_limit), text_array(c.verify_unchecked),
          c.list_unsubscribe, c.unsubscribe_mailto);
      if (result.affected_rows() != 1) throw DbError("no email configuration " + c.id);
    });
  });
}

bool EmailConfigurations::remove(const std::string& id, const std::string& user_id, const std::string& actor_id) {
  bool removed = false;
  transact(pool_, actor_id, [&](pqxx::work& tx) {
    removed = tx.exec_params("DELETE FROM email_configurations WHERE id = $1::uuid AND ($2 = '' OR user_id = NULLIF($2, '')::uuid)",
                             id, user_id).affected_rows() == 1;
  });
  return removed;
}

std::optional<EmailConfiguration> EmailConfigurations::find(const std::string& id) {
  if (!is_uuid(id)) return std::nullopt;  // a malformed id finds nothing
  Reader reader(pool_);
  const auto rows = exec_prepared(reader.tx(), "mr_configuration_find",
                                  std::string("SELECT ") + kColumns + " FROM email_configurations WHERE id = $1::uuid", id);
  if (rows.empty()) return std::nullopt;
  return to_config(rows[0]);
}

std::vector<EmailConfiguration> EmailConfigurations::list(const std::string& user_id) {
  Reader reader(pool_);
  auto& tx = reader.tx();
  std::vector<EmailConfiguration> out;
  for (const auto& row : tx.exec_params(std::string("SELECT ") + kColumns +
                                            " FROM email_configurations WHERE $1 = '' OR user_id = NULLIF($1, '')::uuid "
                                            "ORDER BY created_at, id",
                                        user_id))
    out.push_back(to_config(row));
  return out;
}

std::vector<EmailConfiguration> EmailConfigurations::needing_rotation(const std::string& key_id, std::size_t limit) {
  Reader reader(pool_);
  auto& tx = reader.tx();
  std::string where;
  for (const auto& column : kEmailConfigSecretColumns)
    where += (where.empty() ? "" : " OR ") + ("(" + column + " IS NOT NULL AND " + column + " NOT LIKE $1)");
  std::vector<EmailConfiguration> out;
  for (const auto& row : tx.exec_params(std::string("SELECT ") + kColumns + " FROM email_configurations WHERE " +
                                            where + " ORDER BY id LIMIT $2",
                                        "v1:" + key_id + ":%", static_cast<long>(limit)))
    out.push_back(to_config(row));
  return out;
}

void EmailConfigurations::store_ciphertexts(const std::vector<EmailConfiguration>& rows, const std::string& actor_id) {
  transact(pool_, actor_id, [&](pqxx::work& tx) {
    for (const auto& c : rows) {
      tx.exec_params(
          "UPDATE email_configurations SET google_oauth_token_encrypted = NULLIF($2, ''), "
          "google_oauth_refresh_token_encrypted = NULLIF($3, ''), google_service_account_encrypted = NULLIF($4, ''), "
          "smtp_password_encrypted = NULLIF($5, ''), secrets_encrypted = NULLIF($6, '') WHERE id = $1::uuid",
          c.id, cipher(c, "google_oauth_token_encrypted"), cipher(c, "google_oauth_refresh_token_encrypted"),
          cipher(c, "google_service_account_encrypted"), cipher(c, "smtp_password_encrypted"),
          cipher(c, "secrets_encrypted"));
    }
  });
}

ConfigurationCredential::ConfigurationCredential(Pool& pool, std::string configuration_id, std::string column)
    : pool_(pool), id_(std::move(configuration_id)), column_(std::move(column)) {
  if (std::find(kEmailConfigSecretColumns.begin(), kEmailConfigSecretColumns.end(), column_) == kEmailConfigSecretColumns.end())
    throw DbError("'" + column_ + "' is not a secret column of email_configurations");
}

std::string ConfigurationCredential::read() {
  Reader reader(pool_);
  const auto r = reader.tx().exec_params("SELECT coalesce(" + column_ + ", '') FROM email_configurations WHERE id = $1::uuid", id_);
  return r.empty() ? "" : r[0][0].as<std::string>();
}

void ConfigurationCredential::refresh(const std::function<std::string(const std::string& current)>& refresh) {
  transact(pool_, "", [&](pqxx::work& tx) {
    // Keyed by configuration: refreshes of different configurations do not wait for each other.
    tx.exec_params("SELECT pg_advisory_xact_lock(hashtextextended('mailroom.credential:' || $1, 0))", id_);
    const auto r = tx.exec_params("SELECT coalesce(" + column_ + ", '') FROM email_configurations WHERE id = $1::uuid", id_);
    if (r.empty()) throw DbError("email configuration " + id_ + " no longer exists");
    const std::string fresh = refresh(r[0][0].as<std::string>());
    if (!fresh.empty())
      tx.exec_params("UPDATE email_configurations SET " + column_ + " = $2 WHERE id = $1::uuid", id_, fresh);
  });
}

void ConfigurationCredential::clear_if(const std::string& sealed) {
  transact(pool_, "", [&](pqxx::work& tx) {
    tx.exec_params("UPDATE email_configurations SET " + column_ + " = NULL WHERE id = $1::uuid AND " + column_ + " = $2",
                   id_, sealed);
  });
}

}  // namespace mailroom::db
