// End to end as a user runs it: `mailroom send` with an smtp_relay configuration, then
// `mailroom serve`, delivers to a real SMTP server; the row ends `sent` with the server's
// queue id as its message_id.
#include "crypto.hpp"
#include "harness.hpp"
#include "migrate.hpp"
#include "smtp_server.hpp"

#include <nlohmann/json.hpp>

namespace {

using mailroom::testing::CommandResult;
using mailroom::testing::quote;
using mailroom::testing::run_command;

TEST(SmtpEndToEnd, SendThenServeDeliversToTheRelay) {
  const std::string url = mailroom::testing::fresh_database();
  mailroom::testing::SmtpServer server({"--cert", (mailroom::testing::certificate_dir() / "cert.pem").string(), "--key",
                                        (mailroom::testing::certificate_dir() / "key.pem").string(), "--require-tls",
                                        "--auth", "ada:relay-pw-9"});
  const std::string env = "MAILROOM_DATABASE_URL=" + quote(url) + " MAILROOM_MASTER_KEY=" +
                          quote("k1:" + std::string(43, 'A') + "=") + " MAILROOM_PLUGINS_DIR=" MAILROOM_PLUGIN_DIR " MAILROOM_API_LISTEN=127.0.0.1:0 ";
  auto mailroom = [&](const std::string& args, const std::string& input = "") {
    return run_command(env + MAILROOM_BINARY " " + args, input);
  };
  ASSERT_EQ(mailroom("migrate up").status, 0);
  ASSERT_EQ(mailroom("users add ada@example.com").status, 0);
  const std::string key_file = (mailroom::testing::certificate_dir() / "dkim.pem").string();
  mailroom::testing::run("openssl genpkey -algorithm ED25519 -out " + key_file);
  const CommandResult config = mailroom("email-config add --user ada@example.com --dsn smtp://ada@127.0.0.1:" +
                                            std::to_string(server.port()) + " --from ada@example.com --setting ca_file=" +
                                            (mailroom::testing::certificate_dir() / "cert.pem").string() +
                                            " --setting dkim_domain=example.com --setting dkim_selector=e2e"
                                            " --secret dkim_private_key=file:" + key_file + " --secret password",
                                        "relay-pw-9");
  ASSERT_EQ(config.status, 0) << config.output;
  const std::string config_id = config.output.substr(0, 36);
  const auto publish = config.output.find("DKIM e2e._domainkey.example.com  ");
  ASSERT_NE(publish, std::string::npos) << config.output;
  std::string record = config.output.substr(config.output.find("v=DKIM1", publish));
  record = record.substr(0, record.find('\n'));
  EXPECT_EQ(config.output.find("PRIVATE KEY"), std::string::npos) << "the DKIM key was printed";

  const CommandResult verified = mailroom("email-config verify " + config_id);
  EXPECT_EQ(verified.status, 0) << verified.output;
  EXPECT_NE(mailroom("email-config show " + config_id).output.find("\"is_verified\": true"), std::string::npos);
  EXPECT_TRUE(server.messages().empty()) << "verify sent a message";
  const CommandResult sent = mailroom("send --configuration " + config_id +
                                      " --to bob@example.com --bcc audit@example.com --subject 'Hello from mailroom' "
                                      "--text 'Hi Bob'");
  ASSERT_EQ(sent.status, 0) << sent.output;
  const std::string email_id = sent.output.substr(0, 36);
  const CommandResult served = mailroom("serve --until-empty");
  ASSERT_EQ(served.status, 0) << served.output;

  const auto messages = server.messages();
  ASSERT_EQ(messages.size(), 1u) << served.output;
  const std::string queue_id = messages[0].stem().string();
  const CommandResult shown = mailroom("queue show " + email_id);
  EXPECT_NE(shown.output.find("\"status\": \"sent\""), std::string::npos) << shown.output;
  EXPECT_NE(shown.output.find("\"message_id\": \"" + queue_id + "\""), std::string::npos) << shown.output;
  const std::string raw = mailroom::testing::read_file(messages[0]);
  EXPECT_NE(raw.find("X-Envelope-To: bob@example.com,audit@example.com"), std::string::npos) << raw;
  EXPECT_EQ(raw.find("Bcc"), std::string::npos);
  EXPECT_NE(raw.find("Subject: Hello from mailroom"), std::string::npos);
  EXPECT_EQ(served.output.find("relay-pw-9"), std::string::npos) << "the password reached the log";
  // Signed with the configured key: dkimpy verifies it with the record mailroom printed.
  const std::string message_file = messages[0].string() + ".msg";
  std::ofstream(message_file, std::ios::binary) << raw.substr(raw.find("\r\n", raw.find("X-Envelope-To")) + 2);
  EXPECT_EQ(mailroom::testing::run(std::string("/usr/bin/python3 ") + MAILROOM_VERIFY_DKIM + " " + message_file + " " +
                                   quote(record)),
            "pass\n");
}

// A database as the previous release (migrations up to 009) wrote it: an smtp_relay
// configuration in the seed's columns (the password in smtp_password_encrypted, no plugin),
// a cloudflare zone with a record, an email queued. After `migrate up` the queued email and
// a new one go out through the same configuration, unchanged.
TEST(Upgrade, APreviousReleasesDatabaseMigratesAndKeepsSending) {
  const std::string url = mailroom::testing::fresh_database();
  mailroom::testing::SmtpServer server({"--cert", (mailroom::testing::certificate_dir() / "cert.pem").string(), "--key",
                                        (mailroom::testing::certificate_dir() / "key.pem").string(), "--require-tls",
                                        "--auth", "ada:relay-pw-9"});
  const std::string key = mailroom::crypto::generate_key_entry("k1");
  std::ostringstream progress;
  mailroom::migrate::Migrator(url, mailroom::migrate::embedded_migrations(), progress).up(std::string("009"));
  std::string config_id;
  {
    pqxx::connection c(url);
    pqxx::work tx(c);
    const auto user = tx.exec("INSERT INTO users (email) VALUES ('ada@example.com') RETURNING id::text")[0][0].as<std::string>();
    config_id = tx.exec("SELECT gen_random_uuid()::text")[0][0].as<std::string>();
    const mailroom::crypto::SecretBox box(mailroom::crypto::KeyRing::parse(key, "test"));
    const std::string sealed =
        box.seal("relay-pw-9", mailroom::crypto::associated_data("email_configurations", "smtp_password_encrypted", config_id));
    const nlohmann::json settings{{"tls", "starttls"}, {"ca_file", (mailroom::testing::certificate_dir() / "cert.pem").string()}};
    tx.exec_params("INSERT INTO email_configurations (id, user_id, provider, smtp_host, smtp_port, smtp_username, "
                   "smtp_password_encrypted, from_address, settings, updated_by) "
                   "VALUES ($1, $2, 'smtp_relay', '127.0.0.1', $3, 'ada', $4, 'ada@example.com', $5::jsonb, $2)",
                   config_id, user, server.port(), sealed, settings.dump());
    const auto zone = tx.exec_params("INSERT INTO dns_zones (user_id, name, provider, settings) "
                                     "VALUES ($1, 'example.com', 'cloudflare', '{}') RETURNING id::text",
                                     user)[0][0].as<std::string>();
    tx.exec_params("INSERT INTO dns_records (user_id, zone_id, provider, record_type, name, value, status) "
                   "VALUES ($1, $2, 'cloudflare', 'TXT', 'example.com', 'v=spf1 -all', 'active')",
                   user, zone);
    const auto email = tx.exec_params("INSERT INTO email_queue (user_id, email_configuration_id, recipient_email, "
                                      "from_address, subject, text_body, status, run_at) VALUES ($1, $2, "
                                      "'bob@example.com', 'ada@example.com', 'queued before the upgrade', 'hi', "
                                      "'queued', now()) RETURNING id::text",
                                      user, config_id)[0][0].as<std::string>();
    tx.exec_params("INSERT INTO email_delivery_logs (email_queue_id, user_id, event_type, event_status) "
                   "VALUES ($1, $2, 'queued', 'enqueued')", email, user);
    tx.commit();
  }
  const std::string env = "MAILROOM_DATABASE_URL=" + quote(url) + " MAILROOM_MASTER_KEY=" + quote(key) +
                          " MAILROOM_PLUGINS_DIR=" MAILROOM_PLUGIN_DIR " MAILROOM_API_LISTEN=127.0.0.1:0 ";
  auto mailroom = [&](const std::string& args) { return run_command(env + MAILROOM_BINARY " " + args); };

  const CommandResult migrated = mailroom("migrate up");
  ASSERT_EQ(migrated.status, 0) << migrated.output;
  EXPECT_NE(migrated.output.find("010"), std::string::npos) << migrated.output;
  const CommandResult shown = mailroom("email-config show " + config_id);
  EXPECT_NE(shown.output.find("\"host\": \"127.0.0.1\""), std::string::npos) << "the seed's columns read as settings: " << shown.output;
  EXPECT_NE(shown.output.find("\"password\": \"(set, key k1)\""), std::string::npos) << shown.output;
  const CommandResult sent = mailroom("send --configuration " + config_id +
                                      " --to carol@example.com --subject 'queued after the upgrade' --text hi");
  ASSERT_EQ(sent.status, 0) << sent.output;
  const CommandResult served = mailroom("serve --until-empty");
  ASSERT_EQ(served.status, 0) << served.output;
  EXPECT_EQ(server.messages().size(), 2u) << served.output;
  pqxx::connection c(url);
  pqxx::read_transaction tx(c);
  EXPECT_EQ(tx.exec("SELECT string_agg(status, ',') FROM email_queue")[0][0].as<std::string>(), "sent,sent");
  EXPECT_EQ(tx.exec("SELECT count(*) FROM email_delivery_logs WHERE event_type = 'sent' AND provider = 'smtp_relay'")[0][0].as<int>(), 2);
  EXPECT_EQ(tx.exec("SELECT provider || ' ' || status FROM dns_records")[0][0].as<std::string>(), "cloudflare active");
}

}  // namespace
