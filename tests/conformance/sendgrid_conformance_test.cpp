// The sendgrid plugin against SendGrid's official Mail Send document: the SDK's email
// conformance suite, the whole Message mapped to the v3 body, and each error mapping, with
// every request and answer checked by Prism (SendGridMock).
#include "sendgrid_mock.hpp"

#include <mailroom/testkit/email_conformance.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <thread>

namespace {

using mailroom::ErrorKind;
using mailroom::testkit::provider_error_kind;
using nlohmann::json;

mailroom::testing::SendGridMock& sendgrid() {
  static mailroom::testing::SendGridMock mock;
  return mock;
}

class SendGridConformance : public mailroom::testkit::EmailConformance {
 protected:
  std::shared_ptr<mailroom::EmailProvider> make_provider() override {
    return plugin_.create(json::object(), {{"api_key", sendgrid().key()}}, sendgrid().url());
  }
  void expect_delivered(const mailroom::OutgoingEmail& email, const mailroom::SendReceipt& receipt) override {
    const json sent = last_send();
    EXPECT_EQ(sent["message_id"], receipt.provider_message_id);
    EXPECT_EQ(sent["personalizations"][0]["custom_args"]["mailroom_email_id"], email.id);
  }
  void TearDown() override { EXPECT_EQ(sendgrid().violations(), "") << "requests Prism found at odds with SendGrid's document"; }

  static json last_send() {
    const json sends = sendgrid().sends();
    return sends.empty() ? json() : sends.back();
  }

  mailroom::testkit::LoadedEmailPlugin plugin_{MAILROOM_PLUGIN_DIR "/sendgrid.so"};
};

MAILROOM_EMAIL_CONFORMANCE_TESTS(SendGridConformance)

TEST_F(SendGridConformance, TheWholeMessageBecomesTheV3Body) {
  auto email = deliverable();
  email.id = "0b6f1a52-58a4-4bb0-9c43-3f1c2d9c7a10";
  email.envelope.rcpt_to = {"recipient@example.com", "copy@example.com", "Hidden-Bcc@example.com", "COPY@example.com"};
  email.message.cc = {{"copy@example.com", "Copy Reader"}};
  email.message.reply_to = mailroom::Address{"replies@example.com", "Replies"};
  email.message.extra_headers = {{"X-Campaign", "winter"}};
  email.message.attachments = {{"invoice.pdf", "application/pdf", std::string("%PDF-1.7\n\0\xff", 11)},
                               {"logo.png", "image/png", "PNG", "logo"}};
  email.tags = {"invoice", "q4"};
  email.metadata = {{"customer", "42"}, {"mailroom_email_id", "not-this"}};
  email.message.message_id = "<0b6f1a52-58a4-4bb0-9c43-3f1c2d9c7a10@example.com>";
  make_provider()->send(email);

  const json sent = last_send();
  const json& p = sent["personalizations"][0];
  EXPECT_EQ(p["to"], json::parse(R"([{"email": "recipient@example.com", "name": "Récipient"}])"));
  EXPECT_EQ(p["cc"], json::parse(R"([{"email": "copy@example.com", "name": "Copy Reader"}])"));
  // Every envelope recipient the headers do not show, once: Bcc only in the envelope.
  EXPECT_EQ(p["bcc"], json::parse(R"([{"email": "Hidden-Bcc@example.com"}])"));
  EXPECT_EQ(sent["from"], json::parse(R"({"email": "sender@example.com", "name": "Sender"})"));
  EXPECT_EQ(sent["reply_to"], json::parse(R"({"email": "replies@example.com", "name": "Replies"})"));
  EXPECT_EQ(sent["subject"], "Conformance — ünïcode subject");
  EXPECT_EQ(sent["content"], json::parse(R"([{"type": "text/plain", "value": "plain text\n"},
                                             {"type": "text/html", "value": "<p>html</p>\n"}])"));
  EXPECT_EQ(sent["attachments"], json::parse(R"([{"content": "JVBERi0xLjcKAP8=", "filename": "invoice.pdf",
                                                  "type": "application/pdf", "disposition": "attachment"},
                                                 {"content": "UE5H", "filename": "logo.png", "type": "image/png",
                                                  "disposition": "inline", "content_id": "logo"}])"));
  EXPECT_EQ(sent["categories"], json::parse(R"(["invoice", "q4"])")) << "tags become categories";
  EXPECT_EQ(p["custom_args"], json::parse(R"({"customer": "42", "mailroom_email_id": "0b6f1a52-58a4-4bb0-9c43-3f1c2d9c7a10"})"))
      << "metadata rides in custom_args, never over the email id";
  EXPECT_EQ(sent["headers"], json::parse(R"({"X-Campaign": "winter",
                                             "Message-ID": "<0b6f1a52-58a4-4bb0-9c43-3f1c2d9c7a10@example.com>"})"));
  EXPECT_EQ(sent.dump().find("\"Bcc\""), std::string::npos) << "a Bcc header was sent";
}

TEST_F(SendGridConformance, VerifyUsesSandboxModeAndSendsNothing) {
  const auto before = sendgrid().sends().size();
  EXPECT_NO_THROW(make_provider()->verify());
  EXPECT_EQ(sendgrid().sends().size(), before) << "verify() sent an email";
  auto wrong = plugin_.create(json::object(), {{"api_key", "SG.wrong"}}, sendgrid().url());
  EXPECT_EQ(provider_error_kind([&] { wrong->verify(); }), ErrorKind::auth);
}

TEST_F(SendGridConformance, A400NamesSendGridsFields) {
  sendgrid().fail(400, 1, 1, json::parse(R"([{"message": "The from email does not contain a valid address.", "field": "from.email"},
                                            {"message": "Invalid type. Expected: object, given: string.", "field": "personalizations.0.custom_args"}])"));
  try {
    make_provider()->send(deliverable());
    FAIL() << "a 400 was accepted";
  } catch (const mailroom::ProviderError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_request);
    EXPECT_EQ(e.info().code, "from.email,personalizations.0.custom_args");
    EXPECT_NE(e.info().message.find("from.email: The from email does not contain a valid address."), std::string::npos)
        << e.info().message;
  }
  // SendGrid's own checks beyond the schema come back the same way (the fake makes them).
  auto email = deliverable();
  email.message.extra_headers = {{"Content-Type", "text/plain"}};
  try {
    make_provider()->send(email);
    FAIL() << "a reserved header was accepted";
  } catch (const mailroom::ProviderError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::invalid_request);
    EXPECT_EQ(e.info().code, "headers");
  }
}

TEST_F(SendGridConformance, AuthFailuresAreAuth) {
  auto wrong = plugin_.create(json::object(), {{"api_key", "SG.wrong"}}, sendgrid().url());
  try {
    wrong->send(deliverable());
    FAIL() << "a wrong key was accepted";
  } catch (const mailroom::ProviderError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::auth);
    EXPECT_EQ(e.info().message.find("SG.wrong"), std::string::npos) << "the key reached the message";
  }
  sendgrid().fail(403, 1, 1, json::parse(R"([{"message": "access forbidden", "field": null}])"));
  EXPECT_EQ(provider_error_kind([&] { make_provider()->send(deliverable()); }), ErrorKind::auth);
}

TEST_F(SendGridConformance, TooLargeIsInvalidRequest) {
  sendgrid().fail(413, 1, 1, json::parse(R"([{"message": "The JSON payload you have included in your request is too large.", "field": null}])"));
  EXPECT_EQ(provider_error_kind([&] { make_provider()->send(deliverable()); }), ErrorKind::invalid_request);
}

TEST_F(SendGridConformance, A429WaitsUntilTheRateLimitResets) {
  sendgrid().fail(429, 1, 7);
  try {
    make_provider()->send(deliverable());
    FAIL() << "a 429 was accepted";
  } catch (const mailroom::ProviderError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::rate_limited);
    ASSERT_TRUE(e.info().retry_after.has_value());
    // X-RateLimit-Reset is now + 7 s by the fake's clock, read by ours a moment later.
    EXPECT_GE(e.info().retry_after->count(), 5);
    EXPECT_LE(e.info().retry_after->count(), 8);
  }
}

TEST_F(SendGridConformance, ServerErrorsAndNetworkFailuresAreTransient) {
  sendgrid().fail(500);
  EXPECT_EQ(provider_error_kind([&] { make_provider()->send(deliverable()); }), ErrorKind::transient);
  const auto closed = "http://127.0.0.1:" + std::to_string(mailroom::testing::free_port());
  auto unreachable = plugin_.create(json::object(), {{"api_key", sendgrid().key()}}, closed);
  EXPECT_EQ(provider_error_kind([&] { unreachable->send(deliverable()); }), ErrorKind::transient);
}

TEST_F(SendGridConformance, LineBreaksInHeaderFieldsAreRefusedBeforeSending) {
  const auto before = sendgrid().sends().size();
  auto email = deliverable();
  email.message.to[0].name = "Eve\r\nBcc: victim@example.com";
  EXPECT_EQ(provider_error_kind([&] { make_provider()->send(email); }), ErrorKind::invalid_request);
  email = deliverable();
  email.message.extra_headers = {{"X-Note", "a\nb"}};
  EXPECT_EQ(provider_error_kind([&] { make_provider()->send(email); }), ErrorKind::invalid_request);
  EXPECT_EQ(sendgrid().sends().size(), before);
}

// region eu: requests go to api.eu.sendgrid.com. Seen through a proxy that libcurl is pointed
// at (https_proxy), which reads the CONNECT line and closes: nothing leaves this machine.
TEST_F(SendGridConformance, RegionEuSendsToTheEuEndpoint) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t size = sizeof address;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size);
  ::listen(listener, 1);
  std::string connect_line;
  std::thread proxy([&] {
    const int client = ::accept(listener, nullptr, nullptr);
    char buffer[512] = {};
    const auto n = ::recv(client, buffer, sizeof buffer - 1, 0);
    if (n > 0) connect_line.assign(buffer, static_cast<std::size_t>(n));
    ::close(client);
  });
  ::setenv("https_proxy", ("http://127.0.0.1:" + std::to_string(ntohs(address.sin_port))).c_str(), 1);
  auto eu = plugin_.create({{"region", "eu"}}, {{"api_key", sendgrid().key()}});
  EXPECT_EQ(provider_error_kind([&] { eu->send(deliverable()); }), ErrorKind::transient);
  ::unsetenv("https_proxy");
  proxy.join();
  ::close(listener);
  EXPECT_EQ(connect_line.rfind("CONNECT api.eu.sendgrid.com:443 ", 0), 0u) << connect_line;
}

}  // namespace
