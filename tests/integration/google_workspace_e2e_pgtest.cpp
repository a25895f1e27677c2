// End to end as a deployer runs Google Workspace: `email-config add` with an OAuth client,
// `verify`, `mailroom send` of more email than the user's daily limit, and `mailroom serve`
// against the Gmail fake (behind Prism) and its token endpoint. What fits the limit is sent with
// one access token, kept sealed in google_oauth_token_encrypted; the rest is rescheduled to when
// room comes back (Google's rolling 24 hours) with is_quota_exceeded set, nothing fails, and it
// goes out then.
#include "gmail_mock.hpp"
#include "harness.hpp"
#include "serve_command.hpp"

#include <nlohmann/json.hpp>

#include <regex>
#include <thread>

namespace {

using mailroom::testing::CommandResult;
using mailroom::testing::quote;
using mailroom::testing::run_command;

TEST(GoogleWorkspaceEndToEnd, MoreThanTheDailyLimitWaitsForTheResetAndNothingFails) {
  const std::string url = mailroom::testing::fresh_database();
  mailroom::testing::GmailMock gmail;
  const std::string master_key = "k1:" + std::string(43, 'A') + "=";
  const std::string env = "MAILROOM_DATABASE_URL=" + quote(url) + " MAILROOM_MASTER_KEY=" + quote(master_key) +
                          " MAILROOM_PLUGINS_DIR=" MAILROOM_PLUGIN_DIR " MAILROOM_API_LISTEN=127.0.0.1:0 GW_SECRET=" +
                          quote(gmail.client_secret()) + " GW_REFRESH=" + quote(gmail.refresh_token()) + " ";
  auto mailroom = [&](const std::string& args) { return run_command(env + MAILROOM_BINARY " " + args); };
  ASSERT_EQ(mailroom("migrate up").status, 0);
  ASSERT_EQ(mailroom("users add ada@example.com").status, 0);
  const CommandResult config = mailroom(
      "email-config add --user ada@example.com --provider google_workspace --from ada@example.com --setting client_id=" +
      gmail.client_id() + " --setting token_url=" + gmail.token_url() + " --setting base_url=" + gmail.url() +
      " --secret client_secret=env:GW_SECRET --secret refresh_token=env:GW_REFRESH"
      // A trial account's day, made small: 2 emails in any 24 hours.
      " --daily-limit 2");
  ASSERT_EQ(config.status, 0) << config.output;
  std::smatch id_line;
  ASSERT_TRUE(std::regex_search(config.output, id_line, std::regex("(^|\n)([0-9a-f-]{36})\n"))) << config.output;
  const std::string config_id = id_line[2];
  const CommandResult verified = mailroom("email-config verify " + config_id);
  ASSERT_EQ(verified.status, 0) << verified.output;
  EXPECT_EQ(gmail.grants().size(), 1u);
  EXPECT_TRUE(gmail.messages().empty()) << "verify sent a message";

  pqxx::connection db(url);
  auto one = [&](const std::string& sql) {
    pqxx::nontransaction tx(db);
    const auto r = tx.exec(sql);
    return r.empty() || r[0][0].is_null() ? std::string("NULL") : r[0][0].as<std::string>();
  };
  for (const std::string to : {"bob@example.com", "carol@example.com", "dave@example.com"}) {
    const CommandResult sent =
        mailroom("send --configuration " + config_id + " --to " + to + " --subject 'Hello from Workspace' --text 'Hi'");
    ASSERT_EQ(sent.status, 0) << sent.output;
  }

  const std::string log =
      (std::filesystem::temp_directory_path() / ("mr-gw-serve-" + std::to_string(::getpid()) + ".log")).string();
  mailroom::testing::ServeCommand serve({{"MAILROOM_DATABASE_URL", url},
                                         {"MAILROOM_MASTER_KEY", master_key},
                                         {"MAILROOM_PLUGINS_DIR", MAILROOM_PLUGIN_DIR},
                                         {"MAILROOM_API_LISTEN", "127.0.0.1:0"}},
                                        log);
  const auto wait_for = [&](const std::string& sql, const std::string& expected) {
    for (int i = 0; i < 300 && one(sql) != expected; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return one(sql);
  };
  const std::string counts = "SELECT string_agg(status, ',' ORDER BY status) FROM email_queue";
  ASSERT_EQ(wait_for("SELECT count(*) FROM email_delivery_logs WHERE event_status = 'quota_deferred'", "1"), "1")
      << mailroom::testing::read_file(log);
  EXPECT_EQ(one(counts), "queued,sent,sent");
  EXPECT_EQ(one("SELECT retry_count FROM email_queue WHERE status = 'queued'"), "0");
  EXPECT_EQ(one("SELECT abs(extract(epoch FROM run_at - (now() + interval '1 day'))) < 60 FROM email_queue "
                "WHERE status = 'queued'"),
            "t")
      << "rescheduled to when the day's first send is 24 hours old";
  EXPECT_EQ(one("SELECT is_quota_exceeded FROM google_workspace_quota"), "t");
  EXPECT_EQ(gmail.messages().size(), 2u);
  EXPECT_EQ(gmail.grants().size(), 2u) << "verify's token, then one for every send of serve";
  EXPECT_EQ(one("SELECT google_oauth_token_encrypted LIKE 'v1:k1:%' FROM email_configurations"), "t");

  // A day later (the counted sends aged by a day): the waiting email goes out, counted alone.
  one("UPDATE quota_sends SET counted_at = counted_at - interval '1 day 1 second'");
  one("UPDATE email_queue SET run_at = now() WHERE status = 'queued'");
  EXPECT_EQ(wait_for(counts, "sent,sent,sent"), "sent,sent,sent") << mailroom::testing::read_file(log);
  EXPECT_EQ(gmail.messages().size(), 3u);
  EXPECT_EQ(one("SELECT count(*) FROM email_delivery_logs WHERE event_type = 'failed'"), "0");
  EXPECT_EQ(one("SELECT daily_quota_used FROM google_workspace_quota"), "1");
  EXPECT_EQ(gmail.violations(), "") << "requests Prism found at odds with Gmail's document";
  const std::string served = mailroom::testing::read_file(log);
  EXPECT_EQ(served.find(gmail.refresh_token()), std::string::npos) << "the refresh token reached the log";
  EXPECT_EQ(served.find("ya29."), std::string::npos) << "an access token reached the log";
  std::filesystem::remove(log);
}

}  // namespace
