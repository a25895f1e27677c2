// End to end as a user runs it: `mailroom send` with an smtp_relay configuration, then
// `mailroom serve`, delivers to a real SMTP server; the row ends `sent` with the server's
// queue id as its message_id.
#include "harness.hpp"
#include "smtp_server.hpp"

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

}  // namespace
