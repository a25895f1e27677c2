// The smtp_relay plugin against a real SMTP server (aiosmtpd, tests/tools/smtp_server.py):
// what arrives is read by Python's email parser and its DKIM signature verified by dkimpy.
#include "plugin_host.hpp"
#include "smtp_server.hpp"

#include <mailroom/dkim.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace {

namespace fs = std::filesystem;
using namespace mailroom::testing;
using mailroom::ErrorKind;
using mailroom::ProviderError;
using nlohmann::json;

void expect_error(const std::function<void()>& f, ErrorKind kind, const std::string& code, const std::string& text);

class SmtpRelay : public ::testing::Test {
 protected:
  void SetUp() override { host_.load(fs::path(MAILROOM_PLUGIN_DIR) / "smtp_relay.so"); }

  std::shared_ptr<mailroom::EmailProvider> provider(const SmtpServer& server, json config,
                                                    std::map<std::string, std::string> secrets = {{"password", "s3cret-pw"}},
                                                    const std::string& sender = "ada@example.com") {
    config["host"] = "127.0.0.1";
    config["port"] = server.port();
    if (!config.contains("ca_file")) config["ca_file"] = (certificate_dir() / "cert.pem").string();
    mailroom::plugin_host::ProviderSettings settings;
    settings.config = config;
    settings.secrets = std::move(secrets);
    settings.sender = sender;
    settings.log_sink = [](mailroom::LogLevel, std::string_view) {};
    return host_.create_email_provider("smtp_relay", std::move(settings));
  }

  static mailroom::OutgoingEmail email(std::vector<std::string> rcpt = {"bob@example.com", "carol@example.com",
                                                                        "secret-bcc@example.com"}) {
    mailroom::OutgoingEmail e;
    e.id = "q-1";
    e.envelope = {"ada@example.com", std::move(rcpt)};
    e.message.from = {"ada@example.com", "Ada Lovelace"};
    e.message.to = {{"bob@example.com", "Bøb"}};
    e.message.cc = {{"carol@example.com", ""}};
    e.message.subject = "Größe: über 9000";
    e.message.text_body = "Hello Bob,\nplain text here.\n";
    e.message.html_body = "<p>Hello <b>Bob</b></p>\n";
    return e;
  }

  static std::vector<std::string> tls_server() {
    return {"--cert", (certificate_dir() / "cert.pem").string(), "--key", (certificate_dir() / "key.pem").string(),
            "--require-tls", "--auth", "ada:s3cret-pw"};
  }

  mailroom::plugin_host::PluginHost host_;
};

TEST_F(SmtpRelay, DeliversOverStartTlsWithAuthAndDkim) {
  SmtpServer server(tls_server());
  const std::string key = run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048");
  auto relay = provider(server, {{"username", "ada"}, {"dkim_domain", "example.com"}, {"dkim_selector", "s1"}},
                        {{"password", "s3cret-pw"}, {"dkim_private_key", key}});
  const auto receipt = relay->send(email());
  const auto messages = server.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(receipt.provider_message_id, messages[0].stem().string()) << "the relay's queue id";
  EXPECT_NE(server.commands().find("MAIL ada@example.com tls=True"), std::string::npos) << server.commands();

  const std::string raw = read_file(messages[0]);
  EXPECT_NE(raw.find("X-Envelope-To: bob@example.com,carol@example.com,secret-bcc@example.com"), std::string::npos);
  const std::string message = raw.substr(raw.find("\r\n", raw.find("X-Envelope-To")) + 2);
  const std::string file = messages[0].string() + ".msg";
  std::ofstream(file, std::ios::binary) << message;
  const json parsed = json::parse(run(std::string("/usr/bin/python3 ") + MAILROOM_PARSE_MESSAGE + " " + file));
  EXPECT_EQ(parsed["subject"], "Größe: über 9000");
  EXPECT_EQ(parsed["to"], json::parse(R"([["Bøb", "bob@example.com"]])"));
  EXPECT_EQ(parsed["content_type"], "multipart/alternative");
  EXPECT_EQ(parsed["text"], "Hello Bob,\nplain text here.\n");
  EXPECT_EQ(parsed["html"], "<p>Hello <b>Bob</b></p>\n");
  EXPECT_FALSE(parsed["has_bcc"]);
  EXPECT_EQ(message.find("secret-bcc"), std::string::npos) << "Bcc leaked into the message";
  EXPECT_EQ(run(std::string("/usr/bin/python3 ") + MAILROOM_VERIFY_DKIM + " " + file + " " +
                shell_quote(mailroom::dkim::dns_record(key))),
            "pass\n");
}

TEST_F(SmtpRelay, ReusesOneConnectionAcrossMessages) {
  SmtpServer server(tls_server());
  auto relay = provider(server, {{"username", "ada"}});
  for (int i = 0; i < 3; ++i) relay->send(email({"bob@example.com"}));
  EXPECT_EQ(server.messages().size(), 3u);
  const std::string log = server.commands();
  std::size_t auths = 0;
  for (auto at = log.find("AUTH"); at != std::string::npos; at = log.find("AUTH", at + 1)) ++auths;
  EXPECT_EQ(auths, 1u) << "one connection, one AUTH:\n" << log;
}

TEST_F(SmtpRelay, AuthLoginWhenPlainIsNotOffered) {
  auto options = tls_server();
  options.push_back("--login-only");
  SmtpServer server(options);
  auto relay = provider(server, {{"username", "ada"}});
  EXPECT_NO_THROW(relay->send(email({"bob@example.com"})));
  EXPECT_NE(server.commands().find("AUTH LOGIN ok"), std::string::npos) << server.commands();
}

TEST_F(SmtpRelay, Xoauth2BearerToken) {
  auto options = tls_server();
  options.insert(options.end(), {"--xoauth2", "ada:ya29.token-123"});
  SmtpServer server(options);
  auto relay = provider(server, {{"username", "ada"}}, {{"oauth_token", "ya29.token-123"}});
  EXPECT_NO_THROW(relay->send(email({"bob@example.com"})));
  EXPECT_NE(server.commands().find("AUTH XOAUTH2 ok"), std::string::npos) << server.commands();
  auto wrong = provider(server, {{"username", "ada"}}, {{"oauth_token", "expired"}});
  expect_error([&] { wrong->send(email({"bob@example.com"})); }, ErrorKind::auth, "", "");
}

TEST_F(SmtpRelay, ImplicitTls) {
  SmtpServer server({"--cert", (certificate_dir() / "cert.pem").string(), "--key", (certificate_dir() / "key.pem").string(),
                     "--implicit-tls", "--auth", "ada:s3cret-pw"});
  auto relay = provider(server, {{"username", "ada"}, {"tls", "implicit"}});
  try {
    relay->send(email({"bob@example.com"}));
  } catch (const ProviderError& e) {
    FAIL() << e.what();
  }
  EXPECT_EQ(server.messages().size(), 1u);
}

void expect_error(const std::function<void()>& f, ErrorKind kind, const std::string& code, const std::string& text) {
  try {
    f();
    FAIL() << "no error";
  } catch (const ProviderError& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    if (!code.empty()) {
      EXPECT_EQ(e.info().code, code) << e.what();
    }
    EXPECT_NE(e.info().message.find(text), std::string::npos) << e.what();
  }
}

TEST_F(SmtpRelay, RepliesMapToErrorKindsWithTheServersText) {
  SmtpServer server(tls_server());
  auto relay = provider(server, {{"username", "ada"}});
  expect_error([&] { relay->send(email({"tempfail@example.com"})); }, ErrorKind::transient, "451", "temporary failure");
  expect_error([&] { relay->send(email({"ratelimit@example.com"})); }, ErrorKind::rate_limited, "421", "slow down");
  expect_error([&] { relay->send(email({"reject@example.com"})); }, ErrorKind::permanent, "550", "mailbox unavailable");
  expect_error([&] { relay->send(email({"hangup@example.com"})); }, ErrorKind::transient, "", "");
  EXPECT_TRUE(server.messages().empty());
  EXPECT_NO_THROW(relay->send(email({"bob@example.com"}))) << "the provider recovers after a dropped connection";
}

TEST_F(SmtpRelay, WrongPasswordIsAnAuthErrorAndVerifyChecksCredentials) {
  SmtpServer server(tls_server());
  auto bad = provider(server, {{"username", "ada"}}, {{"password", "wrong"}});
  expect_error([&] { bad->send(email({"bob@example.com"})); }, ErrorKind::auth, "535", "");
  expect_error([&] { bad->verify(); }, ErrorKind::auth, "535", "");
  auto good = provider(server, {{"username", "ada"}});
  EXPECT_NO_THROW(good->verify());
  EXPECT_TRUE(server.messages().empty()) << "verify sends nothing";
  // A relay that refuses the configuration's sender at MAIL FROM fails verify, naming it.
  auto impostor = provider(server, {{"username", "ada"}}, {{"password", "s3cret-pw"}}, "impostor@example.com");
  expect_error([&] { impostor->verify(); }, ErrorKind::permanent, "550", "the relay refuses the sender impostor@example.com");
  EXPECT_NO_THROW(good->send(email({"bob@example.com"}))) << "the check left a transaction open";
}

TEST_F(SmtpRelay, StartTlsRequiredButNotOfferedSendsNothing) {
  SmtpServer plain({});
  auto relay = provider(plain, {});
  expect_error([&] { relay->send(email({"bob@example.com"})); }, ErrorKind::permanent, "starttls_unavailable",
               "does not offer STARTTLS");
  EXPECT_EQ(plain.commands().find("MAIL"), std::string::npos) << "a command was sent in clear";
  auto cleartext = provider(plain, {{"tls", "none"}}, {});
  EXPECT_NO_THROW(cleartext->send(email({"bob@example.com"})));
}

TEST_F(SmtpRelay, UntrustedCertificateIsRefused) {
  SmtpServer server(tls_server());
  auto relay = provider(server, {{"username", "ada"}, {"ca_file", "/etc/ssl/certs/ca-certificates.crt"}});
  expect_error([&] { relay->send(email({"bob@example.com"})); }, ErrorKind::permanent, "tls_verification", "");
  EXPECT_TRUE(server.messages().empty());
}

}  // namespace

namespace {

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_F(SmtpRelay, PipelinesTheEnvelopeWhenTheServerOffersIt) {
  auto options = tls_server();
  options.push_back("--pipelining");
  SmtpServer server(options);
  auto relay = provider(server, {{"username", "ada"}});
  for (int i = 0; i < 3; ++i) relay->send(email());
  EXPECT_EQ(server.messages().size(), 3u);
  // MAIL, three RCPTs and DATA arrived in one write: the server found them waiting.
  EXPECT_EQ(count_of(server.commands(), "pipelined=True"), 3u) << server.commands();
}

TEST_F(SmtpRelay, WaitsForEachReplyWhenPipeliningIsNotOfferedOrTurnedOff) {
  SmtpServer plain(tls_server());
  auto relay = provider(plain, {{"username", "ada"}});
  for (int i = 0; i < 2; ++i) relay->send(email());
  EXPECT_EQ(plain.messages().size(), 2u);
  EXPECT_EQ(count_of(plain.commands(), "pipelined=False"), 2u) << plain.commands();

  auto options = tls_server();
  options.push_back("--pipelining");
  SmtpServer offering(options);
  auto careful = provider(offering, {{"username", "ada"}, {"pipelining", false}});
  careful->send(email());
  EXPECT_EQ(count_of(offering.commands(), "pipelined=False"), 1u) << offering.commands();
}

TEST_F(SmtpRelay, APipelinedRefusalSendsNothingAndTheConnectionRecovers) {
  auto options = tls_server();
  options.push_back("--pipelining");
  SmtpServer server(options);
  auto relay = provider(server, {{"username", "ada"}});
  // One recipient refused among accepted ones: DATA was already sent, and the message must
  // not reach the others as an empty or partial one.
  expect_error([&] { relay->send(email({"bob@example.com", "reject@example.com"})); }, ErrorKind::permanent, "550",
               "mailbox unavailable");
  expect_error([&] { relay->send(email({"tempfail@example.com"})); }, ErrorKind::transient, "451", "temporary failure");
  EXPECT_TRUE(server.messages().empty());
  relay->send(email({"bob@example.com"}));
  EXPECT_EQ(server.messages().size(), 1u);
}

TEST_F(SmtpRelay, DotStuffingKeepsLinesThatStartWithADot) {
  SmtpServer server(tls_server());
  auto relay = provider(server, {{"username", "ada"}});
  auto e = email({"bob@example.com"});
  e.message.html_body.clear();
  e.message.text_body = "first\n.\n..two dots\n.end";
  relay->send(e);
  ASSERT_EQ(server.messages().size(), 1u);
  const std::string raw = read_file(server.messages()[0]);
  EXPECT_NE(raw.find("first\r\n.\r\n..two dots\r\n.end"), std::string::npos) << raw;
}

TEST_F(SmtpRelay, AHungRelayFailsTheSendAfterItsOwnTimeout) {
  SmtpServer server(tls_server());
  auto relay = provider(server, {{"username", "ada"}, {"timeout_seconds", 1}});
  const auto start = std::chrono::steady_clock::now();
  expect_error([&] { relay->send(email({"hang@example.com"})); }, ErrorKind::transient, "connection",
               "did not answer within 1 s");
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(took, 0.9);
  EXPECT_LT(took, 5.0);
  relay->send(email({"bob@example.com"}));  // a new connection
  EXPECT_EQ(server.messages().size(), 1u);
}

}  // namespace
