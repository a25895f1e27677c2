// The HTTP API against a real PostgreSQL, through libcurl (the SDK's HttpClient): tokens,
// isolation (another user's email is 404), problem+json errors that name the field, and
// nothing written when a request is refused.
#include "api.hpp"
#include "crypto.hpp"
#include "db.hpp"
#include "harness.hpp"
#include "migrate.hpp"

#include <mailroom/http.hpp>

namespace {

using nlohmann::json;

class Api : public ::testing::Test {
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
      c.provider = "sendgrid";
      c.from_address = "sender@example.com";
      configs.create(c, user);
    }
    mailroom::api::ApiOptions options;
    options.listen = "127.0.0.1:0";
    options.max_body_bytes = 64 * 1024;
    server_ = std::make_unique<mailroom::api::Server>(pool_, options, &box_);
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
  std::unique_ptr<mailroom::api::Server> server_;
  std::unique_ptr<mailroom::HttpClient> client_;
};

TEST_F(Api, HealthReadinessAndTheOpenApiDocument) {
  EXPECT_EQ(call("GET", "/healthz", "").status, 200);
  const auto ready = call("GET", "/readyz", "");
  EXPECT_EQ(ready.status, 200) << ready.body;
  const auto doc = call("GET", "/v1/openapi.json", "");
  EXPECT_EQ(doc.status, 200);
  const json openapi = json::parse(doc.body);
  EXPECT_EQ(openapi["openapi"], "3.1.0");
  EXPECT_TRUE(openapi["paths"].contains("/v1/emails"));
}

TEST_F(Api, QueueAndReadOwnEmails) {
  const auto queued = call("POST", "/v1/emails", "mr_alice", email_for(alice_config_).dump());
  ASSERT_EQ(queued.status, 202) << queued.body;
  const std::string id = json::parse(queued.body)["id"];
  const auto got = call("GET", "/v1/emails/" + id, "mr_alice");
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(json::parse(got.body)["status"], "queued");
  EXPECT_EQ(json::parse(got.body)["to"], "carol@example.com");
  // Many at once, all or nothing.
  const auto batch = call("POST", "/v1/emails", "mr_alice",
                          json{{"emails", {email_for(alice_config_), email_for(alice_config_)}}}.dump());
  EXPECT_EQ(batch.status, 202) << batch.body;
  EXPECT_EQ(json::parse(batch.body)["emails"].size(), 2u);
  EXPECT_EQ(emails(), 3);
}

TEST_F(Api, AnotherUsersEmailAndConfigurationAreNotFound) {
  const auto queued = call("POST", "/v1/emails", "mr_alice", email_for(alice_config_).dump());
  const std::string id = json::parse(queued.body)["id"];
  const auto theirs = call("GET", "/v1/emails/" + id, "mr_bob");
  EXPECT_EQ(theirs.status, 404);
  EXPECT_EQ(problem(theirs)["detail"], "no email " + id);
  const auto borrowed = call("POST", "/v1/emails", "mr_bob", email_for(alice_config_).dump());
  EXPECT_EQ(borrowed.status, 404);
  EXPECT_EQ(problem(borrowed)["detail"], "no email configuration " + alice_config_);
  EXPECT_EQ(emails(), 1);
}

TEST_F(Api, TokensAreRequiredAndChecked) {
  const auto none = call("POST", "/v1/emails", "", email_for(alice_config_).dump());
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(problem(none)["detail"], "missing bearer token (Authorization: Bearer mr_...)");
  EXPECT_EQ(call("GET", "/v1/emails/x", "mr_wrong").status, 401);
  EXPECT_EQ(emails(), 0) << "a refused request writes nothing";
}

TEST_F(Api, BadInputIsAProblemNamingTheFieldAndWritesNothing) {
  auto bad = email_for(alice_config_);
  bad["colour"] = "red";
  bad["priority"] = "high";
  const auto r = call("POST", "/v1/emails", "mr_alice", bad.dump());
  EXPECT_EQ(r.status, 400);
  const json p = problem(r);
  EXPECT_EQ(p["status"], 400);
  EXPECT_EQ(p["detail"], "at (root): property 'colour' is not allowed");
  EXPECT_EQ(p["errors"][1]["pointer"], "/priority");

  const auto malformed = call("POST", "/v1/emails", "mr_alice", "{\"to\": ");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(problem(malformed)["title"], "Malformed JSON");

  const auto huge = call("POST", "/v1/emails", "mr_alice", std::string(100 * 1024, ' '));
  EXPECT_EQ(huge.status, 413);

  auto address = email_for(alice_config_);
  address["to"] = "not-an-address";
  const auto unqueueable = call("POST", "/v1/emails", "mr_alice", address.dump());
  EXPECT_EQ(unqueueable.status, 422);
  EXPECT_EQ(problem(unqueueable)["detail"], "to: not an email address");

  auto templated = json{{"configuration", alice_config_}, {"to", "carol@example.com"}, {"template", "welcome"}};
  const auto missing = call("POST", "/v1/emails", "mr_alice", templated.dump());
  EXPECT_EQ(missing.status, 422);
  EXPECT_NE(problem(missing)["detail"].get<std::string>().find("missing variable 'name'"), std::string::npos);
  EXPECT_EQ(emails(), 0);
}

TEST_F(Api, IdempotencyKeyHeaderReturnsTheFirstEmail) {
  mailroom::HttpHeaders key{{"Idempotency-Key", "order-7"}};
  const auto first = call("POST", "/v1/emails", "mr_alice", email_for(alice_config_).dump(), key);
  const auto again = call("POST", "/v1/emails", "mr_alice", email_for(alice_config_).dump(), key);
  EXPECT_EQ(json::parse(first.body)["id"], json::parse(again.body)["id"]);
  EXPECT_TRUE(json::parse(again.body)["duplicate"]);
  EXPECT_EQ(emails(), 1);
}

TEST_F(Api, MetricsCountRequestsAndQueueDepth) {
  call("POST", "/v1/emails", "mr_alice", email_for(alice_config_).dump());
  call("GET", "/v1/emails/nope", "mr_alice");
  const auto m = call("GET", "/metrics", "");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("mailroom_emails{status=\"queued\"} 1"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("mailroom_http_requests_total{route=\"/v1/emails\",code=\"202\"} 1"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("mailroom_http_requests_total{route=\"/v1/emails/{id}\",code=\"404\"} 1"), std::string::npos) << m.body;
}

TEST_F(Api, EmailConfigurationsAreTheCallersOwnAndSecretsAreWriteOnly) {
  auto list = json::parse(call("GET", "/v1/email-configurations", "mr_alice").body)["configurations"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], alice_config_);
  EXPECT_EQ(call("GET", "/v1/email-configurations/" + bob_config_, "mr_alice").status, 404);
  EXPECT_EQ(call("DELETE", "/v1/email-configurations/" + bob_config_, "mr_alice").status, 404);

  const json create{{"dsn", "smtp://ada@relay.example:587"}, {"from", "ada@example.com"}, {"secret", "pw-Xq81-secret"}};
  const auto created = call("POST", "/v1/email-configurations", "mr_alice", create.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.body.find("pw-Xq81-secret"), std::string::npos) << "a secret came back";
  const json config = json::parse(created.body);
  EXPECT_EQ(config["smtp_host"], "relay.example");
  EXPECT_TRUE(config["secrets"].contains("smtp_password_encrypted"));
  EXPECT_EQ(one("SELECT user_id::text FROM email_configurations WHERE id = '" + config["id"].get<std::string>() + "'"), alice_);
  EXPECT_EQ(call("GET", "/v1/email-configurations/" + config["id"].get<std::string>(), "mr_alice").body.find("pw-Xq81"),
            std::string::npos);

  auto unknown = create;
  unknown["owner"] = bob_;
  const auto refused = call("POST", "/v1/email-configurations", "mr_alice", unknown.dump());
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(problem(refused)["detail"], "at (root): property 'owner' is not allowed");
  const auto incomplete = call("POST", "/v1/email-configurations", "mr_alice",
                               json{{"dsn", "smtp://ada@relay.example"}, {"from", "ada@example.com"}}.dump());
  EXPECT_EQ(incomplete.status, 422);
  EXPECT_NE(problem(incomplete)["detail"].get<std::string>().find("needs a password"), std::string::npos);

  call("POST", "/v1/emails", "mr_alice", email_for(alice_config_).dump());
  EXPECT_EQ(call("DELETE", "/v1/email-configurations/" + alice_config_, "mr_alice").status, 409) << "emails refer to it";
  EXPECT_EQ(call("DELETE", "/v1/email-configurations/" + config["id"].get<std::string>(), "mr_alice").status, 204);
  EXPECT_EQ(json::parse(call("GET", "/v1/email-configurations", "mr_alice").body)["configurations"].size(), 1u);
}

}  // namespace
