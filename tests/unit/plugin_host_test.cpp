// The plugin host against real plugin files built by tests/plugins/.
#include "plugin_host.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using mailroom::ErrorKind;
using mailroom::OutgoingEmail;
using mailroom::ProviderError;
using mailroom::plugin_host::PluginError;
using mailroom::plugin_host::PluginHost;
using mailroom::plugin_host::PluginRefused;
using mailroom::plugin_host::ProviderSettings;
using nlohmann::json;
using testing::HasSubstr;
using testing::Not;

const fs::path kGoodDir = MAILROOM_TEST_PLUGIN_DIR;
const fs::path kRefusedDir = MAILROOM_TEST_REFUSED_DIR;
const std::string kHostToolchain = mailroom::kToolchainTag;
constexpr const char* kSecret = "sk-test-0123456789";

// A copy of the refused plugins plus a file that is not ELF at all, in a fresh directory.
class RefusedDir {
 public:
  RefusedDir() : path_(fs::temp_directory_path() / ("mailroom-refused-" + std::to_string(::getpid()))) {
    fs::create_directories(path_);
    for (const auto& item : fs::directory_iterator(kRefusedDir))
      if (item.path().extension() == ".so") fs::copy_file(item.path(), path_ / item.path().filename());
    std::ofstream(path_ / "garbage.so") << "this is not a shared library\n";
  }
  ~RefusedDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  std::string file(const char* name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

OutgoingEmail email(std::string subject) {
  OutgoingEmail e;
  e.id = "q-1";
  e.envelope = {"from@example.com", {"a@example.com", "b@example.com"}};
  e.message.subject = std::move(subject);
  return e;
}

ProviderSettings email_settings(std::vector<std::string>* log = nullptr) {
  ProviderSettings s;
  s.config = json{{"greeting", "hi"}};
  s.secrets = {{"api_key", kSecret}};
  if (log != nullptr)
    s.log_sink = [log](mailroom::LogLevel, std::string_view m) { log->emplace_back(m); };
  return s;
}

TEST(PluginHost, LoadsGoodPluginsWithTheirManifests) {
  PluginHost host;
  const auto refusals = host.load_directory(kGoodDir);
  EXPECT_TRUE(refusals.empty());
  const auto* email = host.find("test_email");
  ASSERT_NE(email, nullptr);
  EXPECT_TRUE(email->loaded);
  EXPECT_EQ(email->manifest.version, "1.2.3");
  EXPECT_EQ(email->manifest.abi_version, mailroom::kAbiVersion);
  EXPECT_EQ(email->manifest.toolchain, kHostToolchain);
  EXPECT_EQ(email->manifest.secrets, std::vector<std::string>{"api_key"});
  const auto& caps = std::get<mailroom::EmailCapabilities>(email->manifest.parsed_capabilities);
  EXPECT_EQ(caps.max_recipients, 50u);
  EXPECT_TRUE(caps.attachments);
  EXPECT_FALSE(caps.open_tracking);  // undeclared means unsupported
  const auto* dns = host.find("test_dns");
  ASSERT_NE(dns, nullptr);
  const auto& dns_caps = std::get<mailroom::DnsCapabilities>(dns->manifest.parsed_capabilities);
  EXPECT_EQ(dns_caps.record_types.size(), 5u);
  EXPECT_EQ(dns_caps.max_batch_size, 100u);
}

TEST(PluginHost, RefusesEachBadFileWithItsExactMessageAndKeepsTheGoodOnes) {
  RefusedDir bad;
  PluginHost host;
  ASSERT_TRUE(host.load_directory(kGoodDir).empty());
  const auto refusals = host.load_directory(bad.path());

  std::map<std::string, std::string> by_file;
  for (const auto& r : refusals) by_file[r.file.filename().string()] = r.message;
  const std::map<std::string, std::string> expected = {
      {"abi_mismatch.so", bad.file("abi_mismatch.so") + ": built for plugin ABI 999, but this host loads ABI 8"},
      {"abi_and_toolchain_mismatch.so",
       bad.file("abi_and_toolchain_mismatch.so") +
           ": built for plugin ABI 998 and toolchain 'clang+libc++', but this host loads ABI 8 and toolchain '" +
           kHostToolchain + "'"},
      {"toolchain_mismatch.so", bad.file("toolchain_mismatch.so") +
                                    ": built for toolchain 'msvc+msvc-stl', but this host loads toolchain '" +
                                    kHostToolchain + "'"},
      {"library_mismatch.so",
       bad.file("library_mismatch.so") + ": built for toolchain '" + kHostToolchain.substr(0, kHostToolchain.find("+boost-")) +
           "+boost-1_74+nlohmann_json-3.9.1', but this host loads toolchain '" + kHostToolchain + "'"},
      {"scheme_taken.so", bad.file("scheme_taken.so") + ": DSN scheme 'smtp' is already owned by plugin 'smtp_relay' (" +
                              (kGoodDir / "smtp_relay.so").string() + ")"},
      {"bad_mapping.so", bad.file("bad_mapping.so") +
                             ": invalid manifest: dsn scheme 'bad' maps its password to 'password', which is neither a "
                             "config_schema property nor a declared secret"},
      {"kind_mismatch.so", bad.file("kind_mismatch.so") +
                               ": manifest declares kind 'dns', but the library exports "
                               "mailroom_email_factory instead of mailroom_dns_factory"},
      {"duplicate_name.so", bad.file("duplicate_name.so") + ": plugin name 'test_email' is already taken by " +
                                (kGoodDir / "test_email.so").string()},
      {"not_a_plugin.so", bad.file("not_a_plugin.so") +
                              ": not a mailroom plugin: no .mailroom_manifest section (export it with "
                              "MAILROOM_EMAIL_PLUGIN or MAILROOM_DNS_PLUGIN)"},
      {"garbage.so", bad.file("garbage.so") + ": not a mailroom plugin: not an ELF file"},
      {"bad_manifest.so", bad.file("bad_manifest.so") +
                              ": invalid manifest: at (root): missing required property 'description'; "
                              "at /capabilities: property 'teleport' is not allowed"},
  };
  EXPECT_EQ(by_file, expected);

  // The good plugins are untouched, and the throwing factory's plugin loaded (it fails later).
  EXPECT_NE(host.find("test_email"), nullptr);
  EXPECT_EQ(host.find("test_email")->manifest.file, kGoodDir / "test_email.so");
  EXPECT_NE(host.find("test_dns"), nullptr);
  EXPECT_NE(host.find("throwing_factory"), nullptr);
  EXPECT_EQ(host.plugins().size(), 12u);  // test_email, test_dns, fake_email (and 2 variants), smtp_relay, sendgrid, google_workspace, cloudflare, route53, azure_dns, throwing_factory
  EXPECT_EQ(host.create_email_provider("test_email", email_settings())->send(email("hello")).provider_message_id,
            "hi:q-1:2");
}

TEST(PluginHost, ThrowingFactoryIsReportedNotFatal) {
  PluginHost host;
  host.load(kRefusedDir / "throwing_factory.so");
  try {
    host.create_email_provider("throwing_factory", {});
    FAIL() << "factory did not throw";
  } catch (const PluginError& e) {
    EXPECT_EQ(std::string(e.what()), "plugin 'throwing_factory' (" +
                                         (kRefusedDir / "throwing_factory.so").string() +
                                         "): factory failed: cannot reach the moon");
  }
}

TEST(PluginHost, ConfigSchemaViolationIsRefusedBeforeTheFactoryRuns) {
  PluginHost host;
  host.load(kGoodDir / "test_email.so");
  std::vector<std::string> log;
  auto settings = email_settings(&log);
  settings.config = json{{"port", 70000}, {"colour", "red"}};
  try {
    host.create_email_provider("test_email", settings);
    FAIL() << "invalid configuration accepted";
  } catch (const PluginError& e) {
    EXPECT_EQ(std::string(e.what()),
              "plugin 'test_email': invalid configuration: at (root): property 'colour' is not allowed; "
              "at /port: must be <= 65535; at (root): missing required property 'greeting'");
  }
  EXPECT_TRUE(log.empty()) << "the factory ran";
}

TEST(PluginHost, UnknownSecretWrongKindAndUnknownNameAreErrors) {
  PluginHost host;
  host.load_directory(kGoodDir);
  auto settings = email_settings();
  settings.secrets["password"] = "x";
  EXPECT_THAT([&] { host.create_email_provider("test_email", settings); },
              testing::ThrowsMessage<PluginError>(
                  testing::StrEq("plugin 'test_email': unknown secret 'password' (declared: api_key)")));
  EXPECT_THAT([&] { host.create_dns_provider("test_email", email_settings()); },
              testing::ThrowsMessage<PluginError>(testing::StrEq("plugin 'test_email' has kind email, not dns")));
  EXPECT_THAT([&] { host.create_email_provider("carrier_pigeon", {}); },
              testing::ThrowsMessage<PluginError>(
                  testing::StrEq("no email plugin named 'carrier_pigeon' is loaded (loaded: fake_email, fake_paced_email, fake_quota_email, google_workspace, sendgrid, smtp_relay, test_email)")));
}

// The in-memory CredentialCache: callers waiting behind an obtain take its result, a
// credential about to expire is obtained again, a discarded one is forgotten, a failed obtain
// keeps nothing.
TEST(PluginHost, MemoryCredentialCacheObtainsOnceForManyCallers) {
  using Clock = std::chrono::system_clock;
  auto cache = mailroom::plugin_host::make_memory_credential_cache();
  std::atomic<int> obtained = 0;
  const auto obtain = [&] {
    ++obtained;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return mailroom::Credential{"token-" + std::to_string(obtained.load()), Clock::now() + std::chrono::minutes(60)};
  };
  std::vector<std::thread> callers;
  for (int i = 0; i < 8; ++i) callers.emplace_back([&] { EXPECT_EQ(cache->get(Clock::now(), obtain).value, "token-1"); });
  for (auto& c : callers) c.join();
  EXPECT_EQ(obtained.load(), 1);
  EXPECT_EQ(cache->get(Clock::now() + std::chrono::minutes(61), obtain).value, "token-2");
  cache->discard("token-1");
  EXPECT_EQ(cache->get(Clock::now(), obtain).value, "token-2");
  cache->discard("token-2");
  EXPECT_THROW(cache->get(Clock::now(), []() -> mailroom::Credential { throw std::runtime_error("refused"); }),
               std::runtime_error);
  EXPECT_EQ(cache->get(Clock::now(), obtain).value, "token-3");
}

TEST(PluginHost, DisabledPluginIsListedButNotLoaded) {
  PluginHost host;
  host.load_directory(kGoodDir, {"test_dns"});
  ASSERT_NE(host.find("test_email"), nullptr);
  EXPECT_FALSE(host.find("test_email")->loaded);
  EXPECT_TRUE(host.find("test_dns")->loaded);
  EXPECT_THAT([&] { host.create_email_provider("test_email", email_settings()); },
              testing::ThrowsMessage<PluginError>(
                  testing::StrEq("plugin 'test_email' is not enabled (see plugins.enabled)")));
}

TEST(PluginHost, SecondLoadOfTheSameFileIsANoOp) {
  PluginHost host;
  const auto& first = host.load(kGoodDir / "test_email.so");
  const auto& second = host.load(kGoodDir / "." / "test_email.so");
  EXPECT_EQ(&first, &second);
  EXPECT_EQ(host.plugins().size(), 1u);
}

TEST(PluginHost, ThrowingMethodsBecomeProviderErrorsWithoutSecrets) {
  PluginHost host;
  host.load(kGoodDir / "test_email.so");
  std::vector<std::string> log;
  auto provider = host.create_email_provider("test_email", email_settings(&log));

  try {
    provider->send(email("throw logic_error"));
    FAIL();
  } catch (const ProviderError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::permanent);
    EXPECT_EQ(e.info().code, "plugin_exception");
    EXPECT_EQ(e.info().message, "plugin 'test_email' threw from send: bug while holding [redacted]");
  }
  try {
    provider->send(email("throw int"));
    FAIL();
  } catch (const ProviderError& e) {
    EXPECT_EQ(e.info().message, "plugin 'test_email' threw a non-standard exception from send");
  }
  try {
    provider->send(email("rate limit"));
    FAIL();
  } catch (const ProviderError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::rate_limited);
    EXPECT_EQ(e.info().retry_after, std::chrono::seconds(7));
    EXPECT_EQ(e.info().message, "slow down, key [redacted]");
  }
  EXPECT_EQ(provider->send(email("fine")).provider_message_id, "hi:q-1:2");  // still usable

  ASSERT_GE(log.size(), 2u);
  EXPECT_EQ(log[0], "created with api_key [redacted]");
  for (const auto& line : log) EXPECT_THAT(line, Not(HasSubstr(kSecret)));
}

TEST(PluginHost, ProvidersOutliveTheHost) {
  std::shared_ptr<mailroom::EmailProvider> provider;
  {
    PluginHost host;
    host.load(kGoodDir / "test_email.so");
    provider = host.create_email_provider("test_email", email_settings());
  }
  EXPECT_EQ(provider->send(email("after the host")).provider_message_id, "hi:q-1:2");
  EXPECT_EQ(provider->dns_requirements("example.com").at(0).value, "include:_spf.test.example");
  EXPECT_NO_THROW(provider->verify());
}

TEST(PluginHost, DnsPluginAppliesAndReportsPerChangeErrors) {
  PluginHost host;
  host.load(kGoodDir / "test_dns.so");
  ProviderSettings settings;
  settings.config = json{{"zone", "example.com"}};
  auto dns = host.create_dns_provider("test_dns", settings);
  const auto zones = dns->list_zones();
  ASSERT_EQ(zones.size(), 1u);
  EXPECT_EQ(zones[0].name, "example.com");
  mailroom::ChangeSet changes = {
      {mailroom::ChangeAction::create, {mailroom::RecordType::TXT, "example.com", "v=spf1 -all", 300, {}}, ""},
      {mailroom::ChangeAction::create, {mailroom::RecordType::A, "www.example.com", "192.0.2.1", 300, {}}, ""}};
  const auto results = dns->apply(zones[0], changes);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].provider_id, "rec-1");
  EXPECT_FALSE(results[0].error.has_value());
  ASSERT_TRUE(results[1].error.has_value());
  EXPECT_EQ(results[1].error->kind, ErrorKind::invalid_request);
  EXPECT_EQ(dns->list_records(zones[0]).size(), 1u);
}

TEST(PluginHost, MissingDirectoryIsARefusalNotACrash) {
  PluginHost host;
  const auto refusals = host.load_directory("/nonexistent/mailroom/plugins");
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_THAT(refusals[0].message, HasSubstr("/nonexistent/mailroom/plugins: cannot read plugin directory"));
}

}  // namespace
