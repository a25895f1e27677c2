// Event webhooks end to end: the `mailroom serve` binary sends email through fake_email and
// POSTs the events to a receiver written with the npm `standardwebhooks` package
// (tests/tools/webhook_receiver.js), which verifies every delivery. Also: a retry after a
// 500, SIGKILL mid-delivery, secret rotation, the SSRF rules at save time and at delivery
// time (a real DNS server changes its answer), and the outbox's transaction.
#include "dns_server.hpp"
#include "fake_email_signature.hpp"
#include "serve_process.hpp"
#include "webhooks.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <set>

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using mailroom::testing::ServeProcess;

class Receiver {
 public:
  Receiver() {
    spawned_ = mailroom::testing::spawn_reporting_port({"/usr/bin/env", "node", MAILROOM_WEBHOOK_RECEIVER});
    mailroom::HttpClientOptions options;
    options.base_url = base();
    client_ = mailroom::make_http_client(options);
  }
  ~Receiver() {
    if (spawned_.pid > 0) {
      ::kill(spawned_.pid, SIGTERM);
      ::waitpid(spawned_.pid, nullptr, 0);
    }
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(spawned_.port); }
  std::string hook(const std::string& name) const { return base() + "/hooks/" + name; }
  int port() const { return spawned_.port; }
  void control(const std::string& what, const std::string& name, const json& value) {
    EXPECT_EQ(client_->send({"POST", "/__" + what + "/" + name, {}, value.dump()}).status, 204);
  }
  json received() { return json::parse(client_->send({"GET", "/__received", {}, ""}).body); }
  json received(const std::string& name) {
    json out = json::array();
    for (const auto& r : received())
      if (r["name"] == name) out.push_back(r);
    return out;
  }
  // Waits until `name` got `count` requests answered 2xx (or 60 s).
  json wait_ok(const std::string& name, std::size_t count) {
    const auto until = std::chrono::steady_clock::now() + 60s;
    json got;
    do {
      got = json::array();
      for (const auto& r : received(name))
        if (r["status"].get<int>() / 100 == 2) got.push_back(r);
      if (got.size() >= count) break;
      std::this_thread::sleep_for(50ms);
    } while (std::chrono::steady_clock::now() < until);
    return got;
  }

 private:
  mailroom::testing::Spawned spawned_;
  std::unique_ptr<mailroom::HttpClient> client_;
};

// serve with http:// and private targets allowed (the receiver is on 127.0.0.1) and a short
// retry schedule.
std::vector<std::pair<std::string, std::string>> development(std::vector<std::pair<std::string, std::string>> more = {}) {
  std::vector<std::pair<std::string, std::string>> env = {{"MAILROOM_WEBHOOKS_ALLOW_HTTP", "true"},
                                                          {"MAILROOM_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "true"},
                                                          {"MAILROOM_WEBHOOKS_RETRY_SCHEDULE_SECONDS", "1,1,1"},
                                                          {"MAILROOM_WEBHOOKS_TIMEOUT_SECONDS", "5"}};
  env.insert(env.end(), more.begin(), more.end());
  return env;
}

// The outbox as the database holds it, for failure messages.
std::string outbox(const std::string& url) {
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  std::string out = "outbox:\n";
  for (const auto& r : tx.exec("SELECT e.event_type || ' ' || coalesce(m.status, '-') || ' attempts ' ||"
                               " coalesce(m.attempts, 0) || ' ' || coalesce(m.last_error, '')"
                               " FROM webhook_events e LEFT JOIN webhook_messages m ON m.event_id = e.id ORDER BY e.created_at"))
    out += "  " + r[0].as<std::string>() + "\n";
  out += "delivery logs:\n";
  for (const auto& r : tx.exec("SELECT event_type || ' ' || coalesce(event_status, '') FROM email_delivery_logs ORDER BY created_at"))
    out += "  " + r[0].as<std::string>() + "\n";
  return out;
}

json subscribe(ServeProcess& serve, const std::string& url, const json& event_types = nullptr) {
  json body = {{"url", url}};
  if (!event_types.is_null()) body["event_types"] = event_types;
  const auto r = serve.call("POST", "/v1/webhook-subscriptions", "mr_alice_token", body.dump());
  EXPECT_EQ(r.status, 201) << r.body;
  return json::parse(r.body);
}

std::string send(ServeProcess& serve, const std::string& subject, const json& extra = json::object()) {
  json body = {{"configuration", serve.configuration}, {"to", "bob@example.net"}, {"subject", subject}, {"text", "hi"}};
  body.update(extra);
  const auto r = serve.call("POST", "/v1/emails", "mr_alice_token", body.dump());
  EXPECT_EQ(r.status, 202) << r.body;
  return json::parse(r.body).value("id", "");
}

TEST(EventWebhooks, EveryDeliveryVerifiesWithTheStandardWebhooksLibrary) {
  Receiver receiver;
  ServeProcess serve({}, development());
  const auto sub = subscribe(serve, receiver.hook("e2e"));
  ASSERT_TRUE(sub.contains("secret"));
  EXPECT_EQ(sub["event_types"].size(), mailroom::webhooks::kEventTypes.size()) << "all types by default";
  receiver.control("secrets", "e2e", json::array({sub["secret"]}));
  // The secret is shown once: never again in a listing or a read.
  const auto read = serve.call("GET", "/v1/webhook-subscriptions/" + sub["id"].get<std::string>(), "mr_alice_token");
  EXPECT_EQ(read.body.find(sub["secret"].get<std::string>()), std::string::npos);
  EXPECT_FALSE(json::parse(read.body).contains("secret"));

  // fake_email: [transient-once] needs a state directory; its webhook a secret.
  const std::string webhook_secret = "fake-webhook-secret";
  {
    pqxx::connection c(serve.url);
    pqxx::work tx(c);
    tx.exec_params("UPDATE email_configurations SET settings = settings || jsonb_build_object('webhook_secret', $1::text,"
                   " 'state_dir', $2::text) WHERE id = $3::uuid",
                   webhook_secret, serve.dir.string(), serve.configuration);
    tx.commit();
  }
  const std::string sent = send(serve, "plain", {{"tags", {"welcome"}}, {"metadata", {{"account", "42"}}}});
  const std::string failed = send(serve, "refused [permanent]");
  const std::string retried = send(serve, "flaky [transient-once]");
  // sent, failed, deferred + sent for the flaky one.
  const auto got = receiver.wait_ok("e2e", 4);
  ASSERT_EQ(got.size(), 4u) << receiver.received().dump(1) << outbox(serve.url);
  std::multiset<std::string> seen;
  std::set<std::string> ids;
  for (const auto& r : got) {
    EXPECT_EQ(r["verified_by"], json::array({0})) << r.dump();
    ids.insert(r["id"].get<std::string>());
    const auto event = json::parse(r["body"].get<std::string>());
    const auto& data = event["data"];
    EXPECT_EQ(event["type"], r["type"]);
    EXPECT_EQ(data["recipient"], "bob@example.net");
    EXPECT_EQ(data["configuration_id"], serve.configuration);
    EXPECT_EQ(data["provider"], "sendgrid");  // the configuration's provider (fake_email's plugin sends)
    EXPECT_TRUE(event["timestamp"].get<std::string>().ends_with("Z"));
    seen.insert(event["type"].get<std::string>() + " " + data["email_id"].get<std::string>());
    if (data["email_id"] == sent) {
      EXPECT_EQ(data["tags"], json::array({"welcome"}));
      EXPECT_EQ(data["metadata"], json({{"account", "42"}}));
      EXPECT_TRUE(data.contains("provider_message_id"));
    }
    if (event["type"] == "email.failed") {
      EXPECT_EQ(data["reason"], "mailbox unavailable");
    }
    if (event["type"] == "email.deferred") {
      EXPECT_EQ(data["detail"], "retry_scheduled");
      EXPECT_EQ(data["reason"], "service not available");
      EXPECT_TRUE(data.contains("next_attempt_at"));
    }
  }
  EXPECT_EQ(ids.size(), 4u) << "one webhook-id per event";
  EXPECT_EQ(seen, (std::multiset<std::string>{"email.sent " + sent, "email.failed " + failed,
                                              "email.deferred " + retried, "email.sent " + retried}));

  // A provider's event through its webhook becomes email.delivered, with the provider's ids.
  const std::string events = json({{"events", {{{"type", "delivered"}, {"email_id", sent}, {"event_id", "ev-1"}}}}}).dump();
  mailroom::HttpHeaders headers;
  headers.add("X-Fake-Signature", mailroom::testing::fake_email_signature(webhook_secret, events));
  headers.add("Content-Type", "application/json");
  const auto in = serve.client->send({"POST", "/v1/webhooks/" + serve.configuration, headers, events});
  ASSERT_EQ(in.status, 200) << in.body;
  const auto after = receiver.wait_ok("e2e", 5);
  ASSERT_EQ(after.size(), 5u);
  const auto delivered = json::parse(after.back()["body"].get<std::string>());
  EXPECT_EQ(delivered["type"], "email.delivered");
  EXPECT_EQ(delivered["data"]["email_id"], sent);
  EXPECT_EQ(delivered["data"]["provider_event_id"], "ev-1");
  EXPECT_EQ(after.back()["verified_by"], json::array({0}));

  // Every attempt is listed through the API, under the webhook-id the receiver saw.
  std::set<std::string> received_ids;
  for (const auto& r : after) received_ids.insert(r["id"].get<std::string>());
  const auto attempts = serve.call("GET", "/v1/webhook-subscriptions/" + sub["id"].get<std::string>() + "/attempts",
                                   "mr_alice_token");
  ASSERT_EQ(attempts.status, 200) << attempts.body;
  const auto listed = json::parse(attempts.body)["attempts"];
  ASSERT_EQ(listed.size(), 5u) << listed.dump(1);
  for (const auto& a : listed) {
    EXPECT_EQ(a["outcome"], "delivered");
    EXPECT_EQ(a["status_code"], 200);
    EXPECT_GE(a["latency_ms"].get<int>(), 0);
    EXPECT_TRUE(received_ids.count(a["webhook_id"].get<std::string>())) << a.dump();
  }
  const auto metrics = serve.call("GET", "/metrics", "").body;
  EXPECT_NE(metrics.find("mailroom_webhook_deliveries_total{outcome=\"delivered\"} 5"), std::string::npos) << metrics;
}

TEST(EventWebhooks, AReceiverAnswering500ThenGetsTheEventOnceAfterTheRetry) {
  Receiver receiver;
  ServeProcess serve({}, development());
  const auto sub = subscribe(serve, receiver.hook("flaky"), {"email.sent"});
  receiver.control("secrets", "flaky", json::array({sub["secret"]}));
  receiver.control("answers", "flaky", json::array({500}));
  const std::string id = send(serve, "once");
  const auto ok = receiver.wait_ok("flaky", 1);
  ASSERT_EQ(ok.size(), 1u);
  std::this_thread::sleep_for(1500ms);  // a second retry would have come by now (schedule 1 s)
  const auto all = receiver.received("flaky");
  ASSERT_EQ(all.size(), 2u) << all.dump(1);
  EXPECT_EQ(all[0]["status"], 500);
  EXPECT_EQ(all[1]["status"], 200);
  EXPECT_EQ(all[0]["id"], all[1]["id"]) << "a retry keeps its webhook-id";
  EXPECT_EQ(all[0]["body"], all[1]["body"]) << "and its exact body";
  for (const auto& r : all) EXPECT_EQ(r["verified_by"], json::array({0}));
  const auto attempts = json::parse(serve.call("GET", "/v1/webhook-subscriptions/" + sub["id"].get<std::string>() +
                                                          "/attempts", "mr_alice_token").body)["attempts"];
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0]["outcome"], "delivered");
  EXPECT_EQ(attempts[0]["attempt"], 2);
  EXPECT_EQ(attempts[1]["outcome"], "retry_scheduled");
  EXPECT_EQ(attempts[1]["status_code"], 500);
  EXPECT_EQ(attempts[1]["error"], "the receiver answered HTTP 500");
}

TEST(EventWebhooks, SigkillMidDeliveryLosesNoEventAndRepeatsOnlyUnderTheSameId) {
  constexpr int kEmails = 40;
  Receiver receiver;
  ServeProcess serve({}, development({{"MAILROOM_WEBHOOKS_TIMEOUT_SECONDS", "5"}}));
  const auto sub = subscribe(serve, receiver.hook("slow"), {"email.sent"});
  receiver.control("secrets", "slow", json::array({sub["secret"]}));
  receiver.control("delay", "slow", 3000);  // every delivery is in flight for three seconds
  std::set<std::string> emails;
  for (int i = 0; i < kEmails; ++i) emails.insert(send(serve, "kill " + std::to_string(i)));
  // Kill while deliveries are in flight, once every email is sent (the email queue's own
  // rescue is serve_pgtest's subject, not this test's).
  pqxx::connection c(serve.url);
  const auto until = std::chrono::steady_clock::now() + 60s;
  long delivering = 0, messages = 0;
  while ((delivering == 0 || messages < kEmails) && std::chrono::steady_clock::now() < until) {
    pqxx::read_transaction tx(c);
    const auto r = tx.exec("SELECT count(*) FILTER (WHERE status = 'delivering'), count(*) FROM webhook_messages")[0];
    delivering = r[0].as<long>();
    messages = r[1].as<long>();
    tx.commit();
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(messages, kEmails) << outbox(serve.url);
  ASSERT_GT(delivering, 0);
  ASSERT_EQ(::kill(serve.pid, SIGKILL), 0);
  ::waitpid(serve.pid, nullptr, 0);
  long in_flight_at_kill = 0;
  {
    pqxx::read_transaction tx(c);
    in_flight_at_kill = tx.exec("SELECT count(*) FROM webhook_messages WHERE status = 'delivering'")[0][0].as<long>();
  }
  serve.start();  // leases of 2 x 5 + 10 s: the new process sends them again after that
  // The receiver heard the killed process's requests too (it answered into closed
  // connections), so completion is read from the outbox.
  long delivered = 0;
  const auto deadline = std::chrono::steady_clock::now() + 90s;
  while (delivered < kEmails && std::chrono::steady_clock::now() < deadline) {
    pqxx::read_transaction tx(c);
    delivered = tx.exec("SELECT count(*) FROM webhook_messages WHERE status = 'delivered'")[0][0].as<long>();
    tx.commit();
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(delivered, kEmails) << outbox(serve.url);
  std::this_thread::sleep_for(3500ms);  // anything sent twice by now has been answered
  std::map<std::string, std::set<std::string>> ids_of_event, events_of_id;
  std::map<std::string, int> requests_per_id;
  for (const auto& r : receiver.received("slow")) {
    EXPECT_EQ(r["verified_by"], json::array({0}));
    const std::string email = json::parse(r["body"].get<std::string>())["data"]["email_id"];
    ids_of_event[email].insert(r["id"].get<std::string>());
    events_of_id[r["id"].get<std::string>()].insert(email);
    ++requests_per_id[r["id"].get<std::string>()];
  }
  EXPECT_EQ(ids_of_event.size(), static_cast<std::size_t>(kEmails)) << "an event was lost";
  int repeated = 0;
  for (const auto& [email, ids] : ids_of_event) {
    EXPECT_TRUE(emails.count(email));
    EXPECT_EQ(ids.size(), 1u) << email << " went out under several webhook-ids";
  }
  for (const auto& [id, n] : requests_per_id) {
    EXPECT_EQ(events_of_id[id].size(), 1u);
    if (n > 1) ++repeated;
  }
  // Only what was in flight when the process died may come twice.
  EXPECT_LE(repeated, in_flight_at_kill);
  std::cout << "[ REPORT   ] " << kEmails << " events, SIGKILL with " << in_flight_at_kill
            << " in flight; sent again after the restart (same webhook-id): " << repeated << "\n";
}

TEST(EventWebhooks, ARotatedSecretStillSignsDuringItsGracePeriodOnly) {
  Receiver receiver;
  ServeProcess serve({}, development());
  const auto sub = subscribe(serve, receiver.hook("rotate"), {"email.sent"});
  const std::string path = "/v1/webhook-subscriptions/" + sub["id"].get<std::string>();
  const auto rotated = serve.call("POST", path + "/rotate-secret", "mr_alice_token", R"({"grace_seconds": 3})");
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  const std::string fresh = json::parse(rotated.body)["secret"];
  EXPECT_NE(fresh, sub["secret"]);
  EXPECT_FALSE(json::parse(rotated.body)["previous_secret_expires_at"].is_null());
  receiver.control("secrets", "rotate", json::array({sub["secret"], fresh}));  // index 0: old, 1: new

  send(serve, "during the grace period");
  auto got = receiver.wait_ok("rotate", 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["verified_by"], json::array({0, 1})) << "both secrets sign: " << got[0]["signature"];

  std::this_thread::sleep_for(3500ms);
  send(serve, "after it");
  got = receiver.wait_ok("rotate", 2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1]["verified_by"], json::array({1})) << "only the new secret signs: " << got[1]["signature"];
  EXPECT_EQ(got[1]["signature"].get<std::string>().find(' '), std::string::npos);
}

TEST(EventWebhooks, TargetsInPrivateNetworksAreRefusedWhenSavedAndWhenDelivered) {
  Receiver receiver;
  mailroom::testing::DnsServer dns("webhooks.test", "hook IN A 203.0.113.10\n");
  // http:// allowed (the receiver speaks plain HTTP); private networks not.
  ServeProcess serve({}, {{"MAILROOM_WEBHOOKS_ALLOW_HTTP", "true"}, {"MAILROOM_DNS_RESOLVER", dns.address()},
                          {"MAILROOM_WEBHOOKS_RETRY_SCHEDULE_SECONDS", "60"}});
  const std::string port = std::to_string(receiver.port());
  for (const auto& [url, reason] : std::vector<std::pair<std::string, std::string>>{
           {"http://127.0.0.1:" + port + "/hooks/x", "a loopback address"},
           {"http://[::1]:" + port + "/hooks/x", "a loopback address"},
           {"http://localhost:" + port + "/hooks/x", "a loopback address"},
           {"http://10.0.0.1/hooks/x", "a private-network address"},
           {"http://192.168.10.10/hooks/x", "a private-network address"},
           {"http://169.254.169.254/latest/meta-data/", "a cloud metadata address"},
           {"http://[fe80::1]/hooks/x", "a link-local address"},
           {"http://nothing.webhooks.test/hooks/x", "does not exist in DNS"}}) {
    const auto r = serve.call("POST", "/v1/webhook-subscriptions", "mr_alice_token", json({{"url", url}}).dump());
    EXPECT_EQ(r.status, 422) << url << ": " << r.body;
    EXPECT_NE(r.body.find(reason), std::string::npos) << url << ": " << r.body;
    EXPECT_NE(r.body.find("\"/url\""), std::string::npos) << "names the field: " << r.body;
  }
  const auto unknown = serve.call("POST", "/v1/webhook-subscriptions", "mr_alice_token",
                                  json({{"url", "http://hook.webhooks.test/x"}, {"event_types", {"email.nope"}}}).dump());
  EXPECT_EQ(unknown.status, 400) << unknown.body;
  EXPECT_NE(unknown.body.find("/event_types/0"), std::string::npos) << unknown.body;
  {
    ServeProcess strict;  // the default: https only
    const auto r = strict.call("POST", "/v1/webhook-subscriptions", "mr_alice_token",
                               json({{"url", "http://hooks.example.com/in"}}).dump());
    EXPECT_EQ(r.status, 422);
    EXPECT_NE(r.body.find("must use https://"), std::string::npos) << r.body;
  }

  // Accepted while the name is public; at delivery time it resolves to 127.0.0.1.
  const auto sub = subscribe(serve, "http://hook.webhooks.test:" + port + "/hooks/rebind", {"email.sent"});
  receiver.control("secrets", "rebind", json::array({sub["secret"]}));
  dns.serve("hook IN A 127.0.0.1\n");
  send(serve, "rebinding");
  const std::string path = "/v1/webhook-subscriptions/" + sub["id"].get<std::string>() + "/attempts";
  json attempts;
  for (int i = 0; i < 200; ++i) {
    attempts = json::parse(serve.call("GET", path, "mr_alice_token").body)["attempts"];
    if (!attempts.empty()) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0]["outcome"], "refused");
  EXPECT_TRUE(attempts[0]["status_code"].is_null()) << "nothing was sent";
  EXPECT_NE(attempts[0]["error"].get<std::string>().find("hook.webhooks.test resolves to 127.0.0.1, a loopback address"),
            std::string::npos)
      << attempts[0]["error"];
  EXPECT_TRUE(receiver.received("rebind").empty()) << "the receiver on 127.0.0.1 heard nothing";
}

// The outbox rows are written by triggers in the transaction of the change.
TEST(EventWebhooks, ARolledBackTransactionEmitsNothingAndACommittedOneEmitsOnce) {
  ServeProcess serve({"--no-workers"});
  mailroom::db::Pool pool(serve.url, 2);
  mailroom::crypto::KeyRing ring = mailroom::crypto::KeyRing::parse(serve.key, "test");
  mailroom::crypto::SecretBox box(ring);
  mailroom::db::WebhookSubscriptions repo(pool);
  mailroom::db::WebhookSubscription s;
  s.id = repo.new_id();
  s.user_id = serve.alice;
  s.url = "https://hooks.example.com/in";
  s.event_types = {"email.sent", "dns.record.applied", "dns.record.failed", "dns.record.invalid"};
  s.secret_sealed = box.seal(mailroom::webhooks::new_signing_secret(), mailroom::webhooks::secret_associated_data(s.id, false));
  repo.create(s, serve.alice);
  const std::string email = send(serve, "outbox");
  auto count = [&](const std::string& table) {
    pqxx::connection c(serve.url);
    pqxx::read_transaction tx(c);
    return tx.exec("SELECT count(*) FROM " + table)[0][0].as<long>();
  };
  const std::string log = "INSERT INTO email_delivery_logs (email_queue_id, user_id, event_type, event_status)"
                          " VALUES ($1::uuid, $2::uuid, 'sent', 'accepted')";
  EXPECT_THROW(mailroom::db::transact(pool, serve.alice,
                                      [&](pqxx::work& tx) {
                                        tx.exec_params(log, email, serve.alice);
                                        throw std::runtime_error("the change fails after its log row");
                                      }),
               std::runtime_error);
  EXPECT_EQ(count("webhook_events"), 0);
  EXPECT_EQ(count("webhook_messages"), 0);
  mailroom::db::transact(pool, serve.alice, [&](pqxx::work& tx) { tx.exec_params(log, email, serve.alice); });
  EXPECT_EQ(count("webhook_events"), 1);
  EXPECT_EQ(count("webhook_messages"), 1);

  // DNS: applied, failed, invalid after validation; a validation that finds it valid is none.
  pqxx::connection c(serve.url);
  pqxx::work tx(c);
  const std::string zone = tx.exec_params1("INSERT INTO dns_zones (user_id, name, provider, plugin) VALUES ($1::uuid, 'example.com', "
                                           "'cloudflare', 'test_dns') RETURNING id::text", serve.alice)[0].as<std::string>();
  const std::string record = tx.exec_params1(
      "INSERT INTO dns_records (user_id, zone_id, provider, record_type, name, value, ttl, status)"
      " VALUES ($1::uuid, $2::uuid, 'cloudflare', 'TXT', 'example.com', 'v=spf1 -all', 300, 'pending') RETURNING id::text",
      serve.alice, zone)[0].as<std::string>();
  tx.exec_params("UPDATE dns_records SET status = 'failed', last_error = 'refused' WHERE id = $1::uuid", record);
  tx.exec_params("UPDATE dns_records SET status = 'active', provider_record_id = 'r1' WHERE id = $1::uuid", record);
  tx.exec_params("UPDATE dns_records SET status = 'invalid', validation_status = 'mismatch', validated_at = now()"
                 " WHERE id = $1::uuid", record);
  tx.exec_params("UPDATE dns_records SET status = 'active', validation_status = 'valid', validated_at = now() + interval '1 s'"
                 " WHERE id = $1::uuid", record);
  std::vector<std::string> types;  // one transaction: the DNS events share a time, then sort by type
  for (const auto& r : tx.exec("SELECT event_type FROM webhook_events ORDER BY created_at, event_type"))
    types.push_back(r[0].as<std::string>());
  EXPECT_EQ(types, (std::vector<std::string>{"email.sent", "dns.record.applied", "dns.record.failed",
                                             "dns.record.invalid"}));
  const auto payload = json::parse(tx.exec("SELECT payload::text FROM webhook_events WHERE event_type = 'dns.record.failed'")[0][0]
                                       .as<std::string>());
  EXPECT_EQ(payload["data"]["record_id"], record);
  EXPECT_EQ(payload["data"]["zone"], "example.com");
  EXPECT_EQ(payload["data"]["reason"], "refused");
}

}  // namespace
