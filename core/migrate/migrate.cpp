#include "migrate.hpp"

#include "db.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

namespace mailroom::migrate {
namespace {

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw MigrationError("cannot read " + file.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// Holds the migration lock on its own connection for the lifetime of a run.
class LockedConnection {
 public:
  explicit LockedConnection(const std::string& url) try : connection_(url) {
    db::schema_migrations::lock(connection_);
    db::schema_migrations::ensure_table(connection_);
  } catch (const pqxx::broken_connection& e) {
    throw MigrationError(std::string("cannot connect to the database: ") + e.what());
  }
  ~LockedConnection() {
    try {
      db::schema_migrations::unlock(connection_);
    } catch (...) {
      // Closing the connection releases the lock anyway.
    }
  }
  pqxx::connection& get() { return connection_; }

 private:
  pqxx::connection connection_;
};

}  // namespace

std::string Migration::checksum() const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(up_sql.data(), up_sql.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

std::vector<std::string> Migration::tables() const {
  static const std::regex create(R"(CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([a-z_][a-z0-9_]*))", std::regex::icase);
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(up_sql.begin(), up_sql.end(), create); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1].str());
  return out;
}

std::vector<Migration> load_migrations(const std::filesystem::path& dir) {
  static const std::regex pattern(R"(^([0-9]{3})_([a-z0-9_]+)\.up\.sql$)");
  std::vector<Migration> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string file = entry.path().filename().string();
    if (!std::regex_match(file, m, pattern)) continue;
    const auto down = dir / (m[1].str() + "_" + m[2].str() + ".down.sql");
    if (!std::filesystem::exists(down)) throw MigrationError("migration " + file + " has no " + down.filename().string());
    out.push_back({m[1].str(), m[2].str(), read_file(entry.path()), read_file(down)});
  }
  if (ec) throw MigrationError("cannot read migrations directory " + dir.string() + ": " + ec.message());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.version < b.version; });
  return out;
}

Migrator::Migrator(std::string database_url, std::vector<Migration> migrations, std::ostream& progress)
    : url_(std::move(database_url)), migrations_(std::move(migrations)), progress_(progress) {}

std::vector<MigrationStatus> Migrator::status() {
  LockedConnection connection(url_);
  std::map<std::string, db::AppliedMigration> applied;
  for (auto& a : db::schema_migrations::applied(connection.get())) applied[a.version] = a;

  std::vector<MigrationStatus> out;
  for (const auto& m : migrations_) {
    MigrationStatus s{m.version, m.name, false, "", ""};
    const auto tables = m.tables();
    const auto present = db::schema_migrations::existing_relations(connection.get(), tables);
    if (auto it = applied.find(m.version); it != applied.end()) {
      s.applied = true;
      s.applied_at = it->second.applied_at;
      if (it->second.checksum != m.checksum()) {
        s.problem = "applied with checksum " + it->second.checksum.substr(0, 12) + ", but " + m.file() +
                    " now has checksum " + m.checksum().substr(0, 12) +
                    ": an applied migration must never change; revert the file and add a new migration";
      } else if (present.size() != tables.size()) {
        std::vector<std::string> missing;
        for (const auto& t : tables)
          if (std::find(present.begin(), present.end(), t) == present.end()) missing.push_back(t);
        s.problem = "recorded as applied, but its tables " + join(missing) +
                    " are missing: run `mailroom migrate down " + m.version + "`, then `mailroom migrate up`";
      }
    } else if (!present.empty()) {
      s.problem = "not recorded as applied, but its tables " + join(present) +
                  " exist (a partial or manual apply; `up` would fail with \"relation already exists\"): run "
                  "`mailroom migrate down " + m.version + "` to remove them, then `mailroom migrate up`";
    }
    out.push_back(std::move(s));
    applied.erase(m.version);
  }
  for (const auto& [version, a] : applied)
    out.push_back({version, a.name, true, a.applied_at,
                   "applied in the database but unknown to this mailroom (a newer version migrated it): upgrade mailroom"});
  return out;
}

std::vector<std::string> Migrator::up(const std::optional<std::string>& to) {
  if (to && std::none_of(migrations_.begin(), migrations_.end(), [&](const auto& m) { return m.version == *to; }))
    throw MigrationError("no migration " + *to + " (known: " + [&] {
      std::vector<std::string> v;
      for (const auto& m : migrations_) v.push_back(m.version);
      return join(v);
    }() + ")");
  // Check everything first: a refused run changes nothing.
  for (const auto& s : status())
    if (!s.problem.empty() && (!to || s.version <= *to))
      throw MigrationError("migration " + s.version + " (" + s.name + "): " + s.problem);

  LockedConnection connection(url_);
  std::vector<std::string> done;
  std::map<std::string, bool> applied;
  for (const auto& a : db::schema_migrations::applied(connection.get())) applied[a.version] = true;
  for (const auto& m : migrations_) {
    if (to && m.version > *to) break;
    if (applied.count(m.version)) continue;  // another host may have applied it meanwhile
    progress_ << "applying " << m.version << " " << m.name << "\n";
    try {
      db::schema_migrations::apply(connection.get(), m.up_sql, {m.version, m.name, m.checksum(), ""}, true);
    } catch (const pqxx::sql_error& e) {
      throw MigrationError("migration " + m.version + " (" + m.name + ") failed and was rolled back: " + e.what());
    }
    done.push_back(m.version);
  }
  return done;
}

std::vector<std::string> Migrator::down(const std::string& version) {
  const auto target = std::find_if(migrations_.begin(), migrations_.end(), [&](const auto& m) { return m.version == version; });
  if (target == migrations_.end()) throw MigrationError("no migration " + version);
  LockedConnection connection(url_);
  std::map<std::string, bool> applied;
  for (const auto& a : db::schema_migrations::applied(connection.get())) applied[a.version] = true;
  for (const auto& entry : applied) {
    const std::string& v = entry.first;  // a named variable: clang 14 cannot capture a structured binding
    if (v >= version && std::none_of(migrations_.begin(), migrations_.end(), [&](const auto& m) { return m.version == v; }))
      throw MigrationError("migration " + v + " is applied but unknown to this mailroom: roll it back with the mailroom that applied it");
  }

  std::vector<std::string> done;
  for (auto it = migrations_.rbegin(); it != migrations_.rend() && it->version >= version; ++it) {
    const bool recorded = applied.count(it->version) > 0;
    const bool leftovers = !db::schema_migrations::existing_relations(connection.get(), it->tables()).empty();
    if (!recorded && !(it->version == version && leftovers)) continue;
    progress_ << "rolling back " << it->version << " " << it->name << "\n";
    try {
      db::schema_migrations::apply(connection.get(), it->down_sql, {it->version, it->name, "", ""}, false);
    } catch (const pqxx::sql_error& e) {
      throw MigrationError("rolling back " + it->version + " (" + it->name + ") failed and was undone: " + e.what());
    }
    done.push_back(it->version);
  }
  return done;
}

}  // namespace mailroom::migrate
