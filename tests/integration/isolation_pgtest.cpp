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

TEST_F(Isolation, ANonAdminCannotEscalateNorReachAnotherUsersRowsInAnyTable) {
  const std::string alice_token = owner(
      "INSERT INTO api_tokens (user_id, name, token_prefix, token_hash) VALUES ('" + alice_ +
      "', 'mine', 'mr_a', sha256('a')) RETURNING id::text");
  const std::string bob_token = owner(
      "INSERT INTO api_tokens (user_id, name, token_prefix, token_hash) VALUES ('" + bob_ +
      "', 'his', 'mr_b', sha256('b')) RETURNING id::text");
  owner("INSERT INTO email_suppressions (user_id, email, reason) VALUES ('" + bob_ + "', 'x@example.com', 'manual')");
  owner("INSERT INTO google_workspace_quota (user_id, email_configuration_id) SELECT DISTINCT ON (user_id) user_id, id"
        " FROM email_configurations WHERE user_id IN ('" + alice_ + "', '" + bob_ + "') ORDER BY user_id");
  owner("INSERT INTO email_delivery_logs (email_queue_id, user_id, event_type) SELECT id, user_id, 'queued' FROM email_queue");
  // The row count, or the database's error.
  auto refused = [&](const std::string& sql) {
    try {
      return as_app(alice_, sql);
    } catch (const pqxx::sql_error& e) {
      return std::string(e.what());
    }
  };
  // Admin: not for its own token, not for a new one, not for its user row.
  EXPECT_NE(refused("UPDATE api_tokens SET is_admin = true WHERE user_id = '" + alice_ + "'")
                .find("only an admin can make a token admin (api_tokens.is_admin)"),
            std::string::npos);
  EXPECT_NE(refused("INSERT INTO api_tokens (user_id, name, token_prefix, token_hash, is_admin) VALUES ('" + alice_ +
                    "', 'x', 'mr_x', sha256('x'), true)")
                .find("only an admin can make a token admin"),
            std::string::npos);
  EXPECT_NE(refused("UPDATE users SET is_admin = true WHERE id = '" + alice_ + "'").find("permission denied"), std::string::npos);
  EXPECT_EQ(owner("SELECT count(*)::text FROM api_tokens WHERE is_admin"), "0");
  EXPECT_EQ(owner("SELECT count(*)::text FROM users WHERE is_admin"), "1");
  // An admin actor still can (the operator's way stays the CLI, as the owner).
  EXPECT_EQ(as_app(admin_, "UPDATE api_tokens SET is_admin = true WHERE id = '" + alice_token + "'"), "1");
  owner("UPDATE api_tokens SET is_admin = false");

  // Every user-owned table: another user's rows are neither read, nor changed, nor deleted.
  for (const char* table : {"email_configurations", "dns_zones", "dns_records", "email_queue", "email_delivery_logs",
                            "email_suppressions", "api_tokens", "google_workspace_quota", "email_templates", "audit_logs",
                            "users"}) {
    const std::string mine = std::string(table) == "users" ? "id" : "user_id";
    const std::string bobs = " WHERE " + mine + " = '" + bob_ + "'";
    const std::string before = owner("SELECT count(*)::text || md5(string_agg(t::text, ',' ORDER BY t::text)) FROM " +
                                     std::string(table) + " t" + bobs);
    EXPECT_EQ(as_app(alice_, "SELECT count(*)::text FROM " + std::string(table) + bobs), "0") << table;
    for (const std::string& sql : {"UPDATE " + std::string(table) + " SET " + mine + " = " + mine + bobs,
                                   "DELETE FROM " + std::string(table) + bobs}) {
      const std::string outcome = refused(sql);
      EXPECT_TRUE(outcome == "0" || outcome.find("permission denied") != std::string::npos) << sql << ": " << outcome;
    }
    EXPECT_EQ(owner("SELECT count(*)::text || md5(string_agg(t::text, ',' ORDER BY t::text)) FROM " + std::string(table) +
                    " t" + bobs),
              before)
        << table;
  }

  // Its own rows cannot point at bob's.
  const std::string bob_email = owner("SELECT id::text FROM email_queue WHERE user_id = '" + bob_ + "'");
  const std::string bob_zone = owner("SELECT id::text FROM dns_zones WHERE user_id = '" + bob_ + "'");
  EXPECT_NE(refused("INSERT INTO email_queue (user_id, recipient_email, subject, email_configuration_id) VALUES ('" + alice_ +
                    "', 'r@x.io', 's', '" + bob_config_ + "')")
                .find("email_queue: the row refers to another user's email configuration"),
            std::string::npos);
  EXPECT_NE(refused("UPDATE email_queue SET email_configuration_id = '" + bob_config_ + "'")
                .find("another user's email configuration"),
            std::string::npos);
  EXPECT_NE(refused("INSERT INTO email_delivery_logs (email_queue_id, user_id, event_type) VALUES ('" + bob_email + "', '" +
                    alice_ + "', 'opened')")
                .find("email_delivery_logs: the row refers to another user's email"),
            std::string::npos);
  EXPECT_NE(refused("INSERT INTO dns_records (user_id, zone_id, provider, record_type, name, value) VALUES ('" + alice_ +
                    "', '" + bob_zone + "', 'cloudflare', 'TXT', 'x.b.example.com', 'v')")
                .find("dns_records: the row refers to another user's DNS zone"),
            std::string::npos);
  // What the workers count and log is not the API's to rewrite, even for its own rows.
  EXPECT_NE(refused("UPDATE google_workspace_quota SET daily_quota_used = 0").find("permission denied"), std::string::npos);
  EXPECT_NE(refused("DELETE FROM email_delivery_logs").find("permission denied"), std::string::npos);
  EXPECT_NE(refused("UPDATE email_delivery_logs SET event_type = 'sent'").find("permission denied"), std::string::npos);
  EXPECT_NE(refused("INSERT INTO audit_logs (action, resource_type) VALUES ('DELETE', 'x')").find("permission denied"),
            std::string::npos);
  // ... while its own rows stay its own to use.
  EXPECT_EQ(as_app(alice_, "INSERT INTO email_delivery_logs (email_queue_id, user_id, event_type) SELECT id, user_id, "
                           "'opened' FROM email_queue"),
            "1");
  EXPECT_EQ(as_app(alice_, "UPDATE api_tokens SET name = 'renamed' WHERE id = '" + alice_token + "'"), "1");
  EXPECT_EQ(as_app(alice_, "UPDATE api_tokens SET name = 'renamed' WHERE id = '" + bob_token + "'"), "0");
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
