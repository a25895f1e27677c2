// The google_workspace plugin against Gmail's document (Prism in front of the fake) and the
// fake token endpoint: the SDK's email conformance suite, both grants with their bodies and
// JWT claims checked by the fake, one token for many concurrent senders, the 401-then-refresh
// path, the upload path for a large message, and every error mapping.
#include "gmail_mock.hpp"

#include <mailroom/testkit/email_conformance.hpp>

#include <atomic>
#include <thread>

namespace {

using mailroom::ErrorKind;
using mailroom::testkit::provider_error_kind;
using nlohmann::json;

mailroom::testing::GmailMock& gmail() {
  static mailroom::testing::GmailMock mock;
  return mock;
}

class MovableClock final : public mailroom::Clock {
 public:
  std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now() + offset_.load(); }
  void advance(std::chrono::seconds by) { offset_ = offset_.load() + by; }

 private:
  std::atomic<std::chrono::seconds> offset_{std::chrono::seconds(0)};
};

class GoogleWorkspaceConformance : public mailroom::testkit::EmailConformance {
 protected:
  GoogleWorkspaceConformance() { host_.load(MAILROOM_PLUGIN_DIR "/google_workspace.so"); }

  std::shared_ptr<mailroom::EmailProvider> make_provider() override {
    return provider(gmail().oauth_settings(), gmail().oauth_secrets());
  }
  std::shared_ptr<mailroom::EmailProvider> provider(json config, std::map<std::string, std::string> secrets,
                                                    std::shared_ptr<mailroom::CredentialCache> cache = nullptr,
                                                    mailroom::Clock* clock = nullptr, const std::string& sender = "") {
    mailroom::plugin_host::ProviderSettings settings;
    settings.config = std::move(config);
    settings.secrets = std::move(secrets);
    settings.credentials = std::move(cache);
    settings.clock = clock;
    settings.sender = sender.empty() ? gmail().user() : sender;
    settings.log_sink = [](mailroom::LogLevel, std::string_view) {};
    return host_.create_email_provider("google_workspace", std::move(settings));
  }
  mailroom::OutgoingEmail deliverable() override {
    auto e = EmailConformance::deliverable();
    e.message.from = {gmail().user(), "Ada"};
    e.message.message_id = "<conformance-1@example.com>";
    return e;
  }
  void expect_delivered(const mailroom::OutgoingEmail& email, const mailroom::SendReceipt& receipt) override {
    const json sent = gmail().messages().back();
    EXPECT_EQ(sent["id"], receipt.provider_message_id);
    const std::string raw = sent["raw"];
    EXPECT_NE(raw.find("Message-ID: " + email.message.message_id), std::string::npos) << raw;
    // Gmail sends to To, Cc and Bcc headers (and removes Bcc): the envelope's hidden recipient is one.
    EXPECT_NE(raw.find("Bcc: hidden-bcc@example.com\r\n"), std::string::npos) << raw;
  }
  void TearDown() override { EXPECT_EQ(gmail().violations(), "") << "requests Prism found at odds with Gmail's document"; }

  std::size_t grants() { return gmail().grants().size(); }
  static std::string message_of(const std::function<void()>& call) {
    try {
      call();
    } catch (const mailroom::ProviderError& e) {
      return e.info().message;
    }
    return "(no error)";
  }

  mailroom::plugin_host::PluginHost host_;
};

MAILROOM_EMAIL_CONFORMANCE_TESTS(GoogleWorkspaceConformance)

TEST_F(GoogleWorkspaceConformance, TheRefreshTokenGrantSendsExactlyItsFields) {
  const auto before = grants();
  make_provider()->send(deliverable());
  const json all = gmail().grants();
  ASSERT_EQ(all.size(), before + 1);
  EXPECT_EQ(all.back()["grant_type"], "refresh_token");
  EXPECT_FALSE(all.back().contains("refused")) << all.back().dump();
}

TEST_F(GoogleWorkspaceConformance, AServiceAccountSignsAnAssertionForTheDelegatedUser) {
  auto sa = provider(gmail().service_account_settings(), gmail().service_account_secrets());
  const auto receipt = sa->send(deliverable());
  EXPECT_FALSE(receipt.provider_message_id.empty());
  const json grant = gmail().grants().back();
  ASSERT_EQ(grant["grant_type"], "urn:ietf:params:oauth:grant-type:jwt-bearer") << grant.dump();
  EXPECT_FALSE(grant.contains("refused")) << grant.dump();
  EXPECT_EQ(grant["header"], json::parse(R"({"alg": "RS256", "typ": "JWT", "kid": "0123456789abcdef"})"));
  const json& claims = grant["claims"];
  EXPECT_EQ(claims["iss"], gmail().service_account_email());
  EXPECT_EQ(claims["sub"], gmail().user());
  EXPECT_EQ(claims["aud"], gmail().token_url());
  EXPECT_EQ(claims["scope"], "https://www.googleapis.com/auth/gmail.send");
  EXPECT_EQ(claims["exp"].get<long long>() - claims["iat"].get<long long>(), 3600);
}

TEST_F(GoogleWorkspaceConformance, GrantErrorsSayWhatToDo) {
  auto wrong_user = provider(gmail().service_account_settings("eve@example.com"), gmail().service_account_secrets());
  EXPECT_EQ(provider_error_kind([&] { wrong_user->send(deliverable()); }), ErrorKind::auth);
  EXPECT_NE(message_of([&] { wrong_user->verify(); }).find("domain-wide delegation"), std::string::npos);

  gmail().fail_token(400, "invalid_grant", "Token has been expired or revoked.");
  const std::string revoked = message_of([&] { make_provider()->verify(); });
  EXPECT_NE(revoked.find("invalid_grant"), std::string::npos) << revoked;
  EXPECT_NE(revoked.find("run the consent flow again"), std::string::npos) << revoked;
  EXPECT_EQ(revoked.find(gmail().refresh_token()), std::string::npos) << "the refresh token reached the message";

  auto wrong_secret = provider(gmail().oauth_settings(), {{"client_secret", "nope"}, {"refresh_token", gmail().refresh_token()}});
  EXPECT_EQ(provider_error_kind([&] { wrong_secret->verify(); }), ErrorKind::auth);
  gmail().fail_token(503, "temporarily_unavailable", "try later");
  EXPECT_EQ(provider_error_kind([&] { make_provider()->verify(); }), ErrorKind::transient);
}

TEST_F(GoogleWorkspaceConformance, ManyConcurrentSendersShareOneToken) {
  auto cache = mailroom::plugin_host::make_memory_credential_cache();
  MovableClock clock;
  std::vector<std::shared_ptr<mailroom::EmailProvider>> senders;
  for (int i = 0; i < 8; ++i) senders.push_back(provider(gmail().oauth_settings(), gmail().oauth_secrets(), cache, &clock));
  const auto send_all = [&] {
    std::vector<std::thread> threads;
    for (auto& s : senders) threads.emplace_back([&] { EXPECT_NO_THROW(s->send(deliverable())); });
    for (auto& t : threads) t.join();
  };
  auto before = grants();
  send_all();
  EXPECT_EQ(grants(), before + 1) << "8 senders, one token";
  // 56 minutes later the token has less than 5 minutes left: renewed once for all.
  clock.advance(std::chrono::minutes(56));
  before = grants();
  send_all();
  EXPECT_EQ(grants(), before + 1);
}

TEST_F(GoogleWorkspaceConformance, ARefusedTokenIsRenewedOnceThenTheSendGoesThrough) {
  auto sender = make_provider();
  sender->send(deliverable());
  gmail().revoke_tokens();
  const auto before = grants();
  const auto sent = gmail().messages().size();
  EXPECT_NO_THROW(sender->send(deliverable()));
  EXPECT_EQ(grants(), before + 1);
  EXPECT_EQ(gmail().messages().size(), sent + 1);
}

TEST_F(GoogleWorkspaceConformance, GmailErrorsMapToKinds) {
  auto sender = make_provider();
  sender->send(deliverable());  // a token first: the failures below are Gmail's
  const auto kind_and_wait = [&](int status, const std::string& reason, const std::string& message, int retry_after,
                                 const std::string& google_status) {
    gmail().fail(status, reason, message, 1, retry_after, google_status);
    try {
      sender->send(deliverable());
    } catch (const mailroom::ProviderError& e) {
      return std::pair{e.kind(), e.info().retry_after.value_or(std::chrono::seconds(0)).count()};
    }
    return std::pair{ErrorKind::permanent, -1L};
  };
  EXPECT_EQ(kind_and_wait(429, "rateLimitExceeded", "Rate Limit Exceeded", 7, "RESOURCE_EXHAUSTED"),
            std::pair(ErrorKind::rate_limited, 7L));
  EXPECT_EQ(kind_and_wait(403, "userRateLimitExceeded", "User Rate Limit Exceeded", -1, "PERMISSION_DENIED"),
            std::pair(ErrorKind::rate_limited, 1L));
  EXPECT_EQ(kind_and_wait(403, "dailyLimitExceeded", "Daily user sending limit exceeded.", -1, "PERMISSION_DENIED"),
            std::pair(ErrorKind::quota, 86400L));
  EXPECT_EQ(kind_and_wait(400, "failedPrecondition", "Precondition check failed.", -1, "FAILED_PRECONDITION").first,
            ErrorKind::auth);
  EXPECT_EQ(kind_and_wait(403, "insufficientPermissions", "Request had insufficient authentication scopes.", -1,
                          "PERMISSION_DENIED").first,
            ErrorKind::auth);
  EXPECT_EQ(kind_and_wait(400, "invalidArgument", "Invalid To header", -1, "INVALID_ARGUMENT").first,
            ErrorKind::invalid_request);
  EXPECT_EQ(kind_and_wait(500, "backendError", "Backend Error", -1, "INTERNAL").first, ErrorKind::transient);
  EXPECT_EQ(kind_and_wait(503, "backendError", "The service is currently unavailable.", -1, "UNAVAILABLE").first,
            ErrorKind::transient);
}

TEST_F(GoogleWorkspaceConformance, ALargeMessageGoesThroughTheUploadEndpoint) {
  make_provider()->send(deliverable());
  EXPECT_FALSE(gmail().messages().back()["upload"].get<bool>()) << "small messages go as raw JSON";
  auto email = deliverable();
  email.message.attachments = {{"big.bin", "application/octet-stream", std::string(3 * 1024 * 1024 + 512 * 1024, 'x')}};
  const auto receipt = make_provider()->send(email);
  const json sent = gmail().messages().back();
  EXPECT_EQ(sent["id"], receipt.provider_message_id);
  EXPECT_TRUE(sent["upload"].get<bool>());
  EXPECT_NE(sent["raw"].get<std::string>().find("filename=\"big.bin\""), std::string::npos);

  email.message.attachments = {{"huge.bin", "application/octet-stream", std::string(36 * 1024 * 1024, 'x')}};
  const auto sent_before = gmail().messages().size();
  EXPECT_EQ(provider_error_kind([&] { make_provider()->send(email); }), ErrorKind::invalid_request);
  EXPECT_EQ(gmail().messages().size(), sent_before);
}

TEST_F(GoogleWorkspaceConformance, MissingCredentialsAreRefusedWhenTheConfigurationIsMade) {
  EXPECT_THROW(provider({{"base_url", gmail().url()}}, {}), mailroom::plugin_host::PluginError);
  EXPECT_THROW(provider({{"base_url", gmail().url()}}, gmail().service_account_secrets()), mailroom::plugin_host::PluginError)
      << "a service account without the user to send as";
  EXPECT_THROW(provider({{"user", gmail().user()}}, {{"service_account_key", "{}"}}), mailroom::plugin_host::PluginError);
}

TEST_F(GoogleWorkspaceConformance, VerifyChecksTheSenderAgainstTheUsersSendAsAliases) {
  using Mock = mailroom::testing::GmailMock;
  const auto sa = [&](const std::string& sender) {
    return provider(gmail().service_account_settings(), gmail().service_account_secrets(), nullptr, nullptr, sender);
  };
  const auto oauth = [&](const std::string& sender) {
    return provider(gmail().oauth_settings(), gmail().oauth_secrets(), nullptr, nullptr, sender);
  };
  // The user itself needs no alias.
  EXPECT_TRUE(sa(gmail().user())->verify().unchecked.empty());

  // A delegation of the send scope alone cannot read aliases: verify says what it did not check.
  auto report = sa("sales@example.com")->verify();
  ASSERT_EQ(report.unchecked.size(), 1u);
  EXPECT_NE(report.unchecked[0].find("sales@example.com"), std::string::npos) << report.unchecked[0];
  EXPECT_NE(report.unchecked[0].find(Mock::kSettingsScope), std::string::npos) << report.unchecked[0];
  report = oauth("sales@example.com")->verify();
  ASSERT_EQ(report.unchecked.size(), 1u);
  EXPECT_NE(report.unchecked[0].find("refresh token"), std::string::npos) << report.unchecked[0];

  gmail().set_scopes({Mock::kSendScope, Mock::kSettingsScope}, {Mock::kSendScope, Mock::kSettingsScope});
  gmail().set_send_as(json::parse(R"([
    {"sendAsEmail": "ada@example.com", "isPrimary": true, "isDefault": true},
    {"sendAsEmail": "Sales@Example.com", "treatAsAlias": true, "verificationStatus": "accepted"},
    {"sendAsEmail": "new@example.com", "treatAsAlias": true, "verificationStatus": "pending"}])"));
  EXPECT_TRUE(sa("sales@example.com")->verify().unchecked.empty()) << "an accepted alias, any case";
  EXPECT_TRUE(oauth("sales@example.com")->verify().unchecked.empty());
  const std::string stranger = message_of([&] { sa("ceo@example.com")->verify(); });
  EXPECT_NE(stranger.find("neither the user nor one of its send-as aliases (ada@example.com, Sales@Example.com)"),
            std::string::npos) << stranger;
  EXPECT_EQ(provider_error_kind([&] { oauth("ceo@example.com")->verify(); }), ErrorKind::auth);
  EXPECT_NE(message_of([&] { sa("new@example.com")->verify(); }).find("awaiting verification"), std::string::npos);

  // A token whose scopes do not reach the settings (Gmail's 403) is a check not made, not a failure.
  gmail().set_scopes({Mock::kSendScope}, {Mock::kSendScope, Mock::kSettingsScope});
  EXPECT_EQ(oauth("sales@example.com")->verify().unchecked.size(), 1u);
  gmail().set_scopes({Mock::kSendScope}, {Mock::kSendScope});
  gmail().set_send_as(json::array());
}

}  // namespace
