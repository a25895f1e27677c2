// The sendgrid plugin's Signed Event Webhook: every case of SendGrid's signature vectors
// (shared/specs/sendgrid/event-webhook-signature-vectors.json) gives its expected verdict,
// the timestamp window refuses replays, and every event type maps as documented.
#include "sendgrid_mock.hpp"

#include <mailroom/testkit/loaded_plugin.hpp>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <charconv>

namespace {

using mailroom::DeliveryEventType;
using mailroom::ErrorKind;
using nlohmann::json;
using Seconds = std::chrono::seconds;

class FixedClock final : public mailroom::Clock {
 public:
  explicit FixedClock(long long unix_seconds) : at_(std::chrono::system_clock::time_point(Seconds(unix_seconds))) {}
  std::chrono::system_clock::time_point now() const override { return at_; }

 private:
  std::chrono::system_clock::time_point at_;
};

std::string base64_decode(const std::string& text) {
  std::string out(text.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  out.resize(static_cast<std::size_t>(n) - (text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0));
  return out;
}

std::string base64_encode(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// Signs as SendGrid does, with the test-only key of SendGrid's SDK tests.
std::string sign(const std::string& timestamp, const std::string& body) {
  const std::string der = base64_decode(mailroom::testing::SendGridMock::private_key());
  const auto* bytes = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      d2i_PrivateKey(EVP_PKEY_EC, nullptr, &bytes, static_cast<long>(der.size())), EVP_PKEY_free);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::string message = timestamp + body, signature(128, '\0');
  std::size_t length = signature.size();
  EXPECT_TRUE(key && EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
              EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                             reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1);
  signature.resize(length);
  return base64_encode(signature);
}

mailroom::HttpRequest webhook_request(const std::string& timestamp, const std::string& signature, const std::string& body) {
  mailroom::HttpRequest request;
  request.method = "POST";
  request.target = "/v1/webhooks/x";
  request.headers.add("Content-Type", "application/json");
  request.headers.add("X-Twilio-Email-Event-Webhook-Signature", signature);
  request.headers.add("X-Twilio-Email-Event-Webhook-Timestamp", timestamp);
  request.body = body;
  return request;
}

class SendGridWebhook : public ::testing::Test {
 protected:
  SendGridWebhook() { host_.load(MAILROOM_PLUGIN_DIR "/sendgrid.so"); }

  std::shared_ptr<mailroom::EmailProvider> provider(json config, mailroom::Clock& clock) {
    mailroom::plugin_host::ProviderSettings settings;
    settings.config = std::move(config);
    settings.secrets = {{"api_key", "SG.unused"}};
    settings.clock = &clock;
    settings.log_sink = [](mailroom::LogLevel, std::string_view) {};
    return host_.create_email_provider("sendgrid", std::move(settings));
  }

  // Verifies `body` signed now by the test key, with the clock at `now`.
  std::vector<mailroom::DeliveryEvent> parse(const std::string& body, long long signed_at, long long now,
                                             json config = json::object()) {
    config["webhook_public_key"] = mailroom::testing::SendGridMock::public_key();
    FixedClock clock(now);
    const std::string timestamp = std::to_string(signed_at);
    return provider(config, clock)->parse_webhook(webhook_request(timestamp, sign(timestamp, body), body));
  }

  mailroom::plugin_host::PluginHost host_;
};

TEST_F(SendGridWebhook, EverySignatureVectorGivesItsExpectedVerdict) {
  const json vectors = mailroom::testing::sendgrid_vectors();
  ASSERT_EQ(vectors["cases"].size(), 11u);
  for (const auto& c : vectors["cases"]) {
    const std::string timestamp = c["timestamp"];
    // The clock stands at the vector's own time, so the verdict is the signature's alone.
    long long at = 1600112502;
    std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), at);
    FixedClock clock(at);
    auto sendgrid = provider({{"webhook_public_key", c["public_key"]}}, clock);
    const auto request = webhook_request(timestamp, c["signature"], base64_decode(c["payload_base64"]));
    EXPECT_EQ(request.body, c["payload"].get<std::string>()) << c["name"];
    if (c["expected_valid"].get<bool>()) {
      EXPECT_NO_THROW(sendgrid->parse_webhook(request)) << c["name"];
    } else {
      EXPECT_EQ(mailroom::testkit::provider_error_kind([&] { sendgrid->parse_webhook(request); }), ErrorKind::auth)
          << c["name"];
    }
  }
}

TEST_F(SendGridWebhook, TheTimestampWindowRefusesOldAndFutureRequests) {
  const std::string body = R"([{"event":"delivered","email":"a@example.com","sg_event_id":"e1","timestamp":1700000000}])" "\r\n";
  const long long now = 1700000600;
  EXPECT_EQ(parse(body, now - 590, now).size(), 1u);
  EXPECT_EQ(mailroom::testkit::provider_error_kind([&] { parse(body, now - 601, now); }), ErrorKind::auth);
  EXPECT_EQ(mailroom::testkit::provider_error_kind([&] { parse(body, now + 601, now); }), ErrorKind::auth);
  EXPECT_EQ(parse(body, now - 3000, now, {{"webhook_max_age_seconds", 3600}}).size(), 1u);
}

TEST_F(SendGridWebhook, UnsignedRequestsAndConfigurationsWithoutAKeyAreRefused) {
  const std::string body = R"([{"event":"delivered","email":"a@example.com"}])";
  FixedClock clock(1700000000);
  auto keyless = provider(json::object(), clock);
  EXPECT_EQ(mailroom::testkit::provider_error_kind([&] { keyless->parse_webhook(webhook_request("1700000000", sign("1700000000", body), body)); }),
            ErrorKind::auth);
  auto keyed = provider({{"webhook_public_key", mailroom::testing::SendGridMock::public_key()}}, clock);
  mailroom::HttpRequest unsigned_request;
  unsigned_request.body = body;
  EXPECT_EQ(mailroom::testkit::provider_error_kind([&] { keyed->parse_webhook(unsigned_request); }), ErrorKind::auth);
}

TEST_F(SendGridWebhook, AKeyThatIsNotAP256PublicKeyIsRefusedWhenTheConfigurationIsMade) {
  FixedClock clock(1700000000);
  // Base64, but of an RSA key: the schema lets it through, the factory does not.
  const std::string rsa =
      "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBANP+sWRwKm9RZFxVs5RIAsxHQZ4UHTM+nNP+2f8HlhYa5RhbawHkHnITWpVeF4dEfb76r3ijzfovbw8/"
      "0GEc07sCAwEAAQ==";
  try {
    provider({{"webhook_public_key", rsa}}, clock);
    FAIL() << "an RSA key was taken";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("webhook_public_key is not a P-256"), std::string::npos) << e.what();
  }
}

TEST_F(SendGridWebhook, EveryEventOfABatchMapsAsDocumented) {
  const std::string body =
      "[" R"({"email":"a@example.com","event":"processed","sg_event_id":"p1","sg_message_id":"MSG1.filterdrecv-1-2.0","timestamp":1700000001,"mailroom_email_id":"id-1"},)" "\r\n"
      R"({"email":"a@example.com","event":"delivered","sg_event_id":"d1","sg_message_id":"MSG1.filterdrecv-1-2.0","timestamp":1700000002,"response":"250 OK"},)" "\r\n"
      R"({"email":"a@example.com","event":"deferred","sg_event_id":"f1","sg_message_id":"MSG1.x.0","timestamp":1700000003,"response":"400 try again later","attempt":"5"},)" "\r\n"
      R"({"email":"b@example.com","event":"bounce","sg_event_id":"b1","sg_message_id":"MSG2.x.0","timestamp":"1700000004","reason":"550 5.1.1 unknown user","status":"5.1.1","type":"bounce"},)" "\r\n"
      R"({"email":"c@example.com","event":"bounce","sg_event_id":"b2","sg_message_id":"MSG3.x.0","timestamp":1700000005,"reason":"421 try later","type":"blocked"},)" "\r\n"
      R"({"email":"d@example.com","event":"dropped","sg_event_id":"x1","sg_message_id":"MSG4.x.0","timestamp":1700000006,"reason":"Bounced Address"},)" "\r\n"
      R"({"email":"a@example.com","event":"open","sg_event_id":"o1","sg_message_id":"MSG1.x.0","timestamp":1700000007},)" "\r\n"
      R"({"email":"a@example.com","event":"click","sg_event_id":"c1","sg_message_id":"MSG1.x.0","timestamp":1700000008,"url":"https://example.com/a"},)" "\r\n"
      R"({"email":"e@example.com","event":"spamreport","sg_event_id":"s1","sg_message_id":"MSG5.x.0","timestamp":1700000009},)" "\r\n"
      R"({"email":"f@example.com","event":"unsubscribe","sg_event_id":"u1","sg_message_id":"MSG6.x.0","timestamp":1700000010},)" "\r\n"
      R"({"email":"g@example.com","event":"group_unsubscribe","sg_event_id":"g1","sg_message_id":"MSG7.x.0","timestamp":1700000011,"asm_group_id":42},)" "\r\n"
      R"({"email":"g@example.com","event":"group_resubscribe","sg_event_id":"g2","sg_message_id":"MSG7.x.0","timestamp":1700000012,"asm_group_id":42})" "\r\n"
      "]\r\n";
  const auto events = parse(body, 1700000020, 1700000020);
  ASSERT_EQ(events.size(), 11u) << "every event but group_resubscribe";
  const std::vector<DeliveryEventType> types = {
      DeliveryEventType::accepted, DeliveryEventType::delivered, DeliveryEventType::deferred,
      DeliveryEventType::bounced,  DeliveryEventType::bounced,   DeliveryEventType::dropped,
      DeliveryEventType::opened,   DeliveryEventType::clicked,   DeliveryEventType::complained,
      DeliveryEventType::unsubscribed, DeliveryEventType::unsubscribed};
  for (std::size_t i = 0; i < types.size(); ++i) EXPECT_EQ(events[i].type, types[i]) << i;
  EXPECT_EQ(events[0].email_id, "id-1");
  EXPECT_EQ(events[0].provider_message_id, "MSG1");
  EXPECT_EQ(events[0].provider_event_id, "p1");
  EXPECT_EQ(events[0].occurred_at, std::chrono::system_clock::time_point(Seconds(1700000001)));
  EXPECT_EQ(events[2].reason, "400 try again later");
  EXPECT_EQ(events[3].bounce_type, "hard");
  EXPECT_EQ(events[3].reason, "550 5.1.1 unknown user");
  EXPECT_EQ(events[3].recipient, "b@example.com");
  EXPECT_EQ(events[3].occurred_at, std::chrono::system_clock::time_point(Seconds(1700000004))) << "a string timestamp";
  EXPECT_EQ(events[4].bounce_type, "soft");
  EXPECT_EQ(events[5].reason, "Bounced Address");
  EXPECT_EQ(events[7].url, "https://example.com/a");
  EXPECT_EQ(events[9].group, "");
  EXPECT_EQ(events[10].group, "42");
}

TEST_F(SendGridWebhook, ABodyThatIsNotABatchIsInvalidRequest) {
  EXPECT_EQ(mailroom::testkit::provider_error_kind([&] { parse("not json", 1700000000, 1700000000); }),
            ErrorKind::invalid_request);
  EXPECT_EQ(mailroom::testkit::provider_error_kind([&] { parse("[1, 2]", 1700000000, 1700000000); }),
            ErrorKind::invalid_request);
}

}  // namespace
