// The API through Stoplight Prism's validating proxy (tests/tools, npm @stoplight/prism-cli):
// every request and every response is checked against mailroom's own OpenAPI document
// (core/api/openapi.json); a mismatch makes Prism answer with a violation instead.
// Requests the document itself forbids (unknown fields, bad formats, no token) are Prism's
// to refuse; mailroom's own answers to them are tested directly in api_pgtest.cpp.
#include "api.hpp"
#include "fake_email_signature.hpp"
#include "crypto.hpp"
#include "db.hpp"
#include "harness.hpp"
#include "migrate.hpp"
#include "dns_server.hpp"
#include "plugin_host.hpp"
#include "prism.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

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
  c.provider = "fake_email";
  c.from_address = "alice@example.com";
  configs.create(c, alice);

  // alice also sends as z.test through fake_email, which takes signed webhooks
  mailroom::db::EmailConfiguration f;
  f.id = configs.new_id();
  f.user_id = alice;
  f.provider = "smtp_relay";
  f.smtp_host = "relay.z.test";
  f.smtp_port = 587;
  f.plugin = "fake_email";
  f.from_address = "alice@z.test";
  f.settings = {{"webhook_secret", "whsec-1"}, {"spf", "ip4:192.0.2.1"}};
  configs.create(f, alice);
  mailroom::testing::DnsServer dns("z.test", "");

  mailroom::api::ApiOptions options;
  options.listen = "127.0.0.1:0";
  options.dns_resolver = dns.address();
  const mailroom::crypto::SecretBox box(mailroom::crypto::KeyRing::parse(mailroom::crypto::generate_key_entry("k1"), "t"));
  mailroom::plugin_host::PluginHost plugins;
  plugins.load_directory(MAILROOM_PLUGIN_DIR);
  mailroom::api::Server server(pool, options, &box, &plugins);
  const std::string prism_log = (std::filesystem::temp_directory_path() / ("mr-prism-api-" + std::to_string(::getpid()) + ".log")).string();
  mailroom::testing::Prism prism(MAILROOM_PRISM, MAILROOM_OPENAPI, "http://127.0.0.1:" + std::to_string(server.start()), prism_log);
  mailroom::HttpClientOptions http;
  http.base_url = "http://127.0.0.1:" + std::to_string(prism.port());
  auto client = mailroom::make_http_client(http);
  auto call = [&](const std::string& method, const std::string& target, const std::string& token = "",
                  const std::string& body = "", mailroom::HttpHeaders headers = {}) {
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
  const json config{{"dsn", "smtp://ada@relay.example:587"}, {"from", "ada@example.com"}, {"secrets", {{"password", "pw"}}}};
  const auto created = call("POST", "/v1/email-configurations", "mr_bob", config.dump());
  expect(created, 201, "create a configuration");
  expect(call("POST", "/v1/email-configurations", "mr_bob", json{{"provider", "smtp_relay"}, {"from", "b@example.com"}}.dump()),
         422, "create an incomplete configuration");
  expect(call("DELETE", "/v1/email-configurations/" + json::parse(created.body).value("id", ""), "mr_bob"), 204,
         "delete a configuration");
  expect(call("DELETE", "/v1/email-configurations/" + c.id, "mr_alice"), 409, "delete a configuration in use");

  // --- every other resource ---------------------------------------------------------------
  auto j = [](const mailroom::HttpResponse& r) { return json::parse(r.body.empty() ? "{}" : r.body); };
  expect(call("GET", "/v1/emails?limit=2", "mr_alice"), 200, "list emails");
  const auto page = j(call("GET", "/v1/emails?limit=1", "mr_alice"));
  expect(call("GET", "/v1/emails?limit=1&cursor=" + page["next_cursor"].get<std::string>(), "mr_alice"), 200, "next page");
  expect(call("GET", "/v1/emails?status=queued&to=carol@example.com", "mr_alice"), 200, "filtered list");
  expect(call("GET", "/v1/emails/" + id + "/logs", "mr_alice"), 200, "delivery logs");
  expect(call("POST", "/v1/emails/" + id + "/retry", "mr_alice"), 409, "retry a queued email");
  expect(call("POST", "/v1/emails/" + id + "/cancel", "mr_alice"), 200, "cancel");
  expect(call("POST", "/v1/emails/" + id + "/retry", "mr_alice"), 200, "retry");
  expect(call("POST", "/v1/emails/" + id + "/cancel", "mr_bob"), 404, "cancel another user's email");

  expect(call("PATCH", "/v1/email-configurations/" + f.id, "mr_alice", json{{"from_name", "Alice"}}.dump()), 200, "update");
  expect(call("PATCH", "/v1/email-configurations/" + f.id, "mr_bob", json{{"from_name", "Mallory"}}.dump()), 404,
         "update another user's configuration");
  expect(call("POST", "/v1/email-configurations/" + f.id + "/verify", "mr_alice"), 200, "verify");

  expect(call("PUT", "/v1/templates/invite", "mr_alice", json{{"subject", "Hi {{name}}"}, {"text_body", "{{name}}"}}.dump()),
         200, "save a template");
  expect(call("PUT", "/v1/templates/broken", "mr_alice", json{{"subject", "{{#x}}"}, {"text_body", "y"}}.dump()), 422,
         "save a template that does not parse");
  expect(call("GET", "/v1/templates", "mr_alice"), 200, "list templates");
  expect(call("GET", "/v1/templates/invite", "mr_alice"), 200, "get a template");
  expect(call("GET", "/v1/templates/invite", "mr_bob"), 404, "get another user's template");
  expect(call("POST", "/v1/templates/invite/preview", "mr_alice", json{{"data", {{"name", "Ada"}}}}.dump()), 200, "preview");
  expect(call("POST", "/v1/templates/invite/preview", "mr_alice", json{{"data", json::object()}}.dump()), 422,
         "preview without the data");
  expect(call("DELETE", "/v1/templates/invite", "mr_alice"), 204, "delete a template");

  expect(call("POST", "/v1/suppressions", "mr_alice", json{{"email", "gone@example.com"}, {"reason", "manual"}}.dump()), 201,
         "suppress");
  expect(call("GET", "/v1/suppressions", "mr_alice"), 200, "list suppressions");
  expect(call("DELETE", "/v1/suppressions/gone@example.com", "mr_alice"), 204, "unsuppress");
  expect(call("DELETE", "/v1/suppressions/gone@example.com", "mr_alice"), 404, "unsuppress again");
  expect(call("GET", "/v1/quota", "mr_alice"), 200, "quota");
  expect(call("GET", "/v1/audit-logs?limit=2", "mr_alice"), 200, "audit log");
  expect(call("GET", "/v1/audit-logs?resource_type=email_configuration&resource_id=" + f.id, "mr_alice"), 200,
         "audit log of one configuration");

  const json zone{{"name", "z.test"}, {"provider", "cloudflare"}, {"plugin", "test_dns"}, {"settings", {{"zone", "z.test"}}}};
  expect(call("POST", "/v1/dns/zones", "mr_alice", zone.dump()), 201, "add a zone");
  expect(call("POST", "/v1/dns/zones", "mr_alice", zone.dump()), 422, "add the zone twice");
  expect(call("GET", "/v1/dns/zones", "mr_alice"), 200, "list zones");
  expect(call("GET", "/v1/dns/zones/z.test", "mr_alice"), 200, "get a zone");
  expect(call("GET", "/v1/dns/zones/z.test", "mr_bob"), 404, "get another user's zone");
  const auto rec = call("POST", "/v1/dns/zones/z.test/records", "mr_alice",
                        json{{"type", "MX"}, {"name", "@"}, {"value", "mx1.example.net"}, {"priority", 10}}.dump());
  expect(rec, 201, "add a record");
  expect(call("POST", "/v1/dns/zones/z.test/records", "mr_alice", json{{"type", "A"}, {"name", "www"}, {"value", "x"}}.dump()),
         422, "add a bad record");
  expect(call("POST", "/v1/dns/zones/z.test/email-setup", "mr_alice",
              json{{"dmarc_policy", "quarantine"}, {"mx", {"10 mx1.example.net"}}}.dump()),
         200, "email-setup");
  expect(call("GET", "/v1/dns/zones/z.test/records", "mr_alice"), 200, "list records");
  const auto plan = call("GET", "/v1/dns/zones/z.test/plan", "mr_alice");
  expect(plan, 200, "plan");
  expect(call("POST", "/v1/dns/zones/z.test/apply", "mr_alice", json{{"plan_checksum", "0000000000000000"}}.dump()), 422,
         "apply a plan that is not the reviewed one");
  expect(call("POST", "/v1/dns/zones/z.test/apply", "mr_alice", json{{"plan_checksum", j(plan)["checksum"]}}.dump()), 200,
         "apply");
  expect(call("POST", "/v1/dns/zones/z.test/validate", "mr_alice"), 200, "validate");
  expect(call("DELETE", "/v1/dns/zones/z.test/records/" + j(rec)["id"].get<std::string>(), "mr_alice"), 202, "remove a record");
  expect(call("DELETE", "/v1/dns/zones/z.test", "mr_alice"), 204, "remove the zone");

  // a webhook, signed as fake_email expects
  pqxx::connection c2(url);
  pqxx::work tx(c2);
  const auto queued_f = tx.exec_params1("INSERT INTO email_queue (user_id, email_configuration_id, recipient_email, subject, status, message_id) "
                                        "VALUES ($1::uuid, $2::uuid, 'x@example.com', 's', 'sent', 'm-1') RETURNING id::text", alice, f.id)[0].as<std::string>();
  tx.commit();
  const std::string events = json{{"events", {{{"type", "delivered"}, {"message_id", "m-1"}, {"event_id", "ev-1"}}}}}.dump();
  mailroom::HttpHeaders signed_headers{{"X-Fake-Signature", mailroom::testing::fake_email_signature("whsec-1", events)}};
  expect(call("POST", "/v1/webhooks/" + f.id, "", events, signed_headers), 200, "a signed webhook");
  mailroom::HttpHeaders forged{{"X-Fake-Signature", "sha256=00"}};
  expect(call("POST", "/v1/webhooks/" + f.id, "", events, forged), 401, "a forged webhook");
  (void)queued_f;

  EXPECT_EQ(prism.violations(), "") << "Prism found requests or responses at odds with core/api/openapi.json";
  std::filesystem::remove(prism_log);
}

}  // namespace
