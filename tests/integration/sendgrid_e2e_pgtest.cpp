// End to end as a deployer runs SendGrid: `mailroom send` with a sendgrid configuration, then
// `mailroom serve` delivers through the fake SendGrid (behind Prism's check of the official
// document), and the fake posts a signed Event Webhook batch back to serve's API. Statuses,
// timestamps, delivery logs and suppressions follow the mapping; a replay of the batch and a
// batch whose signature does not match write nothing.
#include "harness.hpp"
#include "sendgrid_mock.hpp"
#include "serve_command.hpp"

#include <mailroom/http.hpp>

#include <nlohmann/json.hpp>

#include <regex>
#include <thread>

namespace {

using mailroom::testing::CommandResult;
using mailroom::testing::quote;
using mailroom::testing::run_command;
using nlohmann::json;

TEST(SendGridEndToEnd, SendServeAndSignedEventsMoveEmailsAsMapped) {
  const std::string url = mailroom::testing::fresh_database();
  mailroom::testing::SendGridMock sendgrid;
  const std::string master_key = "k1:" + std::string(43, 'A') + "=";
  const std::string env = "MAILROOM_DATABASE_URL=" + quote(url) + " MAILROOM_MASTER_KEY=" + quote(master_key) +
                          " MAILROOM_PLUGINS_DIR=" MAILROOM_PLUGIN_DIR " MAILROOM_API_LISTEN=127.0.0.1:0 ";
  auto mailroom = [&](const std::string& args) { return run_command(env + MAILROOM_BINARY " " + args); };
  ASSERT_EQ(mailroom("migrate up").status, 0);
  ASSERT_EQ(mailroom("users add ada@example.com").status, 0);
  const CommandResult config = mailroom("email-config add --user ada@example.com --dsn " +
                                        quote("sendgrid+api://" + sendgrid.key() + "@default") +
                                        " --from ada@example.com --setting base_url=" + sendgrid.url() +
                                        " --setting webhook_public_key=" + sendgrid.public_key());
  ASSERT_EQ(config.status, 0) << config.output;
  EXPECT_EQ(config.output.find(sendgrid.key()), std::string::npos) << "the API key was printed";
  // The output also carries the warning about a secret in a DSN: the id is the line that is one.
  std::smatch id_line;
  ASSERT_TRUE(std::regex_search(config.output, id_line, std::regex("(^|\n)([0-9a-f-]{36})\n"))) << config.output;
  const std::string config_id = id_line[2];
  const CommandResult verified = mailroom("email-config verify " + config_id);
  EXPECT_EQ(verified.status, 0) << verified.output;
  EXPECT_TRUE(sendgrid.sends().empty()) << "verify sent an email";

  std::map<std::string, std::string> email_of;  // recipient -> email id
  for (const std::string to : {"bob@example.com", "carol@example.com", "dave@example.com"}) {
    const CommandResult sent = mailroom("send --configuration " + config_id + " --to " + to +
                                        " --bcc audit@example.com --subject 'Hello from mailroom' --text 'Hi'");
    ASSERT_EQ(sent.status, 0) << sent.output;
    email_of[to] = sent.output.substr(0, 36);
  }

  const unsigned short port = mailroom::testing::free_port();
  const std::string log = (std::filesystem::temp_directory_path() / ("mr-sg-serve-" + std::to_string(::getpid()) + ".log")).string();
  mailroom::testing::ServeCommand serve({{"MAILROOM_DATABASE_URL", url},
                                         {"MAILROOM_MASTER_KEY", master_key},
                                         {"MAILROOM_PLUGINS_DIR", MAILROOM_PLUGIN_DIR},
                                         {"MAILROOM_API_LISTEN", "127.0.0.1:" + std::to_string(port)}},
                                        log);
  pqxx::connection db(url);
  auto one = [&](const std::string& sql) {
    pqxx::nontransaction tx(db);
    const auto r = tx.exec(sql);
    return r.empty() || r[0][0].is_null() ? std::string("NULL") : r[0][0].as<std::string>();
  };
  for (int i = 0; i < 300 && one("SELECT count(*) FROM email_queue WHERE status = 'sent'") != "3"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(one("SELECT count(*) FROM email_queue WHERE status = 'sent'"), "3") << mailroom::testing::read_file(log);

  // Which of the fake's sends is which email: by the custom argument it carried.
  std::map<std::string, int> send_of;  // recipient -> index in the fake's sends
  const json sends = sendgrid.sends();
  ASSERT_EQ(sends.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const json& p = sends[i]["personalizations"][0];
    const std::string to = p["to"][0]["email"];
    send_of[to] = i;
    EXPECT_EQ(p["custom_args"]["mailroom_email_id"], email_of[to]);
    EXPECT_EQ(p["bcc"], json::parse(R"([{"email": "audit@example.com"}])"));
    EXPECT_EQ(one("SELECT message_id FROM email_queue WHERE id = '" + email_of[to] + "'"), sends[i]["message_id"]);
  }

  const std::string webhook = "http://127.0.0.1:" + std::to_string(port) + "/v1/webhooks/" + config_id;
  const json batch = json::array({
      {{"event", "processed"}, {"send", send_of["bob@example.com"]}},
      {{"event", "delivered"}, {"send", send_of["bob@example.com"]}, {"response", "250 OK"}, {"timestamp", 1767225600}},
      {{"event", "bounce"}, {"send", send_of["carol@example.com"]}, {"type", "bounce"},
       {"reason", "550 5.1.1 The email account that you tried to reach does not exist"}, {"timestamp", 1767225660}},
      {{"event", "spamreport"}, {"send", send_of["dave@example.com"]}},
      // An email mailroom never sent (another system on the same SendGrid account): kept, counted.
      {{"event", "delivered"}, {"email", "zoe@example.com"}, {"sg_message_id", "NOTOURS.filterdrecv-1.0"}},
  });
  const json posted = sendgrid.post_events(webhook, batch);
  ASSERT_EQ(posted["status"], 200) << posted.dump();
  EXPECT_EQ(json::parse(posted["answer"].get<std::string>()),
            json::parse(R"({"recorded": 4, "duplicates": 0, "unmatched": 1})"));

  const std::string bob = email_of["bob@example.com"], carol = email_of["carol@example.com"], dave = email_of["dave@example.com"];
  EXPECT_EQ(one("SELECT status FROM email_queue WHERE id = '" + bob + "'"), "sent");
  EXPECT_EQ(one("SELECT delivered_at = to_timestamp(1767225600) FROM email_queue WHERE id = '" + bob + "'"), "t");
  EXPECT_EQ(one("SELECT string_agg(event_type || ':' || coalesce(event_status, ''), ',' ORDER BY event_type) FROM "
                "email_delivery_logs WHERE provider_event_id IS NOT NULL AND email_queue_id = '" + bob + "'"),
            "delivered:,sent:accepted");
  EXPECT_EQ(one("SELECT status || ' ' || bounce_type || ' ' || bounce_reason || ' ' || (bounced_at = to_timestamp(1767225660))"
                " FROM email_queue WHERE id = '" + carol + "'"),
            "bounced hard 550 5.1.1 The email account that you tried to reach does not exist true");
  EXPECT_EQ(one("SELECT status FROM email_queue WHERE id = '" + dave + "'"), "spam");
  EXPECT_EQ(one("SELECT string_agg(email || ':' || reason, ',' ORDER BY email) FROM email_suppressions"),
            "carol@example.com:hard_bounce,dave@example.com:complaint");
  EXPECT_EQ(one("SELECT provider_message_id || ' ' || recipient FROM unmatched_provider_events"), "NOTOURS zoe@example.com");
  const CommandResult shown = mailroom("queue show " + carol);
  EXPECT_NE(shown.output.find("\"bounce_type\": \"hard\""), std::string::npos) << shown.output;

  // SendGrid retries for 24 hours: the same request again changes nothing.
  const std::string before = one("SELECT count(*) FROM email_delivery_logs") + "/" +
                             one("SELECT count(*) FROM email_suppressions") + "/" +
                             one("SELECT count(*) FROM unmatched_provider_events");
  mailroom::HttpClientOptions options;
  options.base_url = "http://127.0.0.1:" + std::to_string(port);
  auto client = mailroom::make_http_client(options);
  const auto replay = client->send({"POST", "/v1/webhooks/" + config_id,
                                    {{"Content-Type", "application/json"},
                                     {"X-Twilio-Email-Event-Webhook-Signature", posted["signature"]},
                                     {"X-Twilio-Email-Event-Webhook-Timestamp", posted["timestamp"]}},
                                    posted["body"]});
  EXPECT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(json::parse(replay.body), json::parse(R"({"recorded": 0, "duplicates": 5, "unmatched": 0})"));
  // A batch whose body no longer matches its signature: 401, nothing read.
  const json forged = sendgrid.post_events(webhook, json::array({{{"event", "delivered"}, {"send", send_of["dave@example.com"]}}}), true);
  EXPECT_EQ(forged["status"], 401) << forged.dump();
  EXPECT_EQ(one("SELECT count(*) FROM email_delivery_logs") + "/" + one("SELECT count(*) FROM email_suppressions") + "/" +
                one("SELECT count(*) FROM unmatched_provider_events"),
            before);
  EXPECT_EQ(one("SELECT delivered_at FROM email_queue WHERE id = '" + dave + "'"), "NULL");

  EXPECT_EQ(sendgrid.violations(), "") << "requests Prism found at odds with SendGrid's document";
  EXPECT_EQ(mailroom::testing::read_file(log).find(sendgrid.key()), std::string::npos) << "the API key reached the log";
  std::filesystem::remove(log);
}

}  // namespace
