// Schema migrations: `migrations/NNN_name.up.sql` / `.down.sql`, embedded in the binary.
// Each migration runs in one transaction; a PostgreSQL advisory lock makes concurrent runs
// from several hosts safe (the second waits, then finds nothing to do); schema_migrations
// records version, name, checksum (SHA-256 of the up file) and time.
#pragma once

#include <filesystem>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace mailroom::migrate {

class MigrationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Migration {
  std::string version;  // "003"
  std::string name;     // "email_relay_dns"
  std::string up_sql;
  std::string down_sql;

  std::string checksum() const;  // hex SHA-256 of up_sql
  std::string file() const { return version + "_" + name + ".up.sql"; }
  // Relations the up file creates (CREATE TABLE): how drift is detected.
  std::vector<std::string> tables() const;
};

// The migrations this binary was built with, in version order.
std::vector<Migration> embedded_migrations();
// Reads NNN_name.up.sql / .down.sql pairs from a directory (tests, tools).
std::vector<Migration> load_migrations(const std::filesystem::path& dir);

struct MigrationStatus {
  std::string version;
  std::string name;
  bool applied = false;
  std::string applied_at;
  std::string problem;  // empty when consistent; else what is wrong and what to do
};

class Migrator {
 public:
  Migrator(std::string database_url, std::vector<Migration> migrations, std::ostream& progress);

  // Applies every pending migration up to `to` (inclusive; nullopt = all). Refuses, before
  // changing anything, when an applied migration's file changed or the database is in a
  // state the seed's troubleshooting describes. Returns the versions applied.
  std::vector<std::string> up(const std::optional<std::string>& to = std::nullopt);
  // Rolls back every applied migration with a version >= `version`, newest first. Also
  // cleans up `version` when it left tables behind without being recorded.
  std::vector<std::string> down(const std::string& version);
  std::vector<MigrationStatus> status();

 private:
  std::string url_;
  std::vector<Migration> migrations_;
  std::ostream& progress_;
};

}  // namespace mailroom::migrate
