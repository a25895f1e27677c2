// The API test fixture: a fresh database with users alice and bob (tokens mr_alice, mr_bob),
// one configuration each, and the server on a free port with the build's plugins.
#pragma once

#include "api.hpp"
#include "crypto.hpp"
#include "db.hpp"
#include "harness.hpp"
#include "migrate.hpp"
#include "plugin_host.hpp"

#include <mailroom/http.hpp>

namespace mailroom::testing {

using nlohmann::json;

class ApiFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ostringstream progress;
    mailroom::migrate::Migrator(url_, mailroom::migrate::embedded_migrations(), progress).up();
    mailroom::db::Users users(pool_);
    alice_ = users.create("alice@example.com", "", false).id;
    bob_ = users.create("bob@example.com", "", false).id;
    mailroom::db::ApiTokens tokens(pool_);
    tokens.create(alice_, "test", "mr_alice", false, std::nullopt);
    tokens.create(bob_, "test", "mr_bob", false, std::nullopt);
    mailroom::db::EmailConfigurations configs(pool_);
    for (const auto& [user, id] : {std::pair{alice_, &alice_config_}, std::pair{bob_, &bob_config_}}) {
      mailroom::db::EmailConfiguration c;
      c.id = *id = configs.new_id();
      c.user_id = user;
      c.provider = "fake_email";
      c.from_address = "sender@example.com";
      configs.create(c, user);
    }
    mailroom::api::ApiOptions options;
    options.listen = "127.0.0.1:0";
    options.max_body_bytes = 64 * 1024;
    host_.load_directory(MAILROOM_PLUGIN_DIR);
    server_ = std::make_unique<mailroom::api::Server>(pool_, options, &box_, &host_);
    mailroom::HttpClientOptions http;
    http.base_url = "http://127.0.0.1:" + std::to_string(server_->start());
    client_ = mailroom::make_http_client(http);
  }

  mailroom::HttpResponse call(const std::string& method, const std::string& target, const std::string& token,
                              const std::string& body = "", mailroom::HttpHeaders headers = {}) {
    if (!token.empty()) headers.add("Authorization", "Bearer " + token);
    if (!body.empty()) headers.add("Content-Type", "application/json");
    return client_->send({method, target, headers, body});
  }
  json email_for(const std::string& config) {
    return {{"configuration", config}, {"to", "carol@example.com"}, {"subject", "Hi"}, {"text", "hello"}};
  }
  long emails() {
    return std::stol(one("SELECT count(*)::text FROM email_queue"));
  }
  std::string one(const std::string& sql) {
    pqxx::connection c(url_);
    pqxx::read_transaction tx(c);
    return tx.exec(sql)[0][0].as<std::string>();
  }
  static json problem(const mailroom::HttpResponse& r) {
    EXPECT_EQ(r.headers.get("content-type"), "application/problem+json");
    return json::parse(r.body);
  }

  std::string url_ = mailroom::testing::fresh_database();
  mailroom::db::Pool pool_{url_, 4};
  std::string alice_, bob_, alice_config_, bob_config_;
  mailroom::crypto::SecretBox box_{mailroom::crypto::KeyRing::parse(mailroom::crypto::generate_key_entry("k1"), "t")};
  mailroom::plugin_host::PluginHost host_;
  std::unique_ptr<mailroom::api::Server> server_;
  std::unique_ptr<mailroom::HttpClient> client_;
};

}  // namespace mailroom::testing
