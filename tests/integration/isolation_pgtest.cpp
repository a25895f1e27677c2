// Row-level security (migration 006) directly in SQL: as the application role, one user's
// actor id cannot read, change, delete or list another user's rows; and API tokens.
#include "db.hpp"
#include "harness.hpp"
#include "migrate.hpp"

namespace {

class Isolation : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ostringstream progress;
    mailroom::migrate::Migrator(url_, mailroom::migrate::embedded_migrations(), progress).up();
    alice_ = owner("INSERT INTO users (email) VALUES ('alice@example.com') RETURNING id::text");
    bob_ = owner("INSERT INTO users (email) VALUES ('bob@example.com') RETURNING id::text");
    admin_ = owner("INSERT INTO users (email, is_admin) VALUES ('root@example.com', true) RETURNING id::text");
    for (const auto& [user, name] : {std::pair{alice_, "a"}, std::pair{bob_, "b"}}) {
      owner("INSERT INTO email_configurations (user_id, provider, from_address) VALUES ('" + user +
            "', 'sendgrid', '" + name + "@example.com')");
      owner("INSERT INTO email_templates (user_id, name, subject) VALUES ('" + user + "', 'mine', 's')");
      owner("INSERT INTO dns_zones (user_id, name, provider) VALUES ('" + user + "', '" + name + ".example.com', 'cloudflare')");
      owner("INSERT INTO dns_records (user_id, zone_id, provider, record_type, name, value) SELECT '" + user +
            "', id, 'cloudflare', 'TXT', '" + name + ".example.com', 'v' FROM dns_zones WHERE user_id = '" + user + "'");
      owner("INSERT INTO email_queue (user_id, recipient_email, subject) VALUES ('" + user + "', 'r@x.io', 's')");
    }
    bob_config_ = owner("SELECT id::text FROM email_configurations WHERE user_id = '" + bob_ + "'");
  }
  std::string owner(const std::string& sql) {
    pqxx::connection c(url_);
    pqxx::work tx(c);
    const auto r = tx.exec(sql);
    tx.commit();
    return r.empty() || r[0][0].is_null() ? "" : r[0][0].as<std::string>();
  }
  // Runs `sql` as the application role for `actor`; returns the first value or the row count.
  std::string as_app(const std::string& actor, const std::string& sql) {
    std::string out;
    mailroom::db::transact_as_app(pool_, actor, [&](pqxx::work& tx) {
      const auto r = tx.exec(sql);
      out = r.columns() > 0 && !r.empty() ? r[0][0].as<std::string>() : std::to_string(r.affected_rows());
    });
    return out;
  }
  std::string url_ = mailroom::testing::fresh_database();
  mailroom::db::Pool pool_{url_, 2};
  std::string alice_, bob_, admin_, bob_config_;
};

TEST_F(Isolation, AUserSeesOnlyItsOwnRows) {
  for (const char* table : {"email_configurations", "dns_zones", "dns_records", "email_queue", "email_delivery_logs",
                            "email_suppressions", "api_tokens", "audit_logs"}) {
    const std::string count = "SELECT count(*)::text FROM " + std::string(table) + " WHERE user_id = '" + bob_ + "'";
    EXPECT_EQ(as_app(alice_, count), "0") << table;
  }
  EXPECT_EQ(as_app(alice_, "SELECT count(*)::text FROM email_configurations"), "1");
  EXPECT_EQ(as_app(alice_, "SELECT string_agg(email, ',') FROM users"), "alice@example.com");
  EXPECT_EQ(as_app(alice_, "SELECT count(*)::text FROM email_templates WHERE user_id IS NOT NULL"), "1");
  EXPECT_EQ(as_app(alice_, "SELECT count(*)::text FROM email_templates WHERE is_system_template"), "3")
      << "system templates are readable by all";
  EXPECT_EQ(as_app(admin_, "SELECT count(*)::text FROM email_configurations"), "2") << "an admin sees everyone";
  EXPECT_EQ(as_app("", "SELECT count(*)::text FROM email_configurations"), "0") << "no actor, no rows";
}

TEST_F(Isolation, AUserCannotChangeOrDeleteAnothersRows) {
  EXPECT_EQ(as_app(alice_, "UPDATE email_configurations SET from_address = 'x@evil.example' WHERE id = '" + bob_config_ + "'"), "0");
  EXPECT_EQ(as_app(alice_, "DELETE FROM email_configurations WHERE id = '" + bob_config_ + "'"), "0");
  EXPECT_EQ(as_app(alice_, "UPDATE email_templates SET subject = 'pwned' WHERE is_system_template"), "0");
  EXPECT_EQ(as_app(alice_, "UPDATE dns_zones SET settings = '{\"x\":1}' WHERE user_id = '" + bob_ + "'"), "0");
  EXPECT_EQ(as_app(alice_, "DELETE FROM dns_records WHERE user_id = '" + bob_ + "'"), "0");
  EXPECT_EQ(as_app(alice_, "DELETE FROM email_templates WHERE user_id = '" + bob_ + "'"), "0");
  EXPECT_EQ(as_app(alice_, "UPDATE email_queue SET status = 'failed' WHERE user_id = '" + bob_ + "'"), "0");
  EXPECT_EQ(owner("SELECT from_address FROM email_configurations WHERE id = '" + bob_config_ + "'"), "b@example.com");
  // Writing a row for someone else is refused outright.
  EXPECT_THROW(as_app(alice_, "INSERT INTO email_configurations (user_id, provider) VALUES ('" + bob_ + "', 'sendgrid')"),
               pqxx::sql_error);
  EXPECT_THROW(as_app(alice_, "UPDATE email_configurations SET user_id = '" + bob_ + "'"), pqxx::sql_error);
  EXPECT_THROW(as_app(alice_, "INSERT INTO audit_logs (action, resource_type, resource_id) VALUES ('DELETE', 'x', gen_random_uuid())"),
               pqxx::sql_error);
}

TEST_F(Isolation, OwnChangesWorkAndAreAuditedForTheActor) {
  EXPECT_EQ(as_app(alice_, "UPDATE email_configurations SET is_verified = true"), "1");
  EXPECT_EQ(owner("SELECT user_id::text FROM audit_logs WHERE action = 'UPDATE'"), alice_);
  EXPECT_EQ(as_app(alice_, "SELECT count(*)::text FROM audit_logs"), "4")
      << "the CREATEs of its configuration, DNS zone and DNS record, and its UPDATE; none of bob's";
}

TEST_F(Isolation, TokensAuthenticateUntilRevokedOrExpired) {
  mailroom::db::ApiTokens tokens(pool_);
  const auto token = tokens.create(alice_, "ci", "mr_alice-secret-token", false, std::nullopt);
  EXPECT_EQ(token.prefix, "mr_alice-s");
  const auto who = tokens.authenticate("mr_alice-secret-token");
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->user_id, alice_);
  EXPECT_FALSE(who->is_admin);
  EXPECT_FALSE(tokens.authenticate("mr_alice-secret-tokeN").has_value());
  EXPECT_FALSE(tokens.authenticate("").has_value());
  EXPECT_EQ(owner("SELECT count(*)::text FROM api_tokens WHERE token_hash::text LIKE '%secret%' OR token_prefix LIKE '%token%'"), "0");
  EXPECT_NE(tokens.list(alice_).at(0).last_used_at, "");
  EXPECT_TRUE(tokens.revoke(token.id));
  EXPECT_FALSE(tokens.authenticate("mr_alice-secret-token").has_value());
  EXPECT_FALSE(tokens.revoke(token.id));
  tokens.create(bob_, "old", "mr_bob-expired-token", false, 1);
  EXPECT_TRUE(tokens.authenticate("mr_bob-expired-token").has_value());
  owner("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE user_id = '" + bob_ + "'");
  EXPECT_FALSE(tokens.authenticate("mr_bob-expired-token").has_value());
}

TEST(TokensCli, CreatePrintsTheTokenOnceAndStoresOnlyItsHash) {
  const std::string url = mailroom::testing::fresh_database();
  const std::string env = "MAILROOM_DATABASE_URL=" + mailroom::testing::quote(url) + " ";
  auto mailroom = [&](const std::string& args) { return mailroom::testing::run_command(env + MAILROOM_BINARY " " + args); };
  ASSERT_EQ(mailroom("migrate up").status, 0);
  ASSERT_EQ(mailroom("users add ada@example.com").status, 0);
  const auto created = mailroom("tokens create --user ada@example.com --name ci");
  ASSERT_EQ(created.status, 0) << created.output;
  const std::string secret = created.output.substr(0, created.output.find('\n'));
  EXPECT_EQ(secret.rfind("mr_", 0), 0u);
  EXPECT_EQ(secret.size(), 46u);  // "mr_" + 32 random bytes in base64url
  const auto listed = mailroom("tokens list");
  EXPECT_EQ(listed.output.find(secret), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find(secret.substr(0, 10) + "..."), std::string::npos) << listed.output;
  EXPECT_EQ(mailroom("tokens create --user ada@example.com --name x --admin").status, 1) << "ada is no admin";
  const std::string id = listed.output.substr(0, 36);
  EXPECT_EQ(mailroom("tokens revoke " + id).status, 0);
  EXPECT_NE(mailroom("tokens list").output.find("revoked"), std::string::npos);
}

}  // namespace
