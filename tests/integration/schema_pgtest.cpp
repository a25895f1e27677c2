// Migration 003 against its contract: every table, column, index, function and trigger that
// the seed document names must exist after `migrate up`. The names are read from the seed
// itself (tests/data/, a verbatim copy of shared/seed/), not from a list typed here.
#include "db.hpp"
#include "harness.hpp"
#include "migrate.hpp"

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

namespace {

using mailroom::testing::fresh_database;

struct SeedContract {
  std::map<std::string, std::vector<std::string>> columns;  // table -> columns
  std::set<std::string> indexes;
  std::set<std::string> functions;
  std::set<std::string> triggers;
};

SeedContract read_seed() {
  std::ifstream in(MAILROOM_SEED_FILE);
  EXPECT_TRUE(in) << MAILROOM_SEED_FILE;
  SeedContract seed;
  const std::regex table_heading(R"(^### \d+\. `([a-z_]+)`$)");
  const std::regex function_heading(R"(^### \d+\. `([a-z_]+)\(\)`$)");
  const std::regex backticked("`([a-z_]+)`");
  enum { none, columns, indexes, triggers } section = none;
  std::string table;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, function_heading)) {
      seed.functions.insert(m[1]);
      section = none;
    } else if (std::regex_match(line, m, table_heading)) {
      table = m[1];
      section = none;
    } else if (line == "**Key Columns:**") {
      section = columns;
    } else if (line == "**Indexes:**") {
      section = indexes;
    } else if (line == "**Triggers using this function:**") {
      section = triggers;
    } else if (line.starts_with("## ")) {
      section = none;
      table.clear();
    } else if (line.starts_with("- `") && section != none) {
      // "- `a`, `b` - text": the names are the backticked words before " - ".
      const std::string names = line.substr(0, line.find(" - "));
      for (auto it = std::sregex_iterator(names.begin(), names.end(), backticked); it != std::sregex_iterator(); ++it) {
        const std::string name = (*it)[1];
        if (section == columns) seed.columns[table].push_back(name);
        if (section == indexes) seed.indexes.insert(name);
        if (section == triggers) seed.triggers.insert(name);
      }
    }
  }
  return seed;
}

class Schema : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = fresh_database();
    std::ostringstream progress;
    mailroom::migrate::Migrator(url_, mailroom::migrate::embedded_migrations(), progress).up();
  }
  pqxx::result query(const std::string& sql) {
    pqxx::connection c(url_);
    pqxx::read_transaction tx(c);
    return tx.exec(sql);
  }
  std::set<std::string> names(const std::string& sql) {
    std::set<std::string> out;
    for (const auto& row : query(sql)) out.insert(row[0].as<std::string>());
    return out;
  }
  std::string url_;
};

TEST_F(Schema, SeedIsReadWhole) {
  const auto seed = read_seed();
  // The seed's own counts: six tables, 28 indexes, three functions, five updated_at triggers.
  EXPECT_EQ(seed.columns.size(), 6u);
  EXPECT_EQ(seed.indexes.size(), 28u);
  EXPECT_EQ(seed.functions, (std::set<std::string>{"log_email_config_changes", "log_dns_record_changes",
                                                   "update_updated_at_column"}));
  EXPECT_EQ(seed.triggers.size(), 5u);
  EXPECT_EQ(seed.columns.at("email_queue").size(), 20u);
}

TEST_F(Schema, EveryColumnTheSeedNamesExists) {
  std::set<std::string> present;
  for (const auto& row : query("SELECT table_name || '.' || column_name FROM information_schema.columns "
                               "WHERE table_schema = 'public'"))
    present.insert(row[0].as<std::string>());
  std::vector<std::string> missing;
  for (const auto& [table, columns] : read_seed().columns)
    for (const auto& column : columns)
      if (!present.count(table + "." + column)) missing.push_back(table + "." + column);
  EXPECT_TRUE(missing.empty()) << ::testing::PrintToString(missing);
}

TEST_F(Schema, EveryIndexFunctionAndTriggerTheSeedNamesExists) {
  const auto seed = read_seed();
  const auto indexes = names("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'");
  const auto functions = names("SELECT proname FROM pg_proc JOIN pg_namespace n ON n.oid = pronamespace "
                               "WHERE n.nspname = 'public'");
  const auto triggers = names("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal");
  std::vector<std::string> missing;
  for (const auto& i : seed.indexes)
    if (!indexes.count(i)) missing.push_back("index " + i);
  for (const auto& f : seed.functions)
    if (!functions.count(f)) missing.push_back("function " + f);
  for (const auto& t : seed.triggers)
    if (!triggers.count(t)) missing.push_back("trigger " + t);
  EXPECT_TRUE(missing.empty()) << ::testing::PrintToString(missing);
  // The composite queue index is on (status, created_at), in that order.
  EXPECT_EQ(query("SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_email_queue_status_created'")[0][0]
                .as<std::string>()
                .find("(status, created_at)") != std::string::npos,
            true);
}

TEST_F(Schema, EnumeratedValuesAreEnforced) {
  pqxx::connection c(url_);
  const auto user = [&] {
    pqxx::work tx(c);
    auto id = tx.exec("INSERT INTO users (email) VALUES ('u@example.com') RETURNING id::text")[0][0].as<std::string>();
    tx.commit();
    return id;
  }();
  auto accepts = [&](const std::string& sql) {
    try {
      pqxx::work tx(c);
      tx.exec(sql);
      tx.commit();
      return true;
    } catch (const pqxx::check_violation&) {
      return false;
    }
  };
  const std::string queue = "INSERT INTO email_queue (user_id, recipient_email, subject, status) VALUES ('" + user +
                            "', 'r@example.com', 's', ";
  for (const char* status : {"pending", "queued", "sending", "sent", "failed", "bounced", "spam"})
    EXPECT_TRUE(accepts(queue + "'" + status + "')")) << status;
  EXPECT_FALSE(accepts(queue + "'delivered')"));
  const std::string dns = "INSERT INTO dns_records (user_id, provider, record_type, name, value, status) VALUES ('" +
                          user + "', ";
  for (const char* type : {"A", "AAAA", "CNAME", "MX", "TXT", "SPF", "DKIM", "DMARC"})
    EXPECT_TRUE(accepts(dns + "'cloudflare', '" + type + "', 'x.example', 'v', 'pending')")) << type;
  EXPECT_FALSE(accepts(dns + "'cloudflare', 'NS', 'x.example', 'v', 'pending')"));
  // Migration 010: any plugin's name, nothing that is not one.
  EXPECT_TRUE(accepts(dns + "'godaddy', 'TXT', 'x.example', 'v', 'pending')"));
  EXPECT_FALSE(accepts(dns + "'Go Daddy', 'TXT', 'x.example', 'v', 'pending')"));
  for (const char* status : {"pending", "active", "failed", "invalid"})
    EXPECT_TRUE(accepts(dns + "'route53', 'TXT', 'x.example', 'v', '" + status + "')")) << status;
  EXPECT_FALSE(accepts(dns + "'route53', 'TXT', 'x.example', 'v', 'done')"));
  EXPECT_TRUE(accepts("INSERT INTO email_configurations (user_id, provider) VALUES ('" + user + "', 'mailgun')"));
  EXPECT_FALSE(accepts("INSERT INTO email_configurations (user_id, provider) VALUES ('" + user + "', 'mail gun')"));
  EXPECT_FALSE(accepts("INSERT INTO email_configurations (user_id, provider, smtp_password_encrypted) VALUES ('" +
                       user + "', 'smtp_relay', 'plaintext-password')"));
}

}  // namespace
