// For the conformance suites (GoogleTest). A plugin file loaded for tests as the host loads it (Boost.DLL, RTLD_NOW | RTLD_LOCAL, the
// factory alias from the "mailroom" section), with everything a provider's context refers
// to kept alive for as long as the provider lives. Configuration is not validated here (the
// host does that against the manifest's schema before a real plugin ever sees it).
#pragma once

#include <mailroom/plugin.hpp>

#include <boost/dll/library_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace mailroom::testkit {

template <class Provider>
struct PluginTraits;
template <>
struct PluginTraits<EmailProvider> {
  using Factory = EmailProviderFactory;
  static constexpr const char* symbol = kEmailFactorySymbol;
  static constexpr const char* macro = "MAILROOM_EMAIL_PLUGIN";
};
template <>
struct PluginTraits<DnsProvider> {
  using Factory = DnsProviderFactory;
  static constexpr const char* symbol = kDnsFactorySymbol;
  static constexpr const char* macro = "MAILROOM_DNS_PLUGIN";
};

template <class Provider>
class LoadedPlugin {
 public:
  explicit LoadedPlugin(const std::filesystem::path& file) {
    boost::dll::library_info info(file, false);
    const auto symbols = info.symbols(kAliasSection);
    if (std::find(symbols.begin(), symbols.end(), PluginTraits<Provider>::symbol) == symbols.end())
      throw std::runtime_error(file.string() + " exports no factory of this kind (" + PluginTraits<Provider>::macro + ")");
    library_ = std::make_shared<boost::dll::shared_library>(
        file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  }

  std::shared_ptr<Provider> create(nlohmann::json config, std::map<std::string, std::string> secrets = {},
                                   std::string base_url = "") {
    struct Held {
      std::shared_ptr<boost::dll::shared_library> library;
      std::unique_ptr<HttpClient> http;
      std::unique_ptr<Logger> log;
      std::unique_ptr<PluginContext> context;
      std::unique_ptr<Provider> provider;  // destroyed first
    };
    auto held = std::make_shared<Held>();
    held->library = library_;
    HttpClientOptions http;
    http.base_url = std::move(base_url);
    held->http = make_http_client(http);
    std::vector<std::string> secret_values;
    for (const auto& [name, value] : secrets) secret_values.push_back(value);
    held->log = make_redacting_logger(secret_values, [](LogLevel, std::string_view) {});
    held->context = std::make_unique<PluginContext>(
        PluginContext{"under_test", std::move(config), std::move(secrets), *held->http, *held->log, system_clock()});
    auto& factory = library_->get_alias<typename PluginTraits<Provider>::Factory>(PluginTraits<Provider>::symbol);
    held->provider = factory(*held->context);
    Provider* raw = held->provider.get();
    return std::shared_ptr<Provider>(std::move(held), raw);
  }

 private:
  std::shared_ptr<boost::dll::shared_library> library_;
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
