// The migration runner against a real PostgreSQL: round trips, refusals, drift, concurrency.
#include "harness.hpp"
#include "migrate.hpp"

#include <fstream>
#include <future>

#include <algorithm>

namespace {

using mailroom::migrate::embedded_migrations;
using mailroom::migrate::MigrationError;
using mailroom::migrate::Migrator;
using mailroom::testing::fresh_database;

int count(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  return tx.exec(sql)[0][0].as<int>();
}

void exec(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::work tx(c);
  tx.exec(sql);
  tx.commit();
}

class Migrate : public ::testing::Test {
 protected:
  std::string url_ = fresh_database();
  std::ostringstream progress_;
  Migrator migrator() { return Migrator(url_, embedded_migrations(), progress_); }
  int tables() { return count(url_, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"); }
};

// Every embedded migration's version from `first` on, in order (or reversed).
std::vector<std::string> versions(const std::string& first = "", bool reversed = false) {
  std::vector<std::string> out;
  for (const auto& m : embedded_migrations())
    if (m.version >= first) out.push_back(m.version);
  if (reversed) std::reverse(out.begin(), out.end());
  return out;
}

TEST_F(Migrate, UpDownUpRoundTrips) {
  EXPECT_EQ(migrator().up(), versions());
  EXPECT_EQ(tables(), 20);  // users, audit_logs, api_tokens, six of 003, email_suppressions, dns_zones, unmatched_provider_events, quota_sends, email_attachments, email_attachment_contents, four webhook_*, schema_migrations
  EXPECT_TRUE(migrator().up().empty());
  EXPECT_EQ(migrator().down("003"), versions("003", true));
  EXPECT_EQ(tables(), 4);
  EXPECT_EQ(count(url_, "SELECT count(*) FROM pg_proc WHERE proname = 'log_email_config_changes'"), 0);
  EXPECT_EQ(count(url_, "SELECT count(*) FROM schema_migrations"), 2);
  EXPECT_EQ(migrator().up(std::string("003")), (std::vector<std::string>{"003"}));
  EXPECT_EQ(tables(), 10);
  EXPECT_EQ(migrator().up(), versions("004"));
  EXPECT_EQ(migrator().down("001"), versions("001", true));
  EXPECT_EQ(tables(), 1);  // only schema_migrations, which the runner owns
  for (const auto& s : migrator().status()) EXPECT_FALSE(s.applied) << s.version;
}

TEST_F(Migrate, ChangedFileOfAnAppliedMigrationIsRefused) {
  migrator().up();
  auto changed = embedded_migrations();
  changed[2].up_sql += "\n-- edited after it was applied\n";
  Migrator edited(url_, changed, progress_);
  try {
    edited.up();
    FAIL() << "accepted a changed migration";
  } catch (const MigrationError& e) {
    const std::string applied = embedded_migrations()[2].checksum().substr(0, 12);
    const std::string now = changed[2].checksum().substr(0, 12);
    EXPECT_EQ(std::string(e.what()), "migration 003 (email_relay_dns): applied with checksum " + applied +
                                         ", but 003_email_relay_dns.up.sql now has checksum " + now +
                                         ": an applied migration must never change; revert the file and add a new "
                                         "migration");
  }
}

TEST_F(Migrate, RecordedButMissingTablesAreExplained) {
  migrator().up();
  exec(url_, "DROP TABLE email_delivery_logs, email_queue CASCADE");  // CASCADE: 016's attachments refer to it
  const auto status = migrator().status();
  EXPECT_EQ(status[2].problem,
            "recorded as applied, but its tables email_queue, email_delivery_logs are missing: run `mailroom migrate "
            "down 003`, then `mailroom migrate up`");
  EXPECT_THROW(migrator().up(), MigrationError);
  migrator().down("003");
  migrator().up();
  for (const auto& s : migrator().status()) EXPECT_EQ(s.problem, "") << s.version;
}

TEST_F(Migrate, TablesWithoutARecordAreRefusedBeforeRelationAlreadyExists) {
  migrator().up(std::string("002"));
  exec(url_, "CREATE TABLE dns_records (id int)");  // a partial manual apply
  try {
    migrator().up();
    FAIL();
  } catch (const MigrationError& e) {
    EXPECT_EQ(std::string(e.what()),
              "migration 003 (email_relay_dns): not recorded as applied, but its tables dns_records exist (a partial "
              "or manual apply; `up` would fail with \"relation already exists\"): run `mailroom migrate down 003` to "
              "remove them, then `mailroom migrate up`");
  }
  EXPECT_EQ(count(url_, "SELECT count(*) FROM schema_migrations"), 2);  // nothing changed
  EXPECT_EQ(migrator().down("003"), (std::vector<std::string>{"003"}));
  EXPECT_EQ(migrator().up(), versions("003"));
}

TEST_F(Migrate, AFailingMigrationLeavesNothingBehind) {
  auto broken = embedded_migrations();
  broken[2].up_sql += "\nSELECT no_such_function();\n";
  try {
    Migrator(url_, broken, progress_).up();
    FAIL();
  } catch (const MigrationError& e) {
    EXPECT_NE(std::string(e.what()).find("migration 003 (email_relay_dns) failed and was rolled back"),
              std::string::npos);
  }
  EXPECT_EQ(count(url_, "SELECT count(*) FROM schema_migrations"), 2);
  EXPECT_EQ(count(url_, "SELECT count(*) FROM pg_tables WHERE tablename = 'email_queue'"), 0);
}

TEST_F(Migrate, TwoConcurrentProcessesEndWithOneAppliedSet) {
  const std::string command = "MAILROOM_DATABASE_URL=" + mailroom::testing::quote(url_) + " " MAILROOM_BINARY " migrate up";
  auto first = std::async(std::launch::async, [&] { return mailroom::testing::run_command(command); });
  auto second = std::async(std::launch::async, [&] { return mailroom::testing::run_command(command); });
  const auto a = first.get(), b = second.get();
  EXPECT_EQ(a.status, 0) << a.output;
  EXPECT_EQ(b.status, 0) << b.output;
  // Exactly one process applied each migration; the other found it done.
  const std::string both = a.output + b.output;
  for (const char* line : {"applying 001 core", "applying 003 email_relay_dns", "applying 004 provider_settings"}) {
    std::size_t n = 0;
    for (auto at = both.find(line); at != std::string::npos; at = both.find(line, at + 1)) ++n;
    EXPECT_EQ(n, 1u) << line << "\n" << both;
  }
  EXPECT_EQ(count(url_, "SELECT count(*) FROM schema_migrations"), static_cast<int>(versions().size()));
  EXPECT_EQ(tables(), 20);
}

TEST_F(Migrate, UnknownVersionIsAnError) {
  EXPECT_THROW(migrator().up(std::string("042")), MigrationError);
  EXPECT_THROW(migrator().down("042"), MigrationError);
}

TEST(MigrationFiles, LoadedFromDirectoryMatchTheEmbeddedOnes) {
  const auto from_files = mailroom::migrate::load_migrations(MAILROOM_MIGRATIONS_DIR);
  const auto embedded = embedded_migrations();
  ASSERT_EQ(from_files.size(), embedded.size());
  for (std::size_t i = 0; i < embedded.size(); ++i) {
    EXPECT_EQ(from_files[i].version, embedded[i].version);
    EXPECT_EQ(from_files[i].checksum(), embedded[i].checksum()) << embedded[i].file();
    EXPECT_EQ(from_files[i].down_sql, embedded[i].down_sql);
  }
}

}  // namespace
