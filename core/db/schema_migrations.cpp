#include "db.hpp"

namespace mailroom::db::schema_migrations {
namespace {
// Any constant shared by every mailroom host; "mailroom" in ASCII.
constexpr long long kMigrationLockKey = 0x6d61696c726f6f6dLL;
}

void lock(pqxx::connection& connection) {
  pqxx::nontransaction tx(connection);
  tx.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
}

void unlock(pqxx::connection& connection) {
  pqxx::nontransaction tx(connection);
  tx.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
}

void ensure_table(pqxx::connection& connection) {
  pqxx::work tx(connection);
  tx.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version TEXT PRIMARY KEY CHECK (version ~ '^[0-9]{3}$'),"
      " name TEXT NOT NULL,"
      " checksum TEXT NOT NULL,"
      " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
  tx.commit();
}

std::vector<AppliedMigration> applied(pqxx::connection& connection) {
  pqxx::read_transaction tx(connection);
  std::vector<AppliedMigration> out;
  for (const auto& r : tx.exec("SELECT version, name, checksum, applied_at::text FROM schema_migrations ORDER BY version"))
    out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>()});
  return out;
}

void apply(pqxx::connection& connection, const std::string& sql, const AppliedMigration& m, bool record) {
  pqxx::work tx(connection);
  tx.exec(sql);
  if (record)
    tx.exec_params("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", m.version, m.name,
                   m.checksum);
  else
    tx.exec_params("DELETE FROM schema_migrations WHERE version = $1", m.version);
  tx.commit();
}

std::vector<std::string> existing_relations(pqxx::connection& connection, const std::vector<std::string>& names) {
  pqxx::read_transaction tx(connection);
  std::vector<std::string> out;
  for (const auto& name : names)
    if (!tx.exec_params("SELECT to_regclass($1)", name)[0][0].is_null()) out.push_back(name);
  return out;
}

}  // namespace mailroom::db::schema_migrations
