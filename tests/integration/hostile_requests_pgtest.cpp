// Requests a hostile or careless client sends, against a running `mailroom serve` (API and
// workers together): each answers a 4xx whose message names what is wrong, nothing is
// written, and the server still answers /healthz afterwards.
#include "serve_process.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace {

using nlohmann::json;
using mailroom::testing::ServeProcess;

class Hostile : public ::testing::Test {
 protected:
  struct Expected {
    int status;
    std::string detail_contains;  // in the problem's detail
  };

  // Sends the request, checks its status and message, that nothing changed and that the
  // server is still up.
  void refused(const std::string& method, const std::string& target, const std::string& token, const std::string& body,
               const Expected& expected, mailroom::HttpHeaders headers = {}) {
    SCOPED_TRACE(method + " " + target + " " + body.substr(0, 120));
    const std::string before = serve_.digest();
    mailroom::HttpResponse r;
    ASSERT_NO_THROW(r = serve_.call(method, target, token, body, headers)) << "the connection was lost";
    EXPECT_EQ(r.status, expected.status) << r.body;
    EXPECT_EQ(r.headers.get("content-type"), "application/problem+json") << r.body;
    const json problem = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(problem.is_object()) << r.body;
    EXPECT_NE(problem.value("detail", "").find(expected.detail_contains), std::string::npos) << r.body;
    EXPECT_EQ(problem.value("detail", "").find("--"), std::string::npos) << "an API error names a CLI flag: " << r.body;
    EXPECT_EQ(serve_.digest(), before) << "a refused request wrote something";
    EXPECT_TRUE(serve_.healthy()) << "the server no longer answers /healthz";
    EXPECT_TRUE(serve_.alive());
  }

  json email(json changes = json::object()) {
    json e{{"configuration", serve_.configuration}, {"to", "carol@example.com"}, {"subject", "Hi"}, {"text", "hello"}};
    e.update(changes);
    return e;
  }

  ServeProcess serve_;
};

// What the server answers to raw bytes on a fresh connection (until it closes it).
std::string raw_exchange(int port, const std::string& bytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<unsigned short>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return "(no connection)";
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::send(fd, bytes.data(), bytes.size(), 0);
  std::string answer;
  char buffer[4096];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, static_cast<std::size_t>(n));
  ::close(fd);
  return answer;
}

std::string deep_arrays(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST_F(Hostile, RequestsThatEndedTheHostAreAnswered) {
  ASSERT_TRUE(serve_.healthy()) << mailroom::testing::read_file(serve_.dir / "serve.log");
  refused("POST", "/v1/webhooks/%FF", "", "{}", {400, "path segment 3 is not valid UTF-8"});
  for (const char* method : {"GET", "PATCH", "DELETE"})
    refused(method, "/v1/email-configurations/%FF", "mr_alice_token", std::string(method) == "PATCH" ? "{}" : "",
            {400, "path segment 3 is not valid UTF-8"});
  refused("POST", "/v1/email-configurations/%FF/verify", "mr_alice_token", "", {400, "path segment 3 is not valid UTF-8"});
  refused("POST", "/v1/emails", "mr_alice_token", deep_arrays(100'000), {400, "deeper than 32 levels"});
  refused("POST", "/v1/emails", "mr_alice_token", "{\"data\":" + deep_arrays(100'000) + "}", {400, "deeper than 32 levels"});
  ASSERT_EQ(serve_.call("PUT", "/v1/templates/t", "mr_alice_token", R"({"subject":"s","text_body":"{{x}}"})").status, 200);
  refused("POST", "/v1/templates/t/preview", "mr_alice_token", "{\"data\":{\"x\":" + deep_arrays(100'000) + "}}",
          {400, "deeper than 32 levels"});
}

TEST_F(Hostile, BadInputIsA4xxNamingTheField) {
  ASSERT_TRUE(serve_.healthy());
  const std::string t = "mr_alice_token";
  // A number out of range, on every endpoint that takes a body.
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/v1/emails"}, {"POST", "/v1/email-configurations"}, {"PATCH", "/v1/email-configurations/" + serve_.configuration},
           {"PUT", "/v1/templates/t"}, {"POST", "/v1/templates/t/preview"}, {"POST", "/v1/suppressions"},
           {"POST", "/v1/dns/zones"}, {"POST", "/v1/dns/zones/z.test/records"}, {"POST", "/v1/dns/zones/z.test/apply"},
           {"POST", "/v1/dns/zones/z.test/email-setup"}})
    refused(method, target, t, R"({"priority": 1e400})", {400, "a number too large"});
  // A webhook's body is the provider's format: its plugin checks the signature first.
  refused("POST", "/v1/webhooks/" + serve_.configuration, "", R"({"priority": 1e400})",
          {401, "the webhook signature does not match"});
  // Invalid UTF-8 and NUL in paths and queries.
  refused("GET", "/v1/emails/%FF", t, "", {400, "path segment 3 is not valid UTF-8"});
  refused("GET", "/v1/emails?to=%FF", t, "", {400, "query parameter 'to' is not valid UTF-8"});
  refused("GET", "/v1/dns/zones/%FF", t, "", {400, "path segment 4 is not valid UTF-8"});
  refused("PUT", "/v1/templates/%FF", t, R"({"subject":"a","text_body":"b"})", {400, "path segment 3 is not valid UTF-8"});
  refused("PUT", "/v1/templates/a%00b", t, R"({"subject":"a","text_body":"b"})",
          {400, "path segment 3 contains a control character (0)"});
  // Ids that are not UUIDs name nothing.
  refused("GET", "/v1/emails/not-a-uuid", t, "", {404, "no emails 'not-a-uuid': an id is a UUID"});
  refused("DELETE", "/v1/dns/zones/z.test/records/not-a-uuid", t, "", {404, "an id is a UUID"});
  // NUL in any string of a body.
  refused("POST", "/v1/emails", t, email({{"to", std::string("carol@example.com\0x", 19)}}).dump(),
          {400, "at /to: contains a NUL character"});
  refused("POST", "/v1/emails", t, email({{"subject", std::string("a\0b", 3)}}).dump(), {400, "at /subject: contains a NUL"});
  refused("POST", "/v1/emails", t, email({{"text", std::string("a\0b", 3)}}).dump(), {400, "at /text: contains a NUL"});
  refused("POST", "/v1/dns/zones/z.test/records", t,
          json{{"type", "TXT"}, {"name", "x"}, {"value", std::string("a\0b", 3)}}.dump(), {400, "at /value: contains a NUL"});
  // Line breaks in header text, given or rendered from template data.
  refused("POST", "/v1/emails", t, email({{"subject", "Hi\r\nBcc: victim@example.com"}}).dump(), {422, "subject contains a line break"});
  refused("POST", "/v1/emails", t, email({{"to_name", "Carol\nBcc: victim@example.com"}}).dump(), {422, "to_name contains a line break"});
  ASSERT_EQ(serve_.call("PUT", "/v1/templates/greet", t, R"({"subject":"Hi {{name}}","text_body":"x"})").status, 200);
  refused("POST", "/v1/emails", t,
          json{{"configuration", serve_.configuration}, {"to", "carol@example.com"}, {"template", "greet"},
               {"data", {{"name", "x\r\nBcc: victim@example.com"}}}}.dump(),
          {422, "subject contains a line break"});
  // send_at that names no instant.
  refused("POST", "/v1/emails", t, email({{"send_at", "2026-02-30T00:00:00Z"}}).dump(), {422, "is not a real date"});
  refused("POST", "/v1/emails", t, email({{"send_at", "not a date"}}).dump(), {422, "is not an RFC 3339 time"});
  refused("POST", "/v1/emails", t, email({{"send_at", "2026-12-01T00:00:00+25:00"}}).dump(), {422, "UTC offset"});
  refused("POST", "/v1/emails", t, email({{"send_at", "99999-01-01T00:00:00Z"}}).dump(), {422, "is not an RFC 3339 time"});
  // Idempotency keys are at most 255 characters.
  refused("POST", "/v1/emails", t, email().dump(), {422, "idempotency_key is longer than 255 characters"},
          {{"Idempotency-Key", std::string(256, 'k')}});
  // Addresses: a 65-octet local part.
  refused("POST", "/v1/emails", t, email({{"to", std::string(65, 'a') + "@example.com"}}).dump(), {422, "to: not an email address"});
  refused("POST", "/v1/suppressions", t, json{{"email", std::string(65, 'a') + "@example.com"}}.dump(),
          {400, "is not an email address"});
}

// Everything that becomes a header field is checked at enqueue: each field an application may
// not set, a line break in each header-bearing field, attachments the plugin cannot send.
TEST_F(Hostile, HeaderFieldsAndAttachmentsAreCheckedWhenQueued) {
  ASSERT_TRUE(serve_.healthy());
  const std::string t = "mr_alice_token";
  for (const std::string name : {"From", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID", "MIME-Version",
                                 "Content-Type", "Content-Transfer-Encoding", "DKIM-Signature", "Received", "Return-Path",
                                 "Sender", "Reply-To"})
    refused("POST", "/v1/emails", t, email({{"headers", {{name, "x"}}}}).dump(),
            {422, "headers: " + name + " is written by mailroom from the email's fields and its parts"});
  refused("POST", "/v1/emails", t, email({{"headers", {{"Organization", "x"}}}}).dump(),
          {422, "headers: Organization is not a field an application may set (X-*, List-*"});
  refused("POST", "/v1/emails", t, email({{"headers", {{"X-Bad Name", "x"}}}}).dump(),
          {422, "headers: 'X-Bad Name' is not a header field name"});
  refused("POST", "/v1/emails", t, email({{"headers", {{"X-A", "1"}, {"x-a", "2"}}}}).dump(), {422, "headers: x-a is given twice"});
  // A line break in each field that becomes header text.
  const std::string crlf = "x\r\nBcc: victim@example.com";
  const json pdf = {{"filename", "a.pdf"}, {"content", "JVBERg=="}};
  struct Case {
    json changes;
    std::string detail;
  };
  const auto with = [](const std::string& key, json value) { return json{{key, std::move(value)}}; };
  const auto attachment = [&](const std::string& key, const std::string& value) {
    json a = pdf;
    a[key] = value;
    return with("attachments", json::array({a}));
  };
  const std::vector<Case> cases = {
      {with("subject", crlf), "subject contains a line break"},
      {with("to_name", crlf), "to_name contains a line break"},
      {with("headers", json{{"X-Note", crlf}}), "headers: X-Note contains a line break"},
      {with("headers", json{{"List-Unsubscribe", "<https://x.test/u>\nBcc: v@example.com"}}),
       "headers: List-Unsubscribe contains a line break"},
      {attachment("filename", crlf), "attachments[0].filename"},
      {attachment("content_type", "application/pdf\r\nBcc: v@e.com"), "attachments[0].content_type (a.pdf) contains a line break"},
      {attachment("content_id", "logo\r\nBcc: v@e.com"), "attachments[0].content_id (a.pdf) contains a line break"},
  };
  for (const auto& c : cases) refused("POST", "/v1/emails", t, email(c.changes).dump(), {422, c.detail});
  // Addresses with a line break.
  for (const std::string field : {"to", "cc", "bcc"}) {
    const json value = field == "to" ? json("carol@example.com\r\nBcc: v@example.com") : json::array({"carol@example.com\nBcc: v@example.com"});
    refused("POST", "/v1/emails", t, email({{field, value}}).dump(), {422, field + " contains a line break"});
  }
  refused("POST", "/v1/emails", t, email({{"attachments", {{{"filename", "a.pdf"}, {"content", "not base64!"}}}}}).dump(),
          {400, "attachments[0].content (a.pdf) is not base64"});
  // fake_email declares no attachments: refused now, naming the file, not at send time.
  refused("POST", "/v1/emails", t, email({{"attachments", {pdf}}}).dump(),
          {422, "attachments (a.pdf): plugin fake_email does not declare the capability attachments"});
  refused("POST", "/v1/emails", t, email({{"tags", {"ok", "not ok"}}}).dump(), {422, "tags: 'not ok' must be 1 to 64 letters"});
  refused("POST", "/v1/emails", t, email({{"metadata", {{"k", std::string(513, 'v')}}}}).dump(),
          {422, "metadata: the value of k is longer than 512 characters"});
}

TEST_F(Hostile, ConfigurationsAreCheckedWhenCreatedNotWhenSent) {
  ASSERT_TRUE(serve_.healthy());
  const std::string t = "mr_alice_token";
  const json base{{"provider", "fake_email"}, {"from", "a@example.com"}, {"secrets", {{"api_key", "key"}}}};
  auto with = [&](json changes) {
    json b = base;
    b.update(changes);
    return b.dump();
  };
  refused("POST", "/v1/email-configurations", t, with({{"from_name", "Ada\r\nBcc: x@example.com"}}),
          {422, "from_name contains a control character (13)"});
  refused("POST", "/v1/email-configurations", t,
          json{{"dsn", "smtp://relay.example:25"}, {"from", "a@example.com"}, {"settings", {{"host", "relay\r\nRSET"}}}}.dump(),
          {422, "settings.host contains a control character (13)"});
  refused("POST", "/v1/email-configurations", t, with({{"plugin", "no_such_plugin"}}), {422, "no email plugin 'no_such_plugin'"});
  refused("POST", "/v1/email-configurations", t, with({{"settings", {{"delay_ms", "slow"}}}}), {422, "delay_ms"});
  // A valid one works, and cannot be changed into one its plugin refuses.
  const auto created = serve_.call("POST", "/v1/email-configurations", t, base.dump());
  ASSERT_EQ(created.status, 201) << created.body;
  refused("PATCH", "/v1/email-configurations/" + json::parse(created.body)["id"].get<std::string>(), t,
          json{{"settings", {{"delay_ms", -1}}}}.dump(), {422, "delay_ms"});
}

TEST_F(Hostile, ListingsAndTokensAreStrictWhereTheyWereLax) {
  ASSERT_TRUE(serve_.healthy());
  const std::string t = "mr_alice_token";
  refused("GET", "/v1/audit-logs?cursor=00000000-0000-0000-0000-000000000000", t, "", {400, "cursor is not one this API gave"});
  refused("GET", "/v1/audit-logs?cursor=yesterday", t, "", {400, "cursor is not one this API gave"});
  refused("GET", "/v1/audit-logs?resource_type=users", t, "", {400, "resource_type must be one of"});
  for (const char* target : {"/v1/email-configurations?colour=blue", "/v1/templates?colour=blue", "/v1/suppressions?colour=blue",
                             "/v1/dns/zones?colour=blue", "/v1/quota?colour=blue"})
    refused("GET", target, t, "", {400, "unknown query parameter 'colour' (this endpoint takes none)"});
  refused("GET", "/v1/emails?colour=blue", t, "", {400, "unknown query parameter 'colour'"});
  // The scheme of Authorization is case-insensitive.
  mailroom::HttpHeaders lower{{"Authorization", "bearer mr_alice_token"}};
  EXPECT_EQ(serve_.client->send({"GET", "/v1/quota", lower, ""}).status, 200);
  mailroom::HttpHeaders upper{{"Authorization", "BEARER  mr_alice_token"}};
  EXPECT_EQ(serve_.client->send({"GET", "/v1/quota", upper, ""}).status, 200);
  refused("GET", "/v1/quota", "", "", {401, "missing bearer token"}, {{"Authorization", "Basic YTpi"}});
}

TEST_F(Hostile, DnsRecordsAreCheckedAgainstTheZoneAndItsPlugin) {
  ASSERT_TRUE(serve_.healthy());
  const std::string t = "mr_alice_token";
  const auto zone = serve_.call("POST", "/v1/dns/zones", t,
                                R"({"name":"z.test","provider":"cloudflare","plugin":"test_dns","settings":{"zone":"z.test"}})");
  ASSERT_EQ(zone.status, 201) << zone.body;
  const std::string records = "/v1/dns/zones/z.test/records";
  refused("POST", records, t, R"({"type":"TXT","name":"www.other.test.","value":"v"})",
          {422, "the name is outside the zone z.test"});
  refused("POST", records, t, R"({"type":"A","name":"www","value":"192.0.2.1"})",
          {422, "test_dns does not declare the record type A"});
  refused("POST", records, t, R"({"type":"TXT","name":"www","value":"a\nb"})", {422, "the value contains a control character"});
  refused("DELETE", records + "/00000000-0000-0000-0000-000000000001", t, "", {404, "has no record"});
  // A plugin's settings pattern against a long string (std::regex overflowed the stack here).
  refused("POST", "/v1/dns/zones", t,
          json{{"name", "long.test"}, {"provider", "cloudflare"}, {"plugin", "test_dns"},
               {"settings", {{"zone", std::string(200000, 'a') + "!"}}}}.dump(),
          {422, "zone"});
  const auto absolute = serve_.call("POST", records, t, R"({"type":"TXT","name":"www.z.test.","value":"v"})");
  ASSERT_EQ(absolute.status, 201) << absolute.body;
  EXPECT_EQ(json::parse(absolute.body)["name"], "www.z.test");
}

TEST_F(Hostile, MalformedHttpIsA400NotASilentClose) {
  ASSERT_TRUE(serve_.healthy());
  for (const std::string request : {"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                                    "GET /healthz HTTP/1.1\r\nBad Header Name: x\r\n\r\n",
                                    "GET /he althz HTTP/1.1\r\n\r\n"}) {
    const std::string answer = raw_exchange(serve_.port, request);
    EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << request << " -> " << answer;
    EXPECT_NE(answer.find("not valid HTTP/1.1"), std::string::npos) << answer;
  }
  EXPECT_TRUE(serve_.healthy());
}

TEST_F(Hostile, AnInactiveTemplateIsStoredAndAnswered) {
  ASSERT_TRUE(serve_.healthy());
  const auto r = serve_.call("PUT", "/v1/templates/x", "mr_alice_token", R"({"subject":"a","text_body":"b","is_active":false})");
  ASSERT_EQ(r.status, 200) << r.body;
  const json body = json::parse(r.body);
  EXPECT_EQ(body["name"], "x");
  EXPECT_EQ(body["is_active"], false);
  EXPECT_EQ(body["id"].get<std::string>().size(), 36u);
  pqxx::connection c(serve_.url);
  pqxx::read_transaction tx(c);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM email_templates WHERE name = 'x' AND NOT is_active")[0][0].as<int>(), 1);
}

}  // namespace
