// A third party's plugin is first-class: docs/examples/postbox_email, built out of tree
// against the installed SDK (tests/sdk), installed into a plugin directory of its own. Its
// DSN scheme and provider name are its own; configurations are made from its DSN through the
// CLI and through the API, email queued both ways is delivered to the Postbox fake (behind
// Prism, checking every request against the example's OpenAPI document) and logged, and
// what it does not declare is refused at enqueue. Nothing in core/ knows it.
#include "crypto.hpp"
#include "harness.hpp"
#include "postbox_mock.hpp"

#include <mailroom/http.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <thread>

namespace {

namespace fs = std::filesystem;
using mailroom::testing::quote;
using mailroom::testing::run_command;
using nlohmann::json;

class ThirdPartyPlugin : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(plugins_);
    fs::copy_file(MAILROOM_POSTBOX_PLUGIN, plugins_ / "postbox_email.so", fs::copy_options::overwrite_existing);
    ASSERT_EQ(mailroom("migrate up").status, 0);
    ASSERT_EQ(mailroom("users add ada@example.com").status, 0);
    const auto token = mailroom("tokens create --user ada@example.com --name test");
    ASSERT_EQ(token.status, 0) << token.output;
    api_token_ = token.output.substr(0, token.output.find('\n'));
  }
  void TearDown() override {
    if (serve_ > 0) {
      ::kill(serve_, SIGTERM);
      ::waitpid(serve_, nullptr, 0);
    }
    fs::remove_all(dir_);
  }

  std::string environment() const {
    return "MAILROOM_DATABASE_URL=" + quote(url_) + " MAILROOM_MASTER_KEY=" + quote(key_) +
           " MAILROOM_PLUGINS_DIR=" + quote(plugins_.string()) + " ";
  }
  mailroom::testing::CommandResult mailroom(const std::string& args, const std::string& input = "") {
    return run_command(environment() + MAILROOM_BINARY " " + args, input);
  }
  // The id a command printed (its warnings may come first).
  static std::string id_in(const std::string& output) {
    std::smatch m;
    static const std::regex uuid("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    return std::regex_search(output, m, uuid) ? m.str() : "";
  }

  void start_serve() {
    api_port_ = mailroom::testing::free_port();
    serve_ = ::fork();
    if (serve_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int fd = ::open((dir_ / "serve.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::setenv("MAILROOM_DATABASE_URL", url_.c_str(), 1);
      ::setenv("MAILROOM_MASTER_KEY", key_.c_str(), 1);
      ::setenv("MAILROOM_PLUGINS_DIR", plugins_.c_str(), 1);
      ::setenv("MAILROOM_API_LISTEN", ("127.0.0.1:" + std::to_string(api_port_)).c_str(), 1);
      ::execl(MAILROOM_BINARY, MAILROOM_BINARY, "serve", nullptr);
      ::_exit(127);
    }
    mailroom::HttpClientOptions options;
    options.base_url = "http://127.0.0.1:" + std::to_string(api_port_);
    api_ = mailroom::make_http_client(options);
    for (int i = 0; i < 100; ++i) {
      try {
        if (api_->send({"GET", "/readyz", {}, ""}).status == 200) return;
      } catch (const mailroom::ProviderError&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "serve did not become ready:\n" << mailroom::testing::read_file(dir_ / "serve.log");
  }
  mailroom::HttpResponse call(const std::string& method, const std::string& target, const json& body) {
    return api_->send({method, target,
                       {{"Authorization", "Bearer " + api_token_}, {"Content-Type", "application/json"}},
                       body.is_null() ? "" : body.dump()});
  }
  std::string one(const std::string& sql) {
    pqxx::connection c(url_);
    pqxx::read_transaction tx(c);
    const auto r = tx.exec(sql);
    return r.empty() || r[0][0].is_null() ? "" : r[0][0].as<std::string>();
  }

  std::string url_ = mailroom::testing::fresh_database();
  std::string key_ = mailroom::crypto::generate_key_entry("k1");
  fs::path dir_ = fs::temp_directory_path() / ("mr-third-party-" + std::to_string(::getpid()));
  fs::path plugins_ = dir_ / "plugins";
  mailroom::testing::PostboxMock postbox_;
  std::string api_token_;
  pid_t serve_ = -1;
  unsigned short api_port_ = 0;
  std::unique_ptr<mailroom::HttpClient> api_;
};

TEST_F(ThirdPartyPlugin, ConfiguredByItsDsnQueuedDeliveredAndLogged) {
  const std::string dsn = "postbox://" + postbox_.token() + "@default?base_url=" + postbox_.url();
  // The plugin as the host sees it: its own name and scheme, from its manifest alone.
  const auto listed = mailroom("plugins list --json");
  ASSERT_EQ(listed.status, 0) << listed.output;
  EXPECT_NE(listed.output.find("\"name\": \"postbox\""), std::string::npos) << listed.output;

  // Through the CLI, by its DSN.
  const auto added = mailroom("email-config add --user ada@example.com --dsn " + quote(dsn) + " --from ada@example.com");
  ASSERT_EQ(added.status, 0) << added.output;
  const std::string cli_config = id_in(added.output);
  EXPECT_EQ(one("SELECT provider FROM email_configurations WHERE id = '" + cli_config + "'"), "postbox");
  const auto shown = mailroom("email-config show " + cli_config);
  EXPECT_NE(shown.output.find("\"token\": \"(set, key k1)\""), std::string::npos) << shown.output;
  EXPECT_EQ(shown.output.find(postbox_.token()), std::string::npos) << "the token was shown";
  EXPECT_EQ(mailroom("email-config verify " + cli_config).status, 0);
  const auto sent = mailroom("send --configuration " + cli_config +
                             " --to bob@example.com --cc carol@example.com --bcc dan@example.com --subject 'via the CLI' --text hello");
  ASSERT_EQ(sent.status, 0) << sent.output;
  const std::string cli_email = id_in(sent.output);

  // Through the API, by its DSN.
  start_serve();
  const auto created = call("POST", "/v1/email-configurations", {{"dsn", dsn}, {"from", "ada@example.com"}});
  ASSERT_EQ(created.status, 201) << created.body;
  const json config = json::parse(created.body);
  EXPECT_EQ(config["provider"], "postbox");
  EXPECT_EQ(config["settings"]["base_url"], postbox_.url());
  EXPECT_EQ(created.body.find(postbox_.token()), std::string::npos) << "the token came back";
  const auto queued = call("POST", "/v1/emails",
                           {{"configuration", config["id"]}, {"to", "erin@example.com"}, {"subject", "via the API"}, {"text", "hi"}});
  ASSERT_EQ(queued.status, 202) << queued.body;
  const std::string api_email = json::parse(queued.body)["id"];

  // Both are delivered by the workers of the same serve.
  json messages;
  for (int i = 0; i < 300 && messages.size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    messages = postbox_.messages();
  }
  ASSERT_EQ(messages.size(), 2u) << mailroom::testing::read_file(dir_ / "serve.log");
  const json& by_cli = messages[0]["id"] == cli_email ? messages[0] : messages[1];
  EXPECT_EQ(by_cli["subject"], "via the CLI");
  EXPECT_EQ(by_cli["to"], json::array({{{"email", "bob@example.com"}}}));
  EXPECT_EQ(by_cli["cc"], json::array({{{"email", "carol@example.com"}}}));
  EXPECT_EQ(by_cli["bcc"], json::array({"dan@example.com"}));
  for (const auto& id : {cli_email, api_email}) {
    for (int i = 0; i < 100 && one("SELECT status FROM email_queue WHERE id = '" + id + "'") != "sent"; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(one("SELECT status FROM email_queue WHERE id = '" + id + "'"), "sent") << id;
    EXPECT_EQ(one("SELECT message_id FROM email_queue WHERE id = '" + id + "'").rfind("pb-", 0), 0u) << id;
    EXPECT_EQ(one("SELECT string_agg(event_type || '/' || provider, ',' ORDER BY created_at) FROM email_delivery_logs "
                  "WHERE email_queue_id = '" + id + "' AND event_type = 'sent'"),
              "sent/postbox")
        << id;
  }

  // What it declares is what it gets: 51 recipients against max_recipients 50.
  json crowd = json::array();
  for (int i = 0; i < 50; ++i) crowd.push_back("r" + std::to_string(i) + "@example.com");
  const auto refused = call("POST", "/v1/emails",
                            {{"configuration", config["id"]}, {"to", "erin@example.com"}, {"cc", crowd}, {"subject", "many"}, {"text", "x"}});
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_NE(refused.body.find("51 recipients (to, cc and bcc together), but plugin postbox declares max_recipients 50"),
            std::string::npos)
      << refused.body;
  EXPECT_EQ(postbox_.violations(), "") << "requests Prism found at odds with postbox.openapi.json";
}

}  // namespace
