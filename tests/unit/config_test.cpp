#include "config.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <unistd.h>

namespace {

using mailroom::config::ConfigError;
using mailroom::config::load;
using mailroom::config::LoadOptions;
using mailroom::config::to_json;

class ConfigTest : public testing::Test {
 protected:
  std::filesystem::path dir_ = std::filesystem::temp_directory_path() /
                               ("mailroom-config-test-" + std::to_string(::getpid()));
  void SetUp() override { std::filesystem::create_directories(dir_); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path write(const std::string& text) {
    auto file = dir_ / "mailroom.json";
    std::ofstream(file) << text;
    return file;
  }
  LoadOptions options(std::optional<std::filesystem::path> file,
                      std::map<std::string, std::string> env = {}) {
    LoadOptions o;
    o.file = std::move(file);
    o.environment = std::move(env);
    o.default_plugins_dir = "/opt/plugins";
    return o;
  }
  std::string error_of(const LoadOptions& o) {
    try {
      load(o);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "(no error)";
  }
};

TEST_F(ConfigTest, DefaultsWithoutFileOrEnvironment) {
  auto o = options(std::nullopt);
  const auto c = load(o);
  EXPECT_EQ(c.database_url, "");
  EXPECT_EQ(c.plugins_dir, "/opt/plugins");
  EXPECT_EQ(c.workers_count, 256);
  EXPECT_EQ(c.workers_batch_size, 100);
  EXPECT_EQ(c.api_listen, "127.0.0.1:8025");
  EXPECT_EQ(c.sources.at("workers.count"), "default");
}

TEST_F(ConfigTest, FileThenEnvironmentOverride) {
  const auto file = write(R"({"database": {"url": "postgresql://db/mail"},
    "workers": {"count": 8, "batch_size": 50}, "plugins": {"enabled": ["smtp_relay"]}})");
  const auto c = load(options(file, {{"MAILROOM_WORKERS_COUNT", "16"},
                                     {"MAILROOM_PLUGINS_ENABLED", "smtp_relay, sendgrid"}}));
  EXPECT_EQ(c.database_url, "postgresql://db/mail");
  EXPECT_EQ(c.workers_count, 16);
  EXPECT_EQ(c.workers_batch_size, 50);
  EXPECT_EQ(c.plugins_enabled, (std::vector<std::string>{"smtp_relay", "sendgrid"}));
  EXPECT_EQ(c.sources.at("workers.count"), "environment MAILROOM_WORKERS_COUNT");
  EXPECT_EQ(c.sources.at("workers.batch_size"), "file " + file.string());
  EXPECT_EQ(c.sources.at("api.listen"), "default");
}

// Found by tests/fuzz (config): a number too large for a double escaped as nlohmann's
// out_of_range instead of a ConfigError naming the file.
TEST_F(ConfigTest, ANumberTooLargeIsAnErrorNamingTheFile) {
  const auto file = write(R"({"workers": {"count": 1e400}})");
  EXPECT_EQ(error_of(options(file)), "config file " + file.string() + ": holds a number too large to represent");
}

TEST_F(ConfigTest, UnknownKeysNameTheKeyAndTheFile) {
  const auto file = write(R"({"database": {"ulr": "x"}})");
  EXPECT_EQ(error_of(options(file)), "config file " + file.string() + ": unknown key 'database.ulr'");
  const auto file2 = write(R"({"databse": {}})");
  EXPECT_EQ(error_of(options(file2)), "config file " + file2.string() + ": unknown key 'databse'");
}

TEST_F(ConfigTest, WrongTypesNameTheKey) {
  const auto file = write(R"({"workers": {"count": "eight"}})");
  EXPECT_EQ(error_of(options(file)),
            "config file " + file.string() + ": key 'workers.count' must be an integer, got string");
  const auto file2 = write(R"({"plugins": {"enabled": "smtp_relay"}})");
  EXPECT_EQ(error_of(options(file2)), "config file " + file2.string() +
                                          ": key 'plugins.enabled' must be an array of strings, got string");
  EXPECT_EQ(error_of(options(std::nullopt, {{"MAILROOM_WORKERS_BATCH_SIZE", "12x"}})),
            "environment variable MAILROOM_WORKERS_BATCH_SIZE (key 'workers.batch_size') must be an integer");
}

TEST_F(ConfigTest, ValuesOutOfRangeAreErrors) {
  EXPECT_EQ(error_of(options(std::nullopt, {{"MAILROOM_WORKERS_COUNT", "0"}})),
            "environment variable MAILROOM_WORKERS_COUNT (key 'workers.count') must be between 1 and 4096");
  EXPECT_EQ(error_of(options(std::nullopt, {{"MAILROOM_API_LISTEN", "localhost"}})),
            "environment variable MAILROOM_API_LISTEN (key 'api.listen') must be HOST:PORT, e.g. 127.0.0.1:8025");
  EXPECT_EQ(error_of(options(std::nullopt, {{"MAILROOM_API_LISTEN", "::1:8025"}})),
            "environment variable MAILROOM_API_LISTEN (key 'api.listen') must put an IPv6 address in brackets, e.g. "
            "[::1]:8025");
  EXPECT_EQ(load(options(std::nullopt, {{"MAILROOM_API_LISTEN", "[::1]:8025"}})).api_listen, "[::1]:8025");
  EXPECT_EQ(error_of(options(std::nullopt, {{"MAILROOM_DATABASE_URL", "mysql://x"}})),
            "environment variable MAILROOM_DATABASE_URL (key 'database.url') must be a postgresql:// URL "
            "(or empty for the embedded database)");
  EXPECT_EQ(error_of(options(std::nullopt, {{"MAILROOM_LOG_LEVEL", "loud"}})),
            "environment variable MAILROOM_LOG_LEVEL (key 'log.level') must be one of debug, info, warn, error");
}

TEST_F(ConfigTest, UnknownMailroomVariableIsAnError) {
  EXPECT_EQ(error_of(options(std::nullopt, {{"MAILROOM_DATABSE_URL", "x"}})),
            "environment variable MAILROOM_DATABSE_URL is not a mailroom setting (known: MAILROOM_MASTER_KEY, "
            "MAILROOM_DATABASE_URL, MAILROOM_PLUGINS_DIR, MAILROOM_PLUGINS_ENABLED, MAILROOM_API_LISTEN, "
            "MAILROOM_API_PUBLIC_URL, MAILROOM_API_MAX_BODY_BYTES, MAILROOM_API_TLS_CERT_FILE, MAILROOM_API_TLS_KEY_FILE, "
            "MAILROOM_WORKERS_COUNT, MAILROOM_WORKERS_WINDOW, MAILROOM_WORKERS_BATCH_SIZE, MAILROOM_MASTER_KEY_FILE, MAILROOM_LOG_LEVEL, "
            "MAILROOM_DNS_RESOLVER, MAILROOM_WEBHOOKS_ALLOW_HTTP, MAILROOM_WEBHOOKS_ALLOW_PRIVATE_NETWORKS, "
            "MAILROOM_WEBHOOKS_TIMEOUT_SECONDS, MAILROOM_WEBHOOKS_CONCURRENCY, MAILROOM_WEBHOOKS_RETRY_SCHEDULE_SECONDS, "
            "MAILROOM_WEBHOOKS_PAUSE_AFTER_HOURS)");
  EXPECT_EQ(error_of(options(std::nullopt, {{"PATH", "/bin"}, {"MAILROOMX", "1"}})), "(no error)");
}

TEST_F(ConfigTest, InvalidJsonNamesThePositionNotTheText) {
  const auto file = write("{\n  \"database\": {\"url\": hunter2}\n}");
  const auto error = error_of(options(file));
  EXPECT_EQ(error, "config file " + file.string() + ": invalid JSON at line 2, column 24");
}

TEST_F(ConfigTest, MissingExplicitFileIsAnError) {
  EXPECT_EQ(error_of(options(dir_ / "nope.json")),
            "config file " + (dir_ / "nope.json").string() + ": does not exist");
}

TEST_F(ConfigTest, ShowRedactsSecrets) {
  const auto c = load(options(std::nullopt, {{"MAILROOM_DATABASE_URL", "postgresql://app:hunter2@db:5432/mail"},
                                             {"MAILROOM_MASTER_KEY", "super-secret-key"}}));
  const auto text = to_json(c, true).dump();
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  EXPECT_EQ(text.find("super-secret-key"), std::string::npos) << text;
  EXPECT_EQ(to_json(c)["database"]["url"], "postgresql://app:***@db:5432/mail");
  EXPECT_EQ(to_json(c)["master_key"]["env"], "(set, redacted)");
  EXPECT_EQ(to_json(c, true)["database"]["url"]["source"], "environment MAILROOM_DATABASE_URL");
}

TEST_F(ConfigTest, WebhookSettingsTakeBooleansAndDelayLists) {
  const auto c = load(options(std::nullopt, {{"MAILROOM_WEBHOOKS_ALLOW_HTTP", "true"},
                                             {"MAILROOM_WEBHOOKS_RETRY_SCHEDULE_SECONDS", "1, 2,3"}}));
  EXPECT_TRUE(c.webhooks_allow_http);
  EXPECT_FALSE(c.webhooks_allow_private_networks);
  EXPECT_EQ(c.webhooks_retry_schedule_seconds, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(error_of(options(std::nullopt, {{"MAILROOM_WEBHOOKS_ALLOW_HTTP", "yes"}})),
            "environment variable MAILROOM_WEBHOOKS_ALLOW_HTTP (key 'webhooks.allow_http') must be true or false");
  EXPECT_EQ(error_of(options(std::nullopt, {{"MAILROOM_WEBHOOKS_RETRY_SCHEDULE_SECONDS", "5,soon"}})),
            "environment variable MAILROOM_WEBHOOKS_RETRY_SCHEDULE_SECONDS (key 'webhooks.retry_schedule_seconds') "
            "must be integers separated by commas");
  EXPECT_EQ(error_of(options(std::nullopt, {{"MAILROOM_WEBHOOKS_RETRY_SCHEDULE_SECONDS", "0"}})),
            "environment variable MAILROOM_WEBHOOKS_RETRY_SCHEDULE_SECONDS (key 'webhooks.retry_schedule_seconds') "
            "must hold delays from 1 to 604800 seconds");
}

}  // namespace
