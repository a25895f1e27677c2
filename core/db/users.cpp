#include "db.hpp"
#include "sql_arrays.hpp"

namespace mailroom::db {
namespace {
User to_user(const pqxx::row& r) {
  return User{r["id"].as<std::string>(), r["email"].as<std::string>(),
              r["name"].is_null() ? "" : r["name"].as<std::string>(), r["is_admin"].as<bool>()};
}
}  // namespace

User Users::create(const std::string& email, const std::string& name, bool is_admin) {
  User user;
  try {
    transact(pool_, "", [&](pqxx::work& tx) {
      user = to_user(tx.exec_params1(
          "INSERT INTO users (email, name, is_admin) VALUES ($1, NULLIF($2, ''), $3) "
          "RETURNING id, email, name, is_admin",
          email, name, is_admin));
    });
  } catch (const pqxx::unique_violation&) {
    throw DbError("a user with email '" + email + "' already exists");
  } catch (const pqxx::check_violation&) {
    throw DbError("'" + email + "' is not an email address");
  }
  return user;
}

std::optional<User> Users::find_by_email(const std::string& email) {
  Reader reader(pool_);
  auto& tx = reader.tx();
  const auto rows = tx.exec_params("SELECT id, email, name, is_admin FROM users WHERE email = $1", email);
  if (rows.empty()) return std::nullopt;
  return to_user(rows[0]);
}

std::optional<User> Users::find(const std::string& id) {
  if (!is_uuid(id)) return std::nullopt;
  Reader reader(pool_);
  const auto rows = reader.tx().exec_params("SELECT id, email, name, is_admin FROM users WHERE id = $1::uuid", id);
  if (rows.empty()) return std::nullopt;
  return to_user(rows[0]);
}

std::vector<User> Users::list() {
  Reader reader(pool_);
  auto& tx = reader.tx();
  std::vector<User> users;
  for (const auto& row : tx.exec("SELECT id, email, name, is_admin FROM users ORDER BY email")) users.push_back(to_user(row));
  return users;
}

std::vector<AuditEntry> audit_for(Pool& pool, const std::string& resource_type, const std::string& resource_id) {
  Reader reader(pool);
  auto& tx = reader.tx();
  std::vector<AuditEntry> entries;
  for (const auto& r : tx.exec_params(
           "SELECT coalesce(user_id::text, '') AS user_id, action, resource_type, resource_id::text AS resource_id, "
           "array_to_json(changed_fields)::text AS changed_fields, details::text AS details "
           "FROM audit_logs WHERE resource_type = $1 AND resource_id = $2::uuid ORDER BY created_at, id",
           resource_type, resource_id)) {
    entries.push_back(AuditEntry{r["user_id"].as<std::string>(), r["action"].as<std::string>(),
                                 r["resource_type"].as<std::string>(), r["resource_id"].as<std::string>(),
                                 from_json_array(r["changed_fields"]),
                                 nlohmann::json::parse(r["details"].as<std::string>())});
  }
  return entries;
}

std::vector<AuditRow> audit_list(Pool& pool, const AuditFilter& f) {
  Reader reader(pool);
  std::vector<AuditRow> out;
  for (const auto& r : reader.tx().exec_params(
           "SELECT id::text, created_at::text, coalesce(user_id::text, '') AS user_id, action, resource_type, "
           "coalesce(resource_id::text, '') AS resource_id, array_to_json(changed_fields)::text AS changed_fields, "
           "details::text AS details FROM audit_logs "
           "WHERE ($1 = '' OR resource_type = $1) AND ($2 = '' OR resource_id::text = lower($2)) "
           "AND ($3 = '' OR (created_at, id) < (SELECT created_at, id FROM audit_logs WHERE id::text = lower($3))) "
           "ORDER BY created_at DESC, id DESC LIMIT $4",
           f.resource_type, f.resource_id, f.before_id, static_cast<long>(f.limit)))
    out.push_back({r["id"].as<std::string>(), r["created_at"].as<std::string>(),
                   AuditEntry{r["user_id"].as<std::string>(), r["action"].as<std::string>(),
                              r["resource_type"].as<std::string>(), r["resource_id"].as<std::string>(),
                              from_json_array(r["changed_fields"]), nlohmann::json::parse(r["details"].as<std::string>())}});
  return out;
}

bool audit_entry_visible(Pool& pool, const std::string& id) {
  if (!is_uuid(id)) return false;
  Reader reader(pool);
  return !reader.tx().exec_params("SELECT 1 FROM audit_logs WHERE id = $1::uuid", id).empty();
}

}  // namespace mailroom::db
