// For the conformance suites (GoogleTest): a plugin under test, loaded and instantiated by the
// host's own code. Link mailroom::plugin_host (installed with the SDK).
#pragma once

#include <mailroom/plugin.hpp>

#include <gtest/gtest.h>
#include <plugin_host.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>

namespace mailroom::testkit {

// A plugin file loaded for a test by the host's own loader (libmailroom_plugin_host, target
// mailroom::plugin_host): its manifest is read and checked before any of its code runs (ABI,
// toolchain, kind, schema, DSN mappings), it is opened as the host opens it, and every
// provider is created as the host creates one: the configuration validated against the
// manifest's config_schema, the secrets against its names, every call guarded. A plugin the
// host would refuse fails here with the host's message.
template <class Provider>
class LoadedPlugin {
 public:
  explicit LoadedPlugin(const std::filesystem::path& file) : host_(std::make_shared<plugin_host::PluginHost>()) {
    name_ = host_->load(file).manifest.name;  // throws plugin_host::PluginRefused, naming why
  }

  // `base_url`, when given, becomes the "base_url" setting the host points the plugin's HTTP
  // client at (the plugin's schema must take it, as it must for a deployer's endpoint).
  std::shared_ptr<Provider> create(nlohmann::json config, std::map<std::string, std::string> secrets = {},
                                   std::string base_url = "") {
    plugin_host::ProviderSettings settings;
    if (!base_url.empty()) config["base_url"] = std::move(base_url);
    settings.config = std::move(config);
    settings.secrets = std::move(secrets);
    settings.log_sink = [](LogLevel, std::string_view) {};
    if constexpr (std::is_same_v<Provider, EmailProvider>) return host_->create_email_provider(name_, std::move(settings));
    else return host_->create_dns_provider(name_, std::move(settings));
  }

 private:
  std::shared_ptr<plugin_host::PluginHost> host_;
  std::string name_;
};

// Runs `call`, which must fail with a ProviderError and nothing else; returns its kind.
inline ErrorKind provider_error_kind(const std::function<void()>& call) {
  try {
    call();
  } catch (const ProviderError& e) {
    EXPECT_FALSE(e.info().message.empty()) << "a ProviderError must say what went wrong";
    return e.kind();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw something other than mailroom::ProviderError: " << e.what();
    return ErrorKind::permanent;
  }
  ADD_FAILURE() << "did not fail";
  return ErrorKind::permanent;
}

using LoadedEmailPlugin = LoadedPlugin<EmailProvider>;
using LoadedDnsPlugin = LoadedPlugin<DnsProvider>;

}  // namespace mailroom::testkit
