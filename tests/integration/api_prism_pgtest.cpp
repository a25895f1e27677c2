// The API through Stoplight Prism's validating proxy (tests/tools, npm @stoplight/prism-cli):
// every request and every response is checked against mailroom's own OpenAPI document
// (core/api/openapi.json); a mismatch makes Prism answer with a violation instead.
// Requests the document itself forbids (unknown fields, bad formats, no token) are Prism's
// to refuse; mailroom's own answers to them are tested directly in api_pgtest.cpp.
#include "api.hpp"
#include "crypto.hpp"
#include "db.hpp"
#include "harness.hpp"
#include "migrate.hpp"
#include "prism.hpp"

#include <mailroom/error.hpp>
#include <mailroom/http.hpp>


namespace {

using nlohmann::json;

TEST(ApiThroughPrism, RequestsAndResponsesMatchTheOpenApiDocument) {
  const std::string url = mailroom::testing::fresh_database();
  std::ostringstream progress;
  mailroom::migrate::Migrator(url, mailroom::migrate::embedded_migrations(), progress).up();
  mailroom::db::Pool pool(url, 4);
  const auto alice = mailroom::db::Users(pool).create("alice@example.com", "", false).id;
  const auto bob = mailroom::db::Users(pool).create("bob@example.com", "", false).id;
  mailroom::db::ApiTokens(pool).create(alice, "t", "mr_alice", false, std::nullopt);
  mailroom::db::ApiTokens(pool).create(bob, "t", "mr_bob", false, std::nullopt);
  mailroom::db::EmailConfigurations configs(pool);
  mailroom::db::EmailConfiguration c;
  c.id = configs.new_id();
  c.user_id = alice;
  c.provider = "sendgrid";
  c.from_address = "alice@example.com";
  configs.create(c, alice);

  mailroom::api::ApiOptions options;
  options.listen = "127.0.0.1:0";
  const mailroom::crypto::SecretBox box(mailroom::crypto::KeyRing::parse(mailroom::crypto::generate_key_entry("k1"), "t"));
  mailroom::api::Server server(pool, options, &box);
  mailroom::testing::Prism prism(MAILROOM_PRISM, MAILROOM_OPENAPI, "http://127.0.0.1:" + std::to_string(server.start()));
  mailroom::HttpClientOptions http;
  http.base_url = "http://127.0.0.1:" + std::to_string(prism.port());
  auto client = mailroom::make_http_client(http);
  auto call = [&](const std::string& method, const std::string& target, const std::string& token = "",
                  const std::string& body = "") {
    mailroom::HttpHeaders headers;
    if (!token.empty()) headers.add("Authorization", "Bearer " + token);
    if (!body.empty()) headers.add("Content-Type", "application/json");
    return client->send({method, target, headers, body});
  };
  prism.wait_ready("/healthz");
  auto expect = [&](const mailroom::HttpResponse& r, int status, const std::string& what) {
    EXPECT_EQ(r.status, status) << what << ": " << r.body;
    EXPECT_FALSE(mailroom::testing::violates_document(r))
        << what << " violates the document: " << r.headers.get("sl-violations").value_or("") << r.body;
  };

  expect(call("GET", "/healthz"), 200, "healthz");
  expect(call("GET", "/readyz"), 200, "readyz");
  expect(call("GET", "/metrics"), 200, "metrics");
  expect(call("GET", "/v1/openapi.json"), 200, "openapi");

  const json email{{"configuration", c.id}, {"to", "carol@example.com"}, {"subject", "Hi"}, {"text", "hello"}};
  const auto queued = call("POST", "/v1/emails", "mr_alice", email.dump());
  expect(queued, 202, "POST one email");
  const std::string id = json::parse(queued.body).value("id", "");
  expect(call("POST", "/v1/emails", "mr_alice", json{{"emails", {email, email}}}.dump()), 202, "POST many");
  expect(call("GET", "/v1/emails/" + id, "mr_alice"), 200, "GET own email");
  expect(call("GET", "/v1/emails/" + id, "mr_bob"), 404, "GET another user's email");
  expect(call("POST", "/v1/emails", "mr_bob", email.dump()), 404, "POST with another user's configuration");
  const json templated{{"configuration", c.id}, {"to", "carol@example.com"}, {"template", "welcome"}};
  expect(call("POST", "/v1/emails", "mr_alice", templated.dump()), 422, "template data missing");

  expect(call("GET", "/v1/email-configurations", "mr_alice"), 200, "list configurations");
  expect(call("GET", "/v1/email-configurations/" + c.id, "mr_alice"), 200, "get a configuration");
  expect(call("GET", "/v1/email-configurations/" + c.id, "mr_bob"), 404, "get another user's configuration");
  const json config{{"dsn", "smtp://ada@relay.example:587"}, {"from", "ada@example.com"}, {"secret", "pw"}};
  const auto created = call("POST", "/v1/email-configurations", "mr_bob", config.dump());
  expect(created, 201, "create a configuration");
  expect(call("POST", "/v1/email-configurations", "mr_bob", json{{"provider", "sendgrid"}, {"from", "b@example.com"}}.dump()),
         422, "create an incomplete configuration");
  expect(call("DELETE", "/v1/email-configurations/" + json::parse(created.body).value("id", ""), "mr_bob"), 204,
         "delete a configuration");
  expect(call("DELETE", "/v1/email-configurations/" + c.id, "mr_alice"), 409, "delete a configuration in use");
}

}  // namespace
