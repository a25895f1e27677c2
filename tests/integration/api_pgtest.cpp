// The HTTP API against a real PostgreSQL, through libcurl (the SDK's HttpClient): tokens,
// isolation (another user's email is 404), problem+json errors that name the field, and
// nothing written when a request is refused.
#include "api_fixture.hpp"
#include "queue.hpp"

#include <mailroom/http.hpp>

namespace {

using nlohmann::json;

using Api = mailroom::testing::ApiFixture;

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

TEST_F(Api, ListensOnIpv6InBrackets) {
  mailroom::api::ApiOptions options;
  options.listen = "[::1]:0";
  mailroom::api::Server server(pool_, options, &box_, &host_);
  const auto port = server.start();
  mailroom::HttpClientOptions http;
  http.base_url = "http://[::1]:" + std::to_string(port);
  EXPECT_EQ(mailroom::make_http_client(http)->send({"GET", "/healthz", {}, ""}).status, 200);
  for (const std::string bad : {"::1:8025", "[::1]", "127.0.0.1:99999", "localhost:8025"}) {
    options.listen = bad;
    mailroom::api::Server refused(pool_, options, &box_, &host_);
    try {
      refused.start();
      ADD_FAILURE() << bad << " was taken";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("api.listen '" + bad + "'"), std::string::npos) << e.what();
    }
  }
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
  EXPECT_NE(m.body.find("# TYPE mailroom_http_request_duration_seconds histogram"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("mailroom_http_request_duration_seconds_bucket{route=\"/v1/emails\",le=\"+Inf\"} 1"),
            std::string::npos) << m.body;
  EXPECT_NE(m.body.find("mailroom_http_request_duration_seconds_count{route=\"/v1/emails\"} 1"), std::string::npos) << m.body;

  // A worker's attempt: the configuration's plugin (sendgrid) is not loaded here, so no
  // provider is made and the email fails permanently, counted under its provider's name.
  {
    pqxx::connection c(url_);
    pqxx::work tx(c);
    tx.exec("UPDATE email_configurations SET provider = 'sendgrid' WHERE id = '" + alice_config_ + "'");
    tx.commit();
  }
  mailroom::queue::WorkerOptions options;
  options.worker_id = "metrics-test";
  std::atomic<bool> stop{false};
  mailroom::queue::WorkerStats stats;
  EXPECT_EQ(mailroom::queue::process_batch(pool_, host_, box_, options, stop, stats), 1u);
  const auto after = call("GET", "/metrics", "").body;
  EXPECT_NE(after.find("mailroom_sends_total{provider=\"sendgrid\",outcome=\"failed\"} 1"), std::string::npos) << after;
  EXPECT_NE(after.find("mailroom_send_duration_seconds_count{provider=\"sendgrid\"} 1"), std::string::npos) << after;
  EXPECT_NE(after.find("mailroom_emails{status=\"failed\"} 1"), std::string::npos) << after;
}

TEST_F(Api, EmailConfigurationsAreTheCallersOwnAndSecretsAreWriteOnly) {
  auto list = json::parse(call("GET", "/v1/email-configurations", "mr_alice").body)["configurations"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], alice_config_);
  EXPECT_EQ(call("GET", "/v1/email-configurations/" + bob_config_, "mr_alice").status, 404);
  EXPECT_EQ(call("DELETE", "/v1/email-configurations/" + bob_config_, "mr_alice").status, 404);

  const json create{{"dsn", "smtp://ada@relay.example:587"}, {"from", "ada@example.com"}, {"secrets", {{"password", "pw-Xq81-secret"}}}};
  const auto created = call("POST", "/v1/email-configurations", "mr_alice", create.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.body.find("pw-Xq81-secret"), std::string::npos) << "a secret came back";
  const json config = json::parse(created.body);
  EXPECT_EQ(config["settings"]["host"], "relay.example");
  EXPECT_EQ(config["settings"]["port"], 587);
  EXPECT_TRUE(config["secrets"].contains("password"));
  EXPECT_EQ(one("SELECT smtp_host FROM email_configurations WHERE id = '" + config["id"].get<std::string>() + "'"),
            "relay.example") << "the seed's column mirrors the plugin's setting";
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
  EXPECT_NE(problem(incomplete)["detail"].get<std::string>().find("username is set but neither the secret password nor oauth_token is"), std::string::npos);

  call("POST", "/v1/emails", "mr_alice", email_for(alice_config_).dump());
  EXPECT_EQ(call("DELETE", "/v1/email-configurations/" + alice_config_, "mr_alice").status, 409) << "emails refer to it";
  EXPECT_EQ(call("DELETE", "/v1/email-configurations/" + config["id"].get<std::string>(), "mr_alice").status, 204);
  EXPECT_EQ(json::parse(call("GET", "/v1/email-configurations", "mr_alice").body)["configurations"].size(), 1u);
}

TEST_F(Api, AConfigurationOverridesItsPluginsWindowAndPace) {
  const std::string path = "/v1/email-configurations/" + alice_config_;
  EXPECT_EQ(json::parse(call("GET", path, "mr_alice").body)["send_window"], nullptr) << "the plugin's, by default";
  auto changed = call("PATCH", path, "mr_alice", R"({"send_window": 40, "requests_per_second": 12.5})");
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(json::parse(changed.body)["send_window"], 40);
  EXPECT_EQ(json::parse(changed.body)["requests_per_second"], 12.5);
  EXPECT_EQ(one("SELECT send_window::text || ' ' || requests_per_second::text FROM email_configurations WHERE id = '" +
                alice_config_ + "'"),
            "40 12.5");
  for (const char* bad : {R"({"send_window": 0})", R"({"send_window": 1001})", R"({"requests_per_second": 0})",
                          R"({"send_window": "many"})"}) {
    const auto refused = call("PATCH", path, "mr_alice", bad);
    EXPECT_EQ(refused.status, 400) << bad;
    EXPECT_NE(problem(refused)["detail"].get<std::string>().find("at /"), std::string::npos) << refused.body;
  }
  changed = call("PATCH", path, "mr_alice", R"({"send_window": null, "requests_per_second": null})");
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(json::parse(changed.body)["send_window"], nullptr);
  EXPECT_EQ(json::parse(changed.body)["requests_per_second"], nullptr);
}

}  // namespace

namespace {

TEST(ApiTls, ServesHttpsWithTheConfiguredCertificateAndRefusesABadKeyFileByName) {
  const auto dir = std::filesystem::temp_directory_path() / ("mr-api-tls-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  mailroom::testing::run("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + (dir / "key.pem").string() + " -out " +
                         (dir / "cert.pem").string() + " -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null");
  const std::string url = mailroom::testing::fresh_database();
  mailroom::db::Pool pool(url, 2);
  mailroom::api::ApiOptions options;
  options.listen = "127.0.0.1:0";
  options.tls_cert_file = (dir / "cert.pem").string();
  options.tls_key_file = (dir / "key.pem").string();
  mailroom::api::Server server(pool, options);
  const auto port = std::to_string(server.start());

  mailroom::HttpClientOptions https;
  https.base_url = "https://127.0.0.1:" + port;
  https.ca_file = (dir / "cert.pem").string();  // verified, not skipped
  EXPECT_EQ(mailroom::make_http_client(https)->send({"GET", "/healthz", {}, ""}).status, 200);
  mailroom::HttpClientOptions plain;
  plain.base_url = "http://127.0.0.1:" + port;
  plain.total_timeout = std::chrono::milliseconds(3000);
  EXPECT_THROW(mailroom::make_http_client(plain)->send({"GET", "/healthz", {}, ""}), mailroom::ProviderError)
      << "plain HTTP was answered on the TLS port";

  mailroom::api::ApiOptions broken = options;
  broken.tls_key_file = (dir / "missing.pem").string();
  mailroom::api::Server refused(pool, broken);
  try {
    refused.start();
    FAIL() << "started without its key";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pem"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
