// Loads docs/examples/hello_email as built out of tree (tests/sdk/build_example.cmake)
// and calls it through the host.
#include "plugin_host.hpp"

#include <mailroom/testkit/email_conformance.hpp>

#include <gtest/gtest.h>

#include <cstdlib>

namespace {

using mailroom::plugin_host::PluginHost;

std::filesystem::path plugin_file() {
  const char* path = std::getenv("MAILROOM_HELLO_EMAIL_PLUGIN");
  return path != nullptr ? path : "";
}

TEST(HelloEmailOutOfTree, HostLoadsAndCallsIt) {
  const auto file = plugin_file();
  ASSERT_TRUE(std::filesystem::exists(file)) << "not built: " << file;
  PluginHost host;
  const auto& plugin = host.load(file);
  EXPECT_EQ(plugin.manifest.name, "hello_email");
  EXPECT_EQ(plugin.manifest.abi_version, mailroom::kAbiVersion);

  std::vector<std::string> log;
  mailroom::plugin_host::ProviderSettings settings;
  settings.config = {{"prefix", "hey"}};
  settings.secrets = {{"token", "tok-123"}};
  settings.log_sink = [&](mailroom::LogLevel, std::string_view m) { log.emplace_back(m); };
  auto provider = host.create_email_provider("hello_email", settings);

  mailroom::OutgoingEmail email;
  email.envelope = {"app@example.com", {"a@example.com", "b@example.com"}};
  email.message.subject = "Welcome";
  EXPECT_EQ(provider->send(email).provider_message_id, "hey-1");
  EXPECT_EQ(provider->send(email).provider_message_id, "hey-2");
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0], "hey-1: 'Welcome' from app@example.com to 2 recipient(s)");
  EXPECT_NO_THROW(provider->verify());

  email.envelope.rcpt_to.clear();
  try {
    provider->send(email);
    FAIL() << "sent without recipients";
  } catch (const mailroom::ProviderError& e) {
    EXPECT_EQ(e.kind(), mailroom::ErrorKind::invalid_request);
    EXPECT_EQ(e.info().code, "no_recipients");
  }
}

TEST(HelloEmailOutOfTree, ItsConfigSchemaIsEnforced) {
  PluginHost host;
  host.load(plugin_file());
  mailroom::plugin_host::ProviderSettings settings;
  settings.config = {{"prefix", "NOT lower"}};
  EXPECT_THROW(host.create_email_provider("hello_email", settings), mailroom::plugin_host::PluginError);
}

// The out-of-tree example passes the SDK's conformance suite, as a third party would run it.
class HelloEmailConformance : public mailroom::testkit::EmailConformance {
 protected:
  std::shared_ptr<mailroom::EmailProvider> make_provider() override {
    return plugin_.create({{"prefix", "conf"}}, {{"token", "tok"}});
  }
  mailroom::testkit::LoadedEmailPlugin plugin_{plugin_file()};
};

MAILROOM_EMAIL_CONFORMANCE_TESTS(HelloEmailConformance)

}  // namespace
