// The credential a configuration's providers share through the database (the plugin's
// credential_column): many callers on two "hosts" obtain it once, it is sealed like every
// secret, a refresh is not audited, a refused one is discarded, a failed obtain keeps nothing.
#include "crypto.hpp"
#include "db.hpp"
#include "harness.hpp"
#include "migrate.hpp"
#include "providers.hpp"

#include <atomic>
#include <thread>

namespace {

using Clock = std::chrono::system_clock;
using std::chrono::minutes;

class CredentialCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ostringstream progress;
    mailroom::migrate::Migrator(url_, mailroom::migrate::embedded_migrations(), progress).up();
    mailroom::db::Users users(pool_);
    user_ = users.create("ada@example.com", "", false).id;
    mailroom::db::EmailConfigurations configs(pool_);
    mailroom::db::EmailConfiguration c;
    c.id = configuration_ = configs.new_id();
    c.user_id = user_;
    c.provider = "google_workspace";
    c.plugin = "fake_email";
    c.from_address = "ada@example.com";
    configs.create(c, user_);
  }
  std::shared_ptr<mailroom::CredentialCache> cache() {
    return mailroom::providers::stored_credential_cache(pool_, box_, configuration_, "google_oauth_token_encrypted");
  }
  std::string one(const std::string& sql) {
    pqxx::connection c(url_);
    pqxx::nontransaction tx(c);
    const auto r = tx.exec(sql);
    return r[0][0].is_null() ? "NULL" : r[0][0].as<std::string>();
  }

  std::string url_ = mailroom::testing::fresh_database();
  mailroom::db::Pool pool_{url_, 8};
  mailroom::crypto::SecretBox box_{mailroom::crypto::KeyRing::parse(mailroom::crypto::generate_key_entry("k1"), "test")};
  std::string user_, configuration_;
};

TEST_F(CredentialCacheTest, ManyCallersOnTwoHostsObtainOnce) {
  const std::string audit_before = one("SELECT count(*) FROM audit_logs");
  const std::string updated_before = one("SELECT updated_at::text FROM email_configurations");
  std::atomic<int> obtained = 0;
  const auto obtain = [&] {
    ++obtained;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a token endpoint's round trip
    return mailroom::Credential{"ya29.token-" + std::to_string(obtained.load()), Clock::now() + minutes(60)};
  };
  auto host_a = cache(), host_b = cache();
  std::vector<std::thread> workers;
  std::vector<std::string> got(16);
  for (int i = 0; i < 16; ++i)
    workers.emplace_back([&, i] { got[i] = (i % 2 ? host_a : host_b)->get(Clock::now() + minutes(5), obtain).value; });
  for (auto& w : workers) w.join();
  EXPECT_EQ(obtained.load(), 1);
  for (const auto& value : got) EXPECT_EQ(value, "ya29.token-1");

  const std::string sealed = one("SELECT google_oauth_token_encrypted FROM email_configurations");
  EXPECT_EQ(sealed.rfind("v1:k1:", 0), 0u) << sealed;
  EXPECT_EQ(sealed.find("ya29"), std::string::npos);
  EXPECT_EQ(one("SELECT count(*) FROM audit_logs"), audit_before) << "a token refresh was audited";
  EXPECT_EQ(one("SELECT updated_at::text FROM email_configurations"), updated_before);
}

TEST_F(CredentialCacheTest, NearExpiryIsObtainedAgainAndARefusedOneIsDiscarded) {
  int obtained = 0;
  const auto obtain = [&] { return mailroom::Credential{"t" + std::to_string(++obtained), Clock::now() + minutes(4)}; };
  auto c = cache();
  EXPECT_EQ(c->get(Clock::now(), obtain).value, "t1");
  EXPECT_EQ(c->get(Clock::now(), obtain).value, "t1");
  // Wanted for 5 more minutes, it expires in 4: obtained anew.
  EXPECT_EQ(c->get(Clock::now() + minutes(5), obtain).value, "t2");
  c->discard("t1");  // not the kept one any more: nothing happens
  EXPECT_EQ(c->get(Clock::now(), obtain).value, "t2");
  c->discard("t2");
  EXPECT_EQ(one("SELECT google_oauth_token_encrypted FROM email_configurations"), "NULL");
  EXPECT_EQ(c->get(Clock::now(), obtain).value, "t3");
}

TEST_F(CredentialCacheTest, AFailedObtainKeepsNothingAndPassesThrough) {
  auto c = cache();
  EXPECT_THROW(c->get(Clock::now(), []() -> mailroom::Credential {
    throw mailroom::ProviderError(mailroom::ErrorKind::auth, "invalid_grant", "revoked");
  }), mailroom::ProviderError);
  EXPECT_EQ(one("SELECT google_oauth_token_encrypted FROM email_configurations"), "NULL");
  // A real change of the configuration is still audited.
  const std::string audit_before = one("SELECT count(*) FROM audit_logs");
  pqxx::connection conn(url_);
  pqxx::work tx(conn);
  tx.exec("UPDATE email_configurations SET from_name = 'Ada'");
  tx.commit();
  EXPECT_EQ(one("SELECT count(*) FROM audit_logs"), std::to_string(std::stoi(audit_before) + 1));
}

}  // namespace
