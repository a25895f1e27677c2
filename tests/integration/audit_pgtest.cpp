// Audit and updated_at triggers fire for any SQL, not only mailroom's own.
#include "db.hpp"
#include "harness.hpp"
#include "migrate.hpp"

namespace {

using mailroom::testing::fresh_database;

class Audit : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ostringstream progress;
    mailroom::migrate::Migrator(url_, mailroom::migrate::embedded_migrations(), progress).up();
    owner_ = one("INSERT INTO users (email) VALUES ('owner@example.com') RETURNING id::text");
    admin_ = one("INSERT INTO users (email, is_admin) VALUES ('admin@example.com', true) RETURNING id::text");
  }
  // Runs SQL in its own transaction, optionally as `actor`, returning the first value.
  std::string one(const std::string& sql, const std::string& actor = "") {
    pqxx::connection c(url_);
    pqxx::work tx(c);
    if (!actor.empty()) tx.exec("SET LOCAL mailroom.actor_id = '" + actor + "'");
    const auto r = tx.exec(sql);
    tx.commit();
    return r.empty() || r[0][0].is_null() ? "" : r[0][0].as<std::string>();
  }
  std::vector<mailroom::db::AuditEntry> audit(const std::string& type, const std::string& id) {
    mailroom::db::Pool pool(url_, 1);
    return mailroom::db::audit_for(pool, type, id);
  }
  std::string url_ = fresh_database();
  std::string owner_, admin_;
};

TEST_F(Audit, EmailConfigurationChangesAreAuditedForRawSql) {
  const std::string id = one(
      "INSERT INTO email_configurations (user_id, provider, smtp_host, smtp_password_encrypted, updated_by) VALUES ('" +
      owner_ + "', 'smtp_relay', 'relay.example', 'v1:k1:c2VjcmV0LWNpcGhlcnRleHQ=', '" + owner_ + "') RETURNING id::text");
  one("UPDATE email_configurations SET smtp_port = 2525, is_verified = true WHERE id = '" + id + "'", admin_);
  one("UPDATE email_configurations SET smtp_port = 2525 WHERE id = '" + id + "'");  // no change: no row
  one("DELETE FROM email_configurations WHERE id = '" + id + "'", admin_);

  const auto entries = audit("email_configuration", id);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].action, "CREATE");
  EXPECT_EQ(entries[0].user_id, owner_);  // no actor set: the row's updated_by
  EXPECT_EQ(entries[0].changed_fields,
            (std::vector<std::string>{"is_active", "is_verified", "list_unsubscribe", "provider", "settings", "smtp_host",
                                      "smtp_password_encrypted", "updated_by", "user_id", "verify_unchecked"}));
  EXPECT_EQ(entries[1].action, "UPDATE");
  EXPECT_EQ(entries[1].user_id, admin_);  // the transaction's mailroom.actor_id wins
  EXPECT_EQ(entries[1].changed_fields, (std::vector<std::string>{"is_verified", "smtp_port"}));
  EXPECT_EQ(entries[1].details["provider"], "smtp_relay");
  EXPECT_EQ(entries[2].action, "DELETE");
  EXPECT_EQ(entries[2].user_id, admin_);
  for (const auto& e : entries) {
    EXPECT_EQ(e.details.dump().find("v1:"), std::string::npos) << "a ciphertext reached audit_logs";
    EXPECT_EQ(e.details.dump().find("relay.example"), std::string::npos);
  }
}

TEST_F(Audit, DnsRecordChangesAreAuditedWithTheOwnerAsFallbackActor) {
  const std::string id = one("INSERT INTO dns_records (user_id, provider, record_type, name, value) VALUES ('" + owner_ +
                             "', 'cloudflare', 'TXT', 'example.com', 'v=spf1 -all') RETURNING id::text");
  one("UPDATE dns_records SET status = 'active', provider_record_id = 'cf-1' WHERE id = '" + id + "'");
  one("DELETE FROM dns_records WHERE id = '" + id + "'");
  const auto entries = audit("dns_record", id);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].action, "CREATE");
  EXPECT_EQ(entries[0].user_id, owner_);
  EXPECT_EQ(entries[1].changed_fields, (std::vector<std::string>{"provider_record_id", "status"}));
  EXPECT_EQ(entries[1].details["status"], "active");
  EXPECT_EQ(entries[2].action, "DELETE");
  EXPECT_EQ(entries[2].details["name"], "example.com");
}

TEST_F(Audit, UpdatedAtMovesOnEveryTableWithTheTrigger) {
  const std::map<std::string, std::string> inserts = {
      {"email_configurations", "INSERT INTO email_configurations (user_id, provider) VALUES ('" + owner_ + "', 'sendgrid')"},
      {"dns_records", "INSERT INTO dns_records (user_id, provider, record_type, name, value) VALUES ('" + owner_ +
                          "', 'route53', 'MX', 'example.com', 'mx.example.com')"},
      {"email_queue", "INSERT INTO email_queue (user_id, recipient_email, subject) VALUES ('" + owner_ + "', 'r@x.io', 's')"},
      {"google_workspace_quota", "INSERT INTO google_workspace_quota (user_id, email_configuration_id) SELECT user_id, id"
                                 " FROM email_configurations WHERE user_id = '" + owner_ + "' LIMIT 1"},
      {"email_templates", "INSERT INTO email_templates (user_id, name, subject) VALUES ('" + owner_ + "', 'w', 'Hi')"},
  };
  for (const auto& [table, insert] : inserts) {
    const std::string id = one(insert + " RETURNING id::text");
    const std::string before = one("SELECT updated_at::text FROM " + table + " WHERE id = '" + id + "'");
    // The column set is touched in a later transaction, so now() is later.
    one("UPDATE " + table + " SET created_at = created_at WHERE id = '" + id + "'");
    const std::string moved = one("SELECT (updated_at > '" + before + "')::text FROM " + table + " WHERE id = '" + id + "'");
    EXPECT_EQ(moved, "true") << table;
    EXPECT_EQ(one("SELECT (created_at = '" + before + "')::text FROM " + table + " WHERE id = '" + id + "'"), "true")
        << table << ": created_at must not move";
  }
}

}  // namespace
