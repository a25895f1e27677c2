// The API's resources beyond the basics: isolation of every resource between users (404,
// never 403, and nothing changed), bad input refused with a problem naming the field and
// nothing written, pagination, retry and cancel, template preview, webhooks (signature,
// duplicates, bounces and complaints), and an admin acting for a user.
#include "api_fixture.hpp"
#include "fake_email_signature.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace {

using mailroom::testing::ApiFixture;
using nlohmann::json;

class ApiResources : public ApiFixture {
 protected:
  // alice's configuration sending through the fake_email plugin, which takes signed webhooks.
  std::string fake_config() {
    mailroom::db::EmailConfigurations configs(pool_);
    mailroom::db::EmailConfiguration c;
    c.id = configs.new_id();
    c.user_id = alice_;
    c.provider = "fake_email";
    c.from_address = "alice@example.com";
    c.settings = {{"webhook_secret", "whsec-1"}};
    configs.create(c, alice_);
    return c.id;
  }
  std::string queue_email(const std::string& token, const std::string& config, const std::string& to = "carol@example.com") {
    const auto r = call("POST", "/v1/emails", token, json{{"configuration", config}, {"to", to}, {"subject", "Hi"}, {"text", "x"}}.dump());
    EXPECT_EQ(r.status, 202) << r.body;
    return json::parse(r.body).value("id", "");
  }
  std::string count(const std::string& table) { return one("SELECT count(*)::text FROM " + table); }
  static std::string signature(const std::string& body) { return mailroom::testing::fake_email_signature("whsec-1", body); }
  mailroom::HttpResponse webhook(const std::string& config, const std::string& body, const std::string& sig) {
    mailroom::HttpHeaders headers;
    headers.add("X-Fake-Signature", sig);
    return call("POST", "/v1/webhooks/" + config, "", body, headers);
  }
};

TEST_F(ApiResources, AnotherUsersRowsAreNotFoundAndUntouchedEverywhere) {
  // alice's things
  ASSERT_EQ(call("PUT", "/v1/templates/welcome-alice", "mr_alice", json{{"subject", "Hi {{name}}"}, {"text_body", "x"}}.dump()).status, 200);
  const auto email = queue_email("mr_alice", alice_config_);
  const auto zone = call("POST", "/v1/dns/zones", "mr_alice",
                         json{{"name", "alice.test"}, {"provider", "cloudflare"}, {"plugin", "test_dns"},
                              {"settings", {{"zone", "alice.test"}}}}.dump());
  ASSERT_EQ(zone.status, 201) << zone.body;
  const auto record = call("POST", "/v1/dns/zones/alice.test/records", "mr_alice",
                           json{{"type", "TXT"}, {"name", "@"}, {"value", "hello"}}.dump());
  ASSERT_EQ(record.status, 201) << record.body;
  const std::string record_id = json::parse(record.body)["id"];
  ASSERT_EQ(call("POST", "/v1/suppressions", "mr_alice", json{{"email", "nope@example.com"}}.dump()).status, 201);
  const std::string snapshot = "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM email_configurations t";
  const std::string before = one(snapshot);

  // bob, by id or name, with every method: 404
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"GET", "/v1/email-configurations/" + alice_config_},
      {"PATCH", "/v1/email-configurations/" + alice_config_},
      {"DELETE", "/v1/email-configurations/" + alice_config_},
      {"POST", "/v1/email-configurations/" + alice_config_ + "/verify"},
      {"GET", "/v1/emails/" + email},
      {"GET", "/v1/emails/" + email + "/logs"},
      {"POST", "/v1/emails/" + email + "/retry"},
      {"POST", "/v1/emails/" + email + "/cancel"},
      {"GET", "/v1/templates/welcome-alice"},
      {"DELETE", "/v1/templates/welcome-alice"},
      {"POST", "/v1/templates/welcome-alice/preview"},
      {"GET", "/v1/dns/zones/alice.test"},
      {"DELETE", "/v1/dns/zones/alice.test"},
      {"GET", "/v1/dns/zones/alice.test/records"},
      {"POST", "/v1/dns/zones/alice.test/records"},
      {"DELETE", "/v1/dns/zones/alice.test/records/" + record_id},
      {"GET", "/v1/dns/zones/alice.test/plan"},
      {"POST", "/v1/dns/zones/alice.test/apply"},
      {"POST", "/v1/dns/zones/alice.test/validate"},
      {"POST", "/v1/dns/zones/alice.test/email-setup"},
      {"DELETE", "/v1/suppressions/nope@example.com"},
  };
  for (const auto& [method, target] : refused) {
    std::string body;
    if (target.ends_with("/records") && method == "POST") body = json{{"type", "TXT"}, {"name", "x"}, {"value", "y"}}.dump();
    else if (method == "PATCH") body = json{{"from_name", "Mallory"}}.dump();
    else if (method == "POST" && !target.ends_with("/retry") && !target.ends_with("/cancel") && !target.ends_with("/verify") &&
             !target.ends_with("/validate"))
      body = "{}";
    const auto r = call(method, target, "mr_bob", body);
    EXPECT_EQ(r.status, 404) << method << " " << target << ": " << r.body;
  }
  // lists hold none of alice's rows
  EXPECT_EQ(json::parse(call("GET", "/v1/emails", "mr_bob").body)["emails"].size(), 0u);
  EXPECT_EQ(json::parse(call("GET", "/v1/dns/zones", "mr_bob").body)["zones"].size(), 0u);
  EXPECT_EQ(json::parse(call("GET", "/v1/suppressions", "mr_bob").body)["suppressions"].size(), 0u);
  // (each list held in a variable: a range-for over a temporary's member would dangle)
  const json templates = json::parse(call("GET", "/v1/templates", "mr_bob").body);
  for (const auto& t : templates["templates"])
    EXPECT_NE(t["name"], "welcome-alice");
  const json configurations = json::parse(call("GET", "/v1/email-configurations", "mr_bob").body);
  for (const auto& c : configurations["configurations"])
    EXPECT_NE(c["id"], alice_config_);
  const json audit = json::parse(call("GET", "/v1/audit-logs", "mr_bob").body);
  for (const auto& e : audit["entries"])
    EXPECT_NE(e["user_id"], alice_) << e.dump();
  // and nothing of alice's changed
  EXPECT_EQ(one(snapshot), before);
  EXPECT_EQ(one("SELECT status FROM email_queue WHERE id = '" + email + "'"), "queued");
  EXPECT_EQ(one("SELECT desired FROM dns_records WHERE id = '" + record_id + "'"), "present");
  EXPECT_EQ(count("email_templates WHERE name = 'welcome-alice'"), "1");
  EXPECT_EQ(count("email_suppressions"), "1");
  // a template of the same name is bob's own
  EXPECT_EQ(call("PUT", "/v1/templates/welcome-alice", "mr_bob", json{{"subject", "Bob's"}, {"text_body", "y"}}.dump()).status, 200);
  EXPECT_EQ(json::parse(call("GET", "/v1/templates/welcome-alice", "mr_alice").body)["subject"], "Hi {{name}}");
}

TEST_F(ApiResources, BadInputNamesTheFieldAndWritesNothing) {
  const std::string before_configs = count("email_configurations"), before_templates = count("email_templates"),
                    before_zones = count("dns_zones"), before_records = count("dns_records"),
                    before_suppressions = count("email_suppressions");
  struct Case {
    std::string method, target, body;
    int status;
    std::string pointer;  // the field the problem names ("" when none)
  };
  const std::vector<Case> cases = {
      {"PATCH", "/v1/email-configurations/" + alice_config_, R"({"colour":"blue"})", 400, ""},
      {"PATCH", "/v1/email-configurations/" + alice_config_, R"({"settings":"x"})", 400, "/settings"},
      {"PATCH", "/v1/email-configurations/" + alice_config_, "{not json", 400, ""},
      {"PUT", "/v1/templates/t1", R"({"subject":7,"text_body":"x"})", 400, "/subject"},
      {"PUT", "/v1/templates/t1", R"({"subject":"s"})", 400, "/text_body"},
      {"PUT", "/v1/templates/t1", R"({"subject":"{{#open}}","text_body":"x"})", 422, ""},
      {"POST", "/v1/dns/zones", R"({"name":"z.test","provider":"cloudflare","plugin":"test_dns","extra":1})", 400, ""},
      {"POST", "/v1/dns/zones", R"({"name":"z.test","provider":"Gandi DNS"})", 400, "/provider"},
      {"POST", "/v1/dns/zones", R"({"name":"z.test","provider":"gandi"})", 422, ""},
      {"POST", "/v1/dns/zones", R"({"name":"z.test","provider":"cloudflare","plugin":"test_dns","settings":{}})", 422, ""},
      {"POST", "/v1/suppressions", R"({"email":"not-an-address"})", 400, "/email"},
      {"POST", "/v1/suppressions", R"({"email":"a@example.com","reason":"dislike"})", 400, "/reason"},
      {"GET", "/v1/emails?colour=blue", "", 400, ""},
      {"GET", "/v1/emails?limit=0", "", 400, ""},
      {"GET", "/v1/emails?cursor=abc", "", 400, ""},
      {"GET", "/v1/emails?status=lost", "", 400, ""},
  };
  for (const auto& c : cases) {
    const auto r = call(c.method, c.target, "mr_alice", c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target << " " << c.body << ": " << r.body;
    const auto p = problem(r);
    EXPECT_FALSE(p.value("detail", "").empty()) << c.target;
    if (!c.pointer.empty()) {
      ASSERT_TRUE(p.contains("errors")) << r.body;
      EXPECT_EQ(p["errors"][0]["pointer"], c.pointer) << r.body;
    }
  }
  // a zone that exists, then a record the engine refuses
  ASSERT_EQ(call("POST", "/v1/dns/zones", "mr_alice",
                 json{{"name", "z.test"}, {"provider", "cloudflare"}, {"plugin", "test_dns"}, {"settings", {{"zone", "z.test"}}}}.dump())
                .status,
            201);
  const auto bad_record = call("POST", "/v1/dns/zones/z.test/records", "mr_alice", R"({"type":"A","name":"www","value":"not-ip"})");
  EXPECT_EQ(bad_record.status, 422);
  EXPECT_EQ(problem(bad_record)["detail"], "A record www.z.test: 'not-ip' is not an IPv4 address");
  EXPECT_EQ(call("POST", "/v1/dns/zones/z.test/records", "mr_alice", R"({"type":"NS","name":"x","value":"y"})").status, 400);
  EXPECT_EQ(count("email_configurations"), before_configs);
  EXPECT_EQ(one("SELECT coalesce(from_name, '') FROM email_configurations WHERE id = '" + alice_config_ + "'"), "");
  EXPECT_EQ(count("email_templates"), before_templates);
  EXPECT_EQ(count("dns_zones"), std::to_string(std::stoi(before_zones) + 1));
  EXPECT_EQ(count("dns_records"), before_records);
  EXPECT_EQ(count("email_suppressions"), before_suppressions);
}

TEST_F(ApiResources, EmailsPageWithACursorAndRetryAndCancelFollowTheStatus) {
  std::set<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.insert(queue_email("mr_alice", alice_config_, "r" + std::to_string(i) + "@example.com"));
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    const auto r = call("GET", "/v1/emails?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor), "mr_alice");
    ASSERT_EQ(r.status, 200) << r.body;
    const auto page = json::parse(r.body);
    for (const auto& e : page["emails"]) EXPECT_TRUE(seen.insert(e["id"].get<std::string>()).second) << "listed twice";
    cursor = page["next_cursor"].is_null() ? "" : page["next_cursor"].get<std::string>();
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(json::parse(call("GET", "/v1/emails?to=r3@example.com", "mr_alice").body)["emails"].size(), 1u);

  const std::string id = *ids.begin();
  const auto not_failed = call("POST", "/v1/emails/" + id + "/retry", "mr_alice");
  EXPECT_EQ(not_failed.status, 409);
  EXPECT_EQ(problem(not_failed)["detail"], "email " + id + " is queued; only failed emails can be retried");
  const auto cancelled = call("POST", "/v1/emails/" + id + "/cancel", "mr_alice");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(json::parse(cancelled.body)["status"], "failed");
  EXPECT_EQ(call("POST", "/v1/emails/" + id + "/cancel", "mr_alice").status, 409);
  const auto retried = call("POST", "/v1/emails/" + id + "/retry", "mr_alice");
  EXPECT_EQ(json::parse(retried.body)["status"], "queued");
  const auto logs = json::parse(call("GET", "/v1/emails/" + id + "/logs", "mr_alice").body)["logs"];
  ASSERT_EQ(logs.size(), 3u);
  EXPECT_EQ(logs[1]["event_status"], "cancelled");
  EXPECT_EQ(logs[2]["event_status"], "manual_retry");
  EXPECT_EQ(json::parse(call("GET", "/v1/emails?status=queued", "mr_alice").body)["emails"].size(), 5u);
}

// Tags and metadata are kept with the email, returned with it and its logs, and filter the list.
TEST_F(ApiResources, TagsFilterTheListAndComeBackWithMetadata) {
  const auto tagged = call("POST", "/v1/emails", "mr_alice",
                           json{{"configuration", alice_config_}, {"to", "t@example.com"}, {"subject", "Hi"}, {"text", "x"},
                                {"tags", {"invoice", "q4"}}, {"metadata", {{"customer", "42"}}},
                                {"headers", {{"X-Campaign", "spring"}}}}.dump());
  ASSERT_EQ(tagged.status, 202) << tagged.body;
  const std::string id = json::parse(tagged.body)["id"];
  queue_email("mr_alice", alice_config_, "untagged@example.com");
  const auto listed = json::parse(call("GET", "/v1/emails?tag=invoice", "mr_alice").body)["emails"];
  ASSERT_EQ(listed.size(), 1u) << listed.dump();
  EXPECT_EQ(listed[0]["id"], id);
  EXPECT_EQ(listed[0]["tags"], json({"invoice", "q4"}));
  EXPECT_EQ(listed[0]["metadata"], json({{"customer", "42"}}));
  EXPECT_EQ(listed[0]["headers"], json({{"X-Campaign", "spring"}}));
  EXPECT_TRUE(json::parse(call("GET", "/v1/emails?tag=q3", "mr_alice").body)["emails"].empty());
  EXPECT_TRUE(json::parse(call("GET", "/v1/emails?tag=invoice", "mr_bob").body)["emails"].empty()) << "another user's";
  const auto logs = json::parse(call("GET", "/v1/emails/" + id + "/logs", "mr_alice").body);
  EXPECT_EQ(logs["tags"], json({"invoice", "q4"}));
  EXPECT_EQ(logs["metadata"], json({{"customer", "42"}}));
}

// Attachments through the API, under row-level security: each user's bytes kept once for that
// user, listed with the email, and never another user's.
TEST_F(ApiResources, AttachmentsAreStoredOncePerUserAndListedWithTheEmail) {
  mailroom::db::EmailConfigurations configs(pool_);
  std::map<std::string, std::string> config_of;
  for (const auto& [token, user] : {std::pair{std::string("mr_alice"), alice_}, std::pair{std::string("mr_bob"), bob_}}) {
    mailroom::db::EmailConfiguration c;
    c.id = config_of[token] = configs.new_id();
    c.user_id = user;
    c.provider = "test_email";  // declares attachments
    c.from_address = "sender@example.com";
    configs.create(c, user);
  }
  const json pdf = {{"filename", "report.pdf"}, {"content", "JVBERi0xLjcK"}};
  std::vector<std::string> ids;
  for (const std::string token : {"mr_alice", "mr_alice", "mr_bob"}) {
    auto email = email_for(config_of[token]);
    email["attachments"] = json::array({pdf, {{"filename", "logo.png"}, {"content", "iVBORw0K"}, {"content_id", "logo"}}});
    const auto r = call("POST", "/v1/emails", token, email.dump());
    ASSERT_EQ(r.status, 202) << r.body;
    ids.push_back(json::parse(r.body)["id"]);
  }
  EXPECT_EQ(count("email_attachments"), "6");
  EXPECT_EQ(count("email_attachment_contents"), "4") << "two files, kept once for each of two users";
  const auto shown = json::parse(call("GET", "/v1/emails/" + ids[0], "mr_alice").body);
  EXPECT_EQ(shown["attachments"], json::parse(R"([{"filename": "report.pdf", "content_type": "application/pdf",
                                                  "content_id": null, "size": 9},
                                                 {"filename": "logo.png", "content_type": "image/png",
                                                  "content_id": "logo", "size": 6}])"));
  EXPECT_EQ(call("GET", "/v1/emails/" + ids[2], "mr_alice").status, 404) << "bob's email";
}

TEST_F(ApiResources, TemplatePreviewIsStrictAndNamesTheMissingVariable) {
  ASSERT_EQ(call("PUT", "/v1/templates/invite", "mr_alice",
                 json{{"subject", "Hi {{name}}"}, {"html_body", "<p>{{name}} &amp; {{team}}</p>"}}.dump()).status,
            200);
  const auto t = json::parse(call("GET", "/v1/templates/invite", "mr_alice").body);
  EXPECT_EQ(t["variables"], (json{"name", "team"}));
  const auto ok = call("POST", "/v1/templates/invite/preview", "mr_alice", json{{"data", {{"name", "<Ada>"}, {"team", "R&D"}}}}.dump());
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json::parse(ok.body)["subject"], "Hi <Ada>");
  EXPECT_EQ(json::parse(ok.body)["html_body"], "<p>&lt;Ada&gt; &amp; R&amp;D</p>");
  const auto missing = call("POST", "/v1/templates/invite/preview", "mr_alice", json{{"data", {{"name", "Ada"}}}}.dump());
  EXPECT_EQ(missing.status, 422);
  EXPECT_NE(problem(missing)["detail"].get<std::string>().find("team"), std::string::npos) << missing.body;
  EXPECT_EQ(call("DELETE", "/v1/templates/invite", "mr_alice").status, 204);
  EXPECT_EQ(call("GET", "/v1/templates/invite", "mr_alice").status, 404);
}

// Migration 012's event types and what each does to its email: drops fail it, soft bounces
// and events about a Cc/Bcc address leave it alone, unsubscribes suppress with their reason;
// an email id echoed back finds the email only within the configuration.
TEST_F(ApiResources, WebhookEventsFindTheirEmailByIdAndChangeOnlyWhatTheySay) {
  const auto config = fake_config();
  const auto other_config = fake_config();
  const auto dropped = queue_email("mr_alice", config, "gus@example.com");
  const auto soft = queue_email("mr_alice", config, "hal@example.com");
  const auto copied = queue_email("mr_alice", config, "ivy@example.com");
  const auto elsewhere = queue_email("mr_alice", other_config, "jo@example.com");
  {
    pqxx::connection c(url_);
    pqxx::work tx(c);
    tx.exec("UPDATE email_queue SET status = 'sent', sent_at = now()");  // no message ids: found by email id alone
    tx.commit();
  }
  const json events = {{"events",
                        {{{"type", "dropped"}, {"email_id", dropped}, {"event_id", "d-1"}, {"reason", "Bounced Address"},
                          {"recipient", "gus@example.com"}},
                         {{"type", "bounced"}, {"email_id", soft}, {"event_id", "b-1"}, {"bounce_type", "soft"},
                          {"recipient", "hal@example.com"}, {"reason", "421 try later"}},
                         {{"type", "bounced"}, {"email_id", copied}, {"event_id", "b-2"}, {"bounce_type", "hard"},
                          {"recipient", "audit@example.com"}, {"reason", "550 no such user"}},
                         {{"type", "unsubscribed"}, {"email_id", copied}, {"event_id", "u-1"}, {"recipient", "ivy@example.com"}},
                         {{"type", "unsubscribed"}, {"email_id", soft}, {"event_id", "u-2"}, {"recipient", "hal@example.com"},
                          {"group", "42"}},
                         {{"type", "delivered"}, {"email_id", elsewhere}, {"event_id", "x-1"}, {"recipient", "jo@example.com"}}}}};
  const std::string body = events.dump();
  const auto answer = webhook(config, body, signature(body));
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(json::parse(answer.body), (json{{"recorded", 5}, {"duplicates", 0}, {"unmatched", 1}}));

  EXPECT_EQ(one("SELECT status || ' ' || last_error_kind || ' ' || last_error FROM email_queue WHERE id = '" + dropped + "'"),
            "failed dropped the provider dropped it: Bounced Address");
  EXPECT_EQ(one("SELECT status || ' ' || (bounced_at IS NULL) FROM email_queue WHERE id = '" + soft + "'"), "sent true");
  EXPECT_EQ(one("SELECT event_type || ' ' || event_status FROM email_delivery_logs WHERE provider_event_id = 'b-1'"),
            "bounced soft");
  // A Bcc recipient's hard bounce: logged, that address suppressed, the email still sent.
  EXPECT_EQ(one("SELECT status || ' ' || (bounced_at IS NULL) FROM email_queue WHERE id = '" + copied + "'"), "sent true");
  EXPECT_EQ(one("SELECT string_agg(email || ':' || reason, ',' ORDER BY email) FROM email_suppressions"),
            "audit@example.com:hard_bounce,hal@example.com:group_unsubscribe,ivy@example.com:unsubscribe");
  EXPECT_EQ(one("SELECT event_status FROM email_delivery_logs WHERE provider_event_id = 'u-2'"), "group 42");
  // Another configuration's email id finds nothing: kept as unmatched, that email untouched.
  EXPECT_EQ(one("SELECT (delivered_at IS NULL)::text FROM email_queue WHERE id = '" + elsewhere + "'"), "true");
  EXPECT_EQ(one("SELECT email_id FROM unmatched_provider_events WHERE provider_event_id = 'x-1'"), elsewhere);
  const auto shown = json::parse(call("GET", "/v1/emails/" + dropped, "mr_alice").body);
  EXPECT_EQ(shown["last_error_kind"], "dropped");
  const std::string metrics = call("GET", "/metrics", "").body;
  EXPECT_NE(metrics.find("mailroom_webhook_events_total{provider=\"fake_email\",outcome=\"unmatched\"}"), std::string::npos)
      << metrics;
}

TEST_F(ApiResources, WebhooksAreVerifiedRecordedOnceAndMoveBouncesAndComplaints) {
  const auto config = fake_config();
  const auto delivered = queue_email("mr_alice", config, "dan@example.com");
  const auto bounced = queue_email("mr_alice", config, "eve@example.com");
  const auto complained = queue_email("mr_alice", config, "fay@example.com");
  pqxx::connection c(url_);
  pqxx::work tx(c);
  for (const auto& [id, mid] : {std::pair{delivered, "m-1"}, std::pair{bounced, "m-2"}, std::pair{complained, "m-3"}})
    tx.exec_params("UPDATE email_queue SET status = 'sent', message_id = $2, sent_at = now() WHERE id = $1::uuid", id, mid);
  tx.commit();
  const std::string logs_before = count("email_delivery_logs");

  const json events = {{"events",
                        {{{"type", "delivered"}, {"message_id", "m-1"}, {"event_id", "ev-1"}},
                         {{"type", "bounced"}, {"message_id", "m-2"}, {"event_id", "ev-2"}, {"bounce_type", "hard"},
                          {"recipient", "eve@example.com"}, {"reason", "550 no such user"}},
                         {{"type", "complained"}, {"message_id", "m-3"}, {"event_id", "ev-3"}, {"recipient", "fay@example.com"}},
                         {{"type", "opened"}, {"message_id", "m-unknown"}, {"event_id", "ev-4"}}}}};
  const std::string body = events.dump();

  const auto forged = webhook(config, body, "sha256=" + std::string(64, '0'));
  EXPECT_EQ(forged.status, 401);
  EXPECT_EQ(count("email_delivery_logs"), logs_before) << "a forged webhook wrote something";

  const auto first = webhook(config, body, signature(body));
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(json::parse(first.body), (json{{"recorded", 3}, {"duplicates", 0}, {"unmatched", 1}}));
  // The unmatched event is kept once too (migration 012).
  const auto replay = webhook(config, body, signature(body));
  EXPECT_EQ(json::parse(replay.body), (json{{"recorded", 0}, {"duplicates", 4}, {"unmatched", 0}}));
  EXPECT_EQ(one("SELECT event_type || ' ' || provider_message_id FROM unmatched_provider_events"), "opened m-unknown");

  EXPECT_EQ(one("SELECT status FROM email_queue WHERE id = '" + delivered + "'"), "sent");
  EXPECT_EQ(one("SELECT event_type FROM email_delivery_logs WHERE provider_event_id = 'ev-1'"), "delivered");
  EXPECT_NE(one("SELECT delivered_at FROM email_queue WHERE id = '" + delivered + "'"), "");
  EXPECT_EQ(one("SELECT status FROM email_queue WHERE id = '" + bounced + "'"), "bounced");
  EXPECT_EQ(one("SELECT reason FROM email_suppressions WHERE email = 'eve@example.com'"), "hard_bounce");
  EXPECT_EQ(one("SELECT status FROM email_queue WHERE id = '" + complained + "'"), "spam");
  EXPECT_EQ(one("SELECT reason FROM email_suppressions WHERE email = 'fay@example.com'"), "complaint");
  EXPECT_EQ(count("email_delivery_logs"), std::to_string(std::stoi(logs_before) + 3));

  {
    pqxx::connection c(url_);
    pqxx::work tx(c);
    tx.exec("UPDATE email_configurations SET provider = 'smtp_relay' WHERE id = '" + alice_config_ + "'");
    tx.commit();
  }
  const auto undeclared = webhook(alice_config_, body, signature(body));
  EXPECT_EQ(undeclared.status, 404);
  EXPECT_NE(undeclared.body.find("plugin smtp_relay does not declare the capability webhooks"), std::string::npos)
      << undeclared.body;
  EXPECT_EQ(webhook("00000000-0000-0000-0000-000000000000", body, signature(body)).status, 404);
  const auto garbled = webhook(config, "[1,2]", signature("[1,2]"));
  EXPECT_EQ(garbled.status, 400);
}

TEST_F(ApiResources, AnAdminActsForAUserOnlyWhenAsked) {
  const auto admin = mailroom::db::Users(pool_).create("root@example.com", "", true).id;
  mailroom::db::ApiTokens(pool_).create(admin, "admin", "mr_admin", true, std::nullopt);
  const auto email = queue_email("mr_alice", alice_config_);
  EXPECT_EQ(call("GET", "/v1/emails/" + email, "mr_admin").status, 200) << "an admin sees every user's rows";
  mailroom::HttpHeaders as_bob;
  as_bob.add("Mailroom-Act-As", bob_);
  EXPECT_EQ(call("GET", "/v1/emails/" + email, "mr_admin", "", as_bob).status, 404) << "acting as bob: bob's rows only";
  const auto queued = call("POST", "/v1/emails", "mr_admin", json{{"configuration", bob_config_}, {"to", "z@example.com"},
                                                                  {"subject", "s"}, {"text", "t"}}.dump(), as_bob);
  ASSERT_EQ(queued.status, 202) << queued.body;
  EXPECT_EQ(one("SELECT user_id::text FROM email_queue WHERE id = '" + json::parse(queued.body)["id"].get<std::string>() + "'"), bob_);
  mailroom::HttpHeaders as_alice;
  as_alice.add("Mailroom-Act-As", alice_);
  EXPECT_EQ(call("GET", "/v1/emails", "mr_bob", "", as_alice).status, 403) << "only an admin may act for someone";
}

}  // namespace
