// Email configurations from what a plugin's manifest declares: DSN schemes and how their
// parts map, settings typed by the schema, declared secrets, the seed's mirrored columns.
#include "email_config.hpp"

#include "error_of.hpp"

#include <gtest/gtest.h>

namespace {

using mailroom::email_config::apply;
using mailroom::email_config::Input;
using mailroom::email_config::InputError;
using mailroom::email_config::manifest_for;
using nlohmann::json;

class Plugins : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    plugins_ = new mailroom::plugin_host::PluginHost;
    plugins_->load_directory(MAILROOM_TEST_PLUGIN_DIR);
  }
  static void TearDownTestSuite() { delete plugins_; }
  static Input dsn(const std::string& text) { return mailroom::email_config::parse_dsn(text, *plugins_); }
  static const mailroom::plugin_host::Manifest& manifest(const std::string& name) { return manifest_for(name, *plugins_); }

  static mailroom::plugin_host::PluginHost* plugins_;
  mailroom::crypto::SecretBox box_{mailroom::crypto::KeyRing::parse(mailroom::crypto::generate_key_entry("k1"), "t")};
  mailroom::db::EmailConfiguration row_;
  void SetUp() override { row_.id = "00000000-0000-4000-8000-000000000001"; }
};
mailroom::plugin_host::PluginHost* Plugins::plugins_ = nullptr;

TEST_F(Plugins, SmtpDsnMapsAsTheManifestSays) {
  const auto in = dsn("smtp://ada:p%40ss@relay.example:2525?timeout_seconds=30");
  EXPECT_EQ(in.provider, "smtp_relay");
  EXPECT_EQ(in.settings, (json{{"host", "relay.example"}, {"port", 2525}, {"username", "ada"}, {"tls", "starttls"},
                               {"timeout_seconds", 30}}));
  EXPECT_EQ(in.secrets.at("password"), "p@ss");
  EXPECT_TRUE(in.secret_from_dsn);
  EXPECT_EQ(dsn("smtp://relay.example").settings["port"], 587);
  const auto tls = dsn("smtps://ada@relay.example");
  EXPECT_EQ(tls.settings["port"], 465);
  EXPECT_EQ(tls.settings["tls"], "implicit");
  EXPECT_TRUE(tls.secrets.empty());
}

TEST_F(Plugins, AnyPluginsSchemeWorks) {
  const auto in = dsn("fake://KEY-1@default?delay_ms=5");
  EXPECT_EQ(in.provider, "fake_email");
  EXPECT_EQ(in.secrets.at("api_key"), "KEY-1");
  EXPECT_EQ(in.settings, (json{{"delay_ms", 5}}));
}

TEST_F(Plugins, DsnErrorsNeverQuoteTheDsn) {
  EXPECT_EQ(error_of<InputError>([] { dsn("mailgun://secretkey@default"); }).find("no installed email plugin owns the DSN scheme 'mailgun' (schemes: "), 0u);
  EXPECT_EQ(error_of<InputError>([] { dsn("mailgun://secretkey@default"); }).find("secretkey"), std::string::npos);
  EXPECT_EQ(error_of<InputError>([] { dsn("not a url secretkey"); }),
            "the DSN is not a URL of the form scheme://user:password@host:port");
  EXPECT_EQ(error_of<InputError>([] { dsn("fake://k@default/path"); }), "the DSN has a path, which DSNs do not take");
  EXPECT_EQ(error_of<InputError>([] { dsn("fake://k:secretkey@default"); }),
            "the DSN has a password, which fake:// DSNs do not take (see the plugin's docs)");
  EXPECT_EQ(error_of<InputError>([] { dsn("fake://k@default?delay_ms=soon"); }), "settings.delay_ms must be an integer, got 'soon'");
  EXPECT_EQ(error_of<InputError>([] { dsn("fake://default?api_key=secretkey"); }),
            "the DSN's query names the secret 'api_key': give secrets as secrets, not in a URL");
}

TEST_F(Plugins, SettingsAndSecretsGoWhereTheManifestSays) {
  Input in = dsn("smtp://ada@relay.example");
  in.from_address = "a@example.com";
  in.secrets["password"] = "pw";
  in.secrets["dkim_private_key"] = "PEM";
  apply(in, row_, *plugins_, box_, true);
  // The seed's columns stay filled for the seed's provider ...
  EXPECT_EQ(row_.smtp_host, "relay.example");
  EXPECT_EQ(row_.smtp_port, 587);
  EXPECT_EQ(row_.smtp_username, "ada");
  EXPECT_TRUE(row_.ciphertexts.contains("smtp_password_encrypted"));
  // ... what no column mirrors stays in settings / secrets_encrypted ...
  EXPECT_EQ(row_.settings, (json{{"tls", "starttls"}}));
  EXPECT_TRUE(row_.ciphertexts.contains("secrets_encrypted"));
  // ... and the plugin gets everything back by its own names.
  EXPECT_EQ(mailroom::email_config::settings_of(row_, manifest("smtp_relay")),
            (json{{"host", "relay.example"}, {"port", 587}, {"username", "ada"}, {"tls", "starttls"}}));
  const auto secrets = mailroom::email_config::secrets_of(row_, manifest("smtp_relay"), box_);
  EXPECT_EQ(secrets.at("password"), "pw");
  EXPECT_EQ(secrets.at("dkim_private_key"), "PEM");
  const auto shown = mailroom::email_config::view(row_, &manifest("smtp_relay"), &box_);
  EXPECT_EQ(shown.dump().find("pw\""), std::string::npos);
  EXPECT_EQ(shown["secrets"]["password"], "(set, key k1)");
  EXPECT_EQ(shown["secrets"]["dkim_private_key"], "(set, key k1)");
  EXPECT_EQ(shown["settings"]["host"], "relay.example");
}

TEST_F(Plugins, RefusesWhatThePluginDoesNotDeclare) {
  Input in;
  in.provider = "fake_email";
  in.from_address = "nope";
  EXPECT_EQ(error_of<InputError>([&] { apply(in, row_, *plugins_, box_, true); }), "from: 'nope' is not an email address");
  in.from_address = "a@example.com";
  in.secrets["password"] = "pw";
  EXPECT_EQ(error_of<InputError>([&] { apply(in, row_, *plugins_, box_, true); }),
            "unknown secret 'password': plugin fake_email declares api_key");
  EXPECT_EQ(error_of<InputError>([] { manifest("mailgun"); }).find("no email plugin 'mailgun' is installed (installed: "), 0u);
  EXPECT_EQ(error_of<InputError>([] { manifest("test_dns"); }).find("no email plugin 'test_dns' is installed"), 0u);
}

TEST_F(Plugins, UpdateKeepsWhatIsNotGivenAndProviderCannotChange) {
  Input in = dsn("smtp://ada@relay.example:25");
  in.from_address = "a@example.com";
  in.secrets["password"] = "pw";
  apply(in, row_, *plugins_, box_, true);
  Input change;
  change.settings = {{"port", 2525}};
  apply(change, row_, *plugins_, box_, false);
  EXPECT_EQ(row_.smtp_host, "relay.example");
  EXPECT_EQ(row_.smtp_port, 2525);
  EXPECT_EQ(row_.from_address, "a@example.com");
  Input removal;
  removal.settings = {{"username", nullptr}};
  apply(removal, row_, *plugins_, box_, false);
  EXPECT_EQ(row_.smtp_username, "") << "null removes a setting (JSON merge patch)";
  Input other;
  other.provider = "fake_email";
  EXPECT_EQ(error_of<InputError>([&] { apply(other, row_, *plugins_, box_, false); }),
            "provider cannot change (smtp_relay); remove the configuration and add a new one");
}

TEST_F(Plugins, AWindowAndAPaceOfItsOwnWithinRangeAndZeroGoesBackToThePlugins) {
  Input in;
  in.provider = "fake_email";
  in.from_address = "a@example.com";
  in.send_window = 40;
  in.requests_per_second = 12.5;
  apply(in, row_, *plugins_, box_, true);
  EXPECT_EQ(row_.send_window, 40);
  EXPECT_EQ(row_.requests_per_second, 12.5);
  Input bad;
  bad.send_window = 1001;
  EXPECT_EQ(error_of<InputError>([&] { apply(bad, row_, *plugins_, box_, false); }),
            "send_window must be from 1 to 1000 (sends in flight), or 0 for what the plugin declares");
  bad = Input();
  bad.requests_per_second = -1;
  EXPECT_EQ(error_of<InputError>([&] { apply(bad, row_, *plugins_, box_, false); }),
            "requests_per_second must be above 0 and at most 100000, or 0 for what the plugin declares");
  Input reset;
  reset.send_window = 0;
  reset.requests_per_second = 0;
  apply(reset, row_, *plugins_, box_, false);
  EXPECT_FALSE(row_.send_window);
  EXPECT_FALSE(row_.requests_per_second);
}

TEST_F(Plugins, QuotaLimitsOnlyForAPluginWithAQuotaModelAndWithinRange) {
  Input in;
  in.provider = "fake_quota_email";
  in.from_address = "a@example.com";
  in.daily_limit = 500;
  in.hourly_limit = 50;
  apply(in, row_, *plugins_, box_, true);
  EXPECT_EQ(row_.daily_limit, 500);
  EXPECT_EQ(row_.hourly_limit, 50);
  Input bad;
  bad.daily_limit = 1000001;
  EXPECT_EQ(error_of<InputError>([&] { apply(bad, row_, *plugins_, box_, false); }),
            "daily_limit must be from 1 to 1000000 sends, or 0 for the plugin's default");
  Input reset;
  reset.hourly_limit = 0;
  apply(reset, row_, *plugins_, box_, false);
  EXPECT_FALSE(row_.hourly_limit);
  EXPECT_EQ(row_.daily_limit, 500);

  mailroom::db::EmailConfiguration other;
  other.id = "00000000-0000-4000-8000-000000000002";
  Input no_quota;
  no_quota.provider = "fake_email";
  no_quota.from_address = "a@example.com";
  no_quota.daily_limit = 500;
  EXPECT_EQ(error_of<InputError>([&] { apply(no_quota, other, *plugins_, box_, true); }),
            "daily_limit: the plugin fake_email declares no sending quota, so there is no limit to set "
            "(docs/queue.md, the quota gate)");
}

TEST_F(Plugins, ChangingWhatVerifyCheckedUnverifies) {
  Input in = dsn("smtp://ada@relay.example:25");
  in.from_address = "a@example.com";
  in.secrets["password"] = "pw";
  apply(in, row_, *plugins_, box_, true);
  const auto verified = [&] {
    row_.is_verified = true;
    row_.verify_unchecked = {"something"};
  };
  verified();
  Input same;
  same.settings = {{"port", 25}};
  apply(same, row_, *plugins_, box_, false);
  EXPECT_TRUE(row_.is_verified) << "nothing changed";
  for (auto change : {Input{}, Input{}, Input{}}) {
    verified();
    if (row_.smtp_port == 25) change.settings = {{"port", 2525}};
    else if (row_.from_address == "a@example.com") change.from_address = "b@example.com";
    else change.secrets["password"] = "pw";
    apply(change, row_, *plugins_, box_, false);
    EXPECT_FALSE(row_.is_verified);
    EXPECT_TRUE(row_.verify_unchecked.empty());
  }
}

TEST_F(Plugins, HeaderAndCommandFieldsMustBeOneLine) {
  Input in = dsn("smtp://relay.example:25");
  in.from_address = "a@example.com";
  in.from_name = "Ada\r\nBcc: victim@example.com";
  EXPECT_EQ(error_of<InputError>([&] { apply(in, row_, *plugins_, box_, true); }),
            "from_name contains a control character (13); it must be one line of text");
  in.from_name = "Ada";
  in.settings["host"] = "relay.example\r\nRCPT TO:<x@example.com>";
  EXPECT_EQ(error_of<InputError>([&] { apply(in, row_, *plugins_, box_, true); }),
            "settings.host contains a control character (13); it must be one line of text");
}

TEST_F(Plugins, SettingsAreTypedByTheSchema) {
  const auto& smtp = manifest("smtp_relay");
  EXPECT_EQ(mailroom::email_config::setting_value(smtp, "port", "2525"), 2525);
  EXPECT_EQ(mailroom::email_config::setting_value(smtp, "host", "2525"), "2525");
  EXPECT_EQ(error_of<InputError>([&] { mailroom::email_config::setting_value(smtp, "port", "25x"); }),
            "settings.port must be an integer, got '25x'");
}

TEST(EmailAddress, LocalPartAndLabelsHaveTheirRfcLimits) {
  using mailroom::email_config::is_email_address;
  EXPECT_TRUE(is_email_address(std::string(64, 'a') + "@example.com"));
  EXPECT_FALSE(is_email_address(std::string(65, 'a') + "@example.com"));
  EXPECT_TRUE(is_email_address("a@" + std::string(63, 'b') + ".com"));
  EXPECT_FALSE(is_email_address("a@" + std::string(64, 'b') + ".com"));
  EXPECT_FALSE(is_email_address(std::string("a\0b@example.com", 15)));
  EXPECT_FALSE(is_email_address("a\x7f@example.com"));
}

}  // namespace
