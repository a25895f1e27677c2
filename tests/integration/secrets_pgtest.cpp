// Secrets through the real command: stored encrypted, never shown, never logged, never
// audited; rotation moves every one to the newest key.
#include "crypto.hpp"
#include "db.hpp"
#include "email_config.hpp"
#include "harness.hpp"

#include <fstream>

namespace {

using mailroom::testing::CommandResult;
using mailroom::testing::fresh_database;
using mailroom::testing::quote;
using mailroom::testing::run_command;
using nlohmann::json;

const std::string kSmtpPassword = "pw-Z8xQ2-smtp-secret";
const std::string kApiKey = "SG.apikey-7hV3-secret";

class Secrets : public ::testing::Test {
 protected:
  void SetUp() override {
    key1_ = mailroom::crypto::generate_key_entry("k1");
    key2_ = mailroom::crypto::generate_key_entry("k2");
    ASSERT_EQ(mailroom("migrate up").status, 0);
    ASSERT_EQ(mailroom("users add ada@example.com").status, 0);
  }
  CommandResult mailroom(const std::string& args, const std::string& input = "", const std::string& keys = "") {
    auto result = run_command("MAILROOM_DATABASE_URL=" + quote(url_) + " MAILROOM_MASTER_KEY=" +
                                  quote(keys.empty() ? key1_ : keys) + " " MAILROOM_BINARY " " + args,
                              input);
    transcript_ += result.output;
    return result;
  }
  std::string audit_text() {
    pqxx::connection c(url_);
    pqxx::read_transaction tx(c);
    std::string out;
    for (const auto& row : tx.exec("SELECT audit_logs::text FROM audit_logs")) out += row[0].as<std::string>() + "\n";
    return out;
  }
  void expect_no_secret(const std::string& text, const std::string& what) {
    EXPECT_EQ(text.find(kSmtpPassword), std::string::npos) << what << " holds the SMTP password:\n" << text;
    EXPECT_EQ(text.find(kApiKey), std::string::npos) << what << " holds the API key:\n" << text;
  }
  std::string url_ = fresh_database();
  std::string key1_, key2_;
  std::string transcript_;
};

TEST_F(Secrets, NeverInOutputLogsOrAudit) {
  auto smtp = mailroom("email-config add --user ada@example.com --dsn smtp://ada@relay.example:587 "
                       "--from ada@example.com --secret password",
                       kSmtpPassword + "\n");
  ASSERT_EQ(smtp.status, 0) << smtp.output;
  const std::string smtp_id = smtp.output.substr(0, 36);
  auto sendgrid = run_command("SG=" + quote(kApiKey) + " MAILROOM_DATABASE_URL=" + quote(url_) + " MAILROOM_MASTER_KEY=" +
                              quote(key1_) + " " MAILROOM_BINARY
                              " email-config add --user ada@example.com --provider fake_email --from ada@example.com "
                              "--secret api_key=env:SG");
  transcript_ += sendgrid.output;
  ASSERT_EQ(sendgrid.status, 0) << sendgrid.output;
  EXPECT_EQ(mailroom("email-config list").status, 0);
  const auto shown = mailroom("email-config show " + smtp_id);
  EXPECT_NE(shown.output.find("\"password\": \"(set, key k1)\""), std::string::npos) << shown.output;
  const auto shown_key = mailroom("email-config show " + sendgrid.output.substr(0, 36));
  EXPECT_NE(shown_key.output.find("\"api_key\": \"(set, key k1)\""), std::string::npos) << shown_key.output;
  EXPECT_EQ(mailroom("email-config update " + smtp_id + " --setting port=2525 --secret password", kSmtpPassword + "-new").status, 0);
  EXPECT_EQ(mailroom("--config /dev/null config show").status, 1);  // an error path, still no secret
  EXPECT_EQ(mailroom("config show").status, 0);
  EXPECT_EQ(mailroom("email-config remove " + sendgrid.output.substr(0, 36)).status, 0);
  // A failing decrypt names the key, not the value.
  EXPECT_NE(mailroom("keys rotate", "", key2_).output.find("sealed under key 'k1', which is not in the key ring"),
            std::string::npos);

  expect_no_secret(transcript_, "CLI output");
  expect_no_secret(audit_text(), "audit_logs");
  std::ifstream log(mailroom::testing::PostgresEnvironment::instance()->root() / "server.log");
  std::stringstream server_log;
  server_log << log.rdbuf();
  expect_no_secret(server_log.str(), "the PostgreSQL server log");

  // ...and yet it is there, encrypted, for the provider.
  mailroom::db::Pool pool(url_, 1);
  const auto row = mailroom::db::EmailConfigurations(pool).find(smtp_id);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->ciphertexts.at("smtp_password_encrypted").rfind("v1:k1:", 0), 0u);
  const mailroom::crypto::SecretBox box(mailroom::crypto::KeyRing::parse(key1_, "test"));
  EXPECT_EQ(row->smtp_port, 2525);
  EXPECT_EQ(box.open(row->ciphertexts.at("smtp_password_encrypted"),
                     mailroom::crypto::associated_data("email_configurations", "smtp_password_encrypted", smtp_id)),
            kSmtpPassword + "-new");
}

TEST_F(Secrets, TheCliChecksAConfigurationWithItsPlugin) {
  const auto refused = mailroom("email-config add --user ada@example.com --provider fake_email "
                                "--from ada@example.com --setting delay_ms=slow --secret api_key",
                                kApiKey + "\n");
  EXPECT_EQ(refused.status, 1) << refused.output;
  EXPECT_NE(refused.output.find("settings.delay_ms must be an integer, got 'slow'"), std::string::npos) << refused.output;
  EXPECT_EQ(refused.output.find(kApiKey), std::string::npos);
  const auto negative = mailroom("email-config add --user ada@example.com --provider fake_email "
                                 "--from ada@example.com --setting delay_ms=-5 --secret api_key",
                                 kApiKey + "\n");
  EXPECT_EQ(negative.status, 1) << negative.output;
  EXPECT_NE(negative.output.find("delay_ms"), std::string::npos) << "the plugin's schema refuses it: " << negative.output;
  const auto missing = mailroom("email-config add --user ada@example.com --provider carrier_pigeon --from ada@example.com "
                                "--secret refresh_token",
                                kApiKey + "\n");
  EXPECT_EQ(missing.status, 1) << missing.output;
  EXPECT_NE(missing.output.find("no email plugin 'carrier_pigeon' is installed"), std::string::npos) << missing.output;
  EXPECT_EQ(missing.output.find(kApiKey), std::string::npos);
  // The plugin's own check: a refresh token without its OAuth client is refused, saying what is needed.
  const auto incomplete = mailroom("email-config add --user ada@example.com --provider google_workspace "
                                   "--from ada@example.com --secret refresh_token",
                                   kApiKey + "\n");
  EXPECT_EQ(incomplete.status, 1) << incomplete.output;
  EXPECT_NE(incomplete.output.find("client_id with the secrets client_secret and refresh_token"), std::string::npos)
      << incomplete.output;
  EXPECT_EQ(incomplete.output.find(kApiKey), std::string::npos);
  EXPECT_EQ(mailroom("email-config list").output.find("@"), std::string::npos) << "nothing was stored";
}

TEST_F(Secrets, RotationMovesEverySecretToTheNewestKey) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_EQ(mailroom("email-config add --user ada@example.com --dsn smtp://u" + std::to_string(i) +
                           "@relay.example --from ada@example.com --secret password",
                       kSmtpPassword + std::to_string(i))
                  .status,
              0);
  }
  ASSERT_EQ(mailroom("email-config add --user ada@example.com --provider fake_email --from ada@example.com --secret api_key",
                     kApiKey)
                .status,
            0);
  const auto rotated = mailroom("keys rotate --batch-size 3", "", key1_ + "," + key2_);
  ASSERT_EQ(rotated.status, 0) << rotated.output;
  EXPECT_NE(rotated.output.find("every secret is under key 'k2' (8 re-encrypted)"), std::string::npos) << rotated.output;
  EXPECT_NE(rotated.output.find("rotated 3 secret(s) in 3 configuration(s)"), std::string::npos) << rotated.output;
  // A second run has nothing left to do.
  EXPECT_NE(mailroom("keys rotate", "", key1_ + "," + key2_).output.find("(0 re-encrypted)"), std::string::npos);

  mailroom::db::Pool pool(url_, 1);
  const auto rows = mailroom::db::EmailConfigurations(pool).list("");
  ASSERT_EQ(rows.size(), 8u);
  const mailroom::crypto::SecretBox new_only(mailroom::crypto::KeyRing::parse(key2_, "test"));
  const mailroom::crypto::SecretBox old_only(mailroom::crypto::KeyRing::parse(key1_, "test"));
  int opened = 0;
  for (const auto& row : rows) {
    std::string secrets;
    for (const auto& [column, sealed] : row.ciphertexts) {
      EXPECT_EQ(sealed.rfind("v1:k2:", 0), 0u) << column;
      const auto ad = mailroom::crypto::associated_data("email_configurations", column, row.id);
      EXPECT_THROW(old_only.open(sealed, ad), mailroom::crypto::CryptoError);
      secrets += new_only.open(sealed, ad);
    }
    const std::string api_key = json{{"api_key", kApiKey}}.dump();
    EXPECT_TRUE(secrets.find(kSmtpPassword) == 0 || secrets == api_key) << row.provider;
    ++opened;
  }
  EXPECT_EQ(opened, 8);
  expect_no_secret(transcript_, "CLI output");
}

TEST_F(Secrets, RotationMovesWebhookSigningSecretsToo) {
  const auto config = std::filesystem::temp_directory_path() / ("mr-secrets-" + std::to_string(::getpid()) + ".json");
  std::ofstream(config) << R"({"webhooks": {"allow_http": true, "allow_private_networks": true}})";
  const auto created = mailroom("--config " + config.string() +
                                " webhooks create --user ada@example.com --url http://127.0.0.1:9/hooks");
  ASSERT_EQ(created.status, 0) << created.output;
  const std::string id = created.output.substr(0, 36);
  // A rotation with a grace period keeps the old secret too: both columns are sealed.
  ASSERT_EQ(mailroom("webhooks rotate-secret " + id + " --grace 600").status, 0);
  const auto rotated = mailroom("keys rotate", "", key1_ + "," + key2_);
  ASSERT_EQ(rotated.status, 0) << rotated.output;
  EXPECT_NE(rotated.output.find("rotated the signing secrets of 1 webhook subscription(s) to key 'k2'"), std::string::npos)
      << rotated.output;
  EXPECT_NE(rotated.output.find("(2 re-encrypted)"), std::string::npos) << rotated.output;
  mailroom::db::Pool pool(url_, 1);
  const auto row = mailroom::db::WebhookSubscriptions(pool).find(id);
  ASSERT_TRUE(row.has_value());
  const mailroom::crypto::SecretBox new_only(mailroom::crypto::KeyRing::parse(key2_, "test"));
  for (const auto& [sealed, column] : {std::pair{row->secret_sealed, "secret_encrypted"},
                                       std::pair{row->previous_secret_sealed, "previous_secret_encrypted"}}) {
    EXPECT_EQ(sealed.rfind("v1:k2:", 0), 0u) << column;
    EXPECT_EQ(new_only.open(sealed, mailroom::crypto::associated_data("webhook_subscriptions", column, id)).rfind("whsec_", 0), 0u);
  }
  std::filesystem::remove(config);
}

}  // namespace
