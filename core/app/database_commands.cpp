// `mailroom db ...` (the embedded cluster) and `mailroom migrate ...`.
#include "commands.hpp"
#include "embedded_db.hpp"
#include "migrate.hpp"

#include <iostream>
#include <optional>

namespace mailroom::app {
namespace {

int db_start() {
  std::cout << embedded_db::start(embedded_db::kDefaultRoot, std::cerr) << "\n";
  return 0;
}

int db_stop() {
  std::cout << (embedded_db::stop(embedded_db::kDefaultRoot) ? "stopped" : "not running") << "\n";
  return 0;
}

int db_status() {
  const auto s = embedded_db::status(embedded_db::kDefaultRoot);
  std::cout << "directory:   " << s.root.string() << "\n"
            << "initialized: " << (s.initialized ? "yes" : "no") << "\n"
            << "running:     " << (s.running ? "yes" : "no") << "\n"
            << "runs as:     " << s.server_user << "\n";
  if (s.running) std::cout << "url:         " << s.url << "\n";
  return 0;
}

int db_url() {
  const auto s = embedded_db::status(embedded_db::kDefaultRoot);
  if (!s.running) {
    std::cerr << "mailroom: the embedded database is not running (start it with `mailroom db start`)\n";
    return 1;
  }
  std::cout << s.url << "\n";
  return 0;
}

int migrate_up(const Globals& globals, const std::string& to) {
  migrate::Migrator migrator(database_url(load_config(globals)), migrate::embedded_migrations(), std::cerr);
  const auto applied = migrator.up(to.empty() ? std::nullopt : std::optional<std::string>(to));
  std::cout << (applied.empty() ? "database is up to date" : "applied " + std::to_string(applied.size()) + " migration(s)")
            << "\n";
  return 0;
}

int migrate_down(const Globals& globals, const std::string& version) {
  migrate::Migrator migrator(database_url(load_config(globals)), migrate::embedded_migrations(), std::cerr);
  const auto rolled = migrator.down(version);
  std::cout << "rolled back " << rolled.size() << " migration(s)\n";
  return 0;
}

int migrate_status(const Globals& globals) {
  migrate::Migrator migrator(database_url(load_config(globals)), migrate::embedded_migrations(), std::cerr);
  int problems = 0;
  for (const auto& s : migrator.status()) {
    std::cout << s.version << "  " << s.name << "  " << (s.applied ? "applied " + s.applied_at : "pending") << "\n";
    if (!s.problem.empty()) {
      std::cout << "     problem: " << s.problem << "\n";
      ++problems;
    }
  }
  return problems == 0 ? 0 : 1;
}

}  // namespace

void add_database_commands(CLI::App& app, const Globals& globals, Action& action) {
  auto* db = app.add_subcommand("db", "The embedded PostgreSQL cluster under ./.mailroom/ (used when database.url is empty)");
  db->require_subcommand(1);
  db->add_subcommand("start", "Create (first time) and start the embedded cluster; prints its URL")
      ->callback([&] { action = db_start; });
  db->add_subcommand("stop", "Stop the embedded cluster")->callback([&] { action = db_stop; });
  db->add_subcommand("status", "Show whether the embedded cluster exists and runs")->callback([&] { action = db_status; });
  db->add_subcommand("url", "Print the running embedded cluster's URL")->callback([&] { action = db_url; });

  auto* migrate = app.add_subcommand("migrate", "Apply or roll back schema migrations (database.url, or the embedded cluster)");
  migrate->require_subcommand(1);
  auto to = std::make_shared<std::string>();
  auto* up = migrate->add_subcommand("up", "Apply every pending migration (each in one transaction)");
  up->add_option("--to", *to, "Stop after this version (e.g. 003)");
  up->callback([&, to] { action = [&, to] { return migrate_up(globals, *to); }; });
  auto version = std::make_shared<std::string>();
  auto* down = migrate->add_subcommand("down", "Roll back VERSION and every later migration, newest first");
  down->add_option("VERSION", *version, "e.g. 003")->required();
  down->callback([&, version] { action = [&, version] { return migrate_down(globals, *version); }; });
  migrate->add_subcommand("status", "List migrations, applied or pending, and any inconsistency; exit 1 on a problem")
      ->callback([&] { action = [&] { return migrate_status(globals); }; });
}

}  // namespace mailroom::app
