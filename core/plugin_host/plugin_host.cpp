#include "plugin_host.hpp"

#include "json_schema.hpp"

#include <boost/dll/shared_library.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <system_error>

namespace mailroom::plugin_host {
namespace {

using nlohmann::json;

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "none" : out;
}

// Everything one provider object needs, destroyed in reverse order of declaration: the
// provider first, then what its context refers to, and the library last.
template <class Provider>
struct Instance {
  std::shared_ptr<boost::dll::shared_library> library;
  std::shared_ptr<CredentialCache> credentials;
  std::unique_ptr<HttpClient> http;
  std::unique_ptr<Logger> log;
  std::unique_ptr<PluginContext> context;
  std::unique_ptr<Provider> provider;
};

// Turns whatever a plugin throws into a ProviderError without its secrets, so a faulty
// plugin costs one failed call, never the host.
class Guard {
 public:
  Guard(std::string plugin, std::vector<std::string> secrets)
      : plugin_(std::move(plugin)), secrets_(std::move(secrets)) {}

  template <class F>
  decltype(auto) operator()(const char* method, F&& call) const {
    try {
      return call();
    } catch (const ProviderError& e) {
      ErrorInfo info = e.info();
      info.code = redact(info.code, secrets_);
      info.message = redact(info.message, secrets_);
      throw ProviderError(std::move(info));
    } catch (const std::exception& e) {
      throw ProviderError(ErrorKind::permanent, "plugin_exception",
                          "plugin '" + plugin_ + "' threw from " + method + ": " +
                              redact(e.what(), secrets_));
    } catch (...) {
      throw ProviderError(ErrorKind::permanent, "plugin_exception",
                          "plugin '" + plugin_ + "' threw a non-standard exception from " + method);
    }
  }

  std::optional<ErrorInfo> clean(std::optional<ErrorInfo> info) const {
    if (info) info->message = redact(info->message, secrets_);
    return info;
  }

 private:
  std::string plugin_;
  std::vector<std::string> secrets_;
};

// The plugin's HTTP client with the host's hook (its pace) before every request.
class HookedHttpClient final : public HttpClient {
 public:
  HookedHttpClient(std::unique_ptr<HttpClient> inner, std::function<void()> before)
      : inner_(std::move(inner)), before_(std::move(before)) {}
  HttpResponse send(const HttpRequest& request) override {
    before_();
    return inner_->send(request);
  }

 private:
  std::unique_ptr<HttpClient> inner_;
  std::function<void()> before_;
};

class GuardedEmailProvider final : public EmailProvider {
 public:
  GuardedEmailProvider(Guard guard, std::unique_ptr<Instance<EmailProvider>> instance)
      : guard_(std::move(guard)), instance_(std::move(instance)) {}

  SendReceipt send(const OutgoingEmail& email) override {
    return guard_("send", [&] { return instance_->provider->send(email); });
  }
  VerifyReport verify() override {
    return guard_("verify", [&] { return instance_->provider->verify(); });
  }
  std::vector<DeliveryEvent> parse_webhook(const HttpRequest& request) override {
    return guard_("parse_webhook", [&] { return instance_->provider->parse_webhook(request); });
  }
  std::vector<RecordSpec> dns_requirements(const std::string& domain) override {
    return guard_("dns_requirements", [&] { return instance_->provider->dns_requirements(domain); });
  }

 private:
  Guard guard_;
  std::unique_ptr<Instance<EmailProvider>> instance_;
};

class GuardedDnsProvider final : public DnsProvider {
 public:
  GuardedDnsProvider(Guard guard, std::unique_ptr<Instance<DnsProvider>> instance)
      : guard_(std::move(guard)), instance_(std::move(instance)) {}

  std::vector<Zone> list_zones() override {
    return guard_("list_zones", [&] { return instance_->provider->list_zones(); });
  }
  std::vector<ProviderRecord> list_records(const Zone& zone) override {
    return guard_("list_records", [&] { return instance_->provider->list_records(zone); });
  }
  std::vector<ChangeResult> apply(const Zone& zone, const ChangeSet& changes) override {
    auto results = guard_("apply", [&] { return instance_->provider->apply(zone, changes); });
    for (auto& result : results) result.error = guard_.clean(std::move(result.error));
    return results;
  }

 private:
  Guard guard_;
  std::unique_ptr<Instance<DnsProvider>> instance_;
};

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

struct PluginHost::Entry {
  Plugin plugin;
  std::filesystem::path canonical;
  std::shared_ptr<boost::dll::shared_library> library;  // null until loaded
};

PluginHost::PluginHost() = default;
PluginHost::~PluginHost() = default;

const Plugin& PluginHost::load(const std::filesystem::path& file, bool enable) {
  std::error_code ec;
  auto canonical = std::filesystem::canonical(file, ec);
  if (ec) throw PluginRefused(file.string() + ": cannot open: " + ec.message());
  for (const auto& entry : entries_)
    if (entry->canonical == canonical) return entry->plugin;  // a second load is a no-op

  Manifest manifest = read_manifest(file);
  for (const auto& entry : entries_)
    if (entry->plugin.manifest.name == manifest.name)
      throw PluginRefused(file.string() + ": plugin name '" + manifest.name +
                          "' is already taken by " + entry->plugin.manifest.file.string());
  for (const auto& [scheme, mapping] : manifest.dsn)
    for (const auto& entry : entries_)
      if (enable && entry->plugin.loaded && entry->plugin.manifest.dsn.contains(scheme))
        throw PluginRefused(file.string() + ": DSN scheme '" + scheme + "' is already owned by plugin '" +
                            entry->plugin.manifest.name + "' (" + entry->plugin.manifest.file.string() + ")");

  auto entry = std::make_unique<Entry>();
  entry->canonical = canonical;
  if (enable) {
    try {
      entry->library = std::make_shared<boost::dll::shared_library>(
          canonical, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    } catch (const std::exception& e) {
      throw PluginRefused(file.string() + ": cannot load: " + e.what());
    }
  }
  entry->plugin = Plugin{std::move(manifest), enable};
  entries_.push_back(std::move(entry));
  return entries_.back()->plugin;
}

std::vector<Refusal> PluginHost::load_directory(const std::filesystem::path& dir,
                                                const std::set<std::string>& enabled) {
  std::vector<Refusal> refusals;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& item : std::filesystem::directory_iterator(dir, ec))
    if (item.path().extension() == ".so" && !item.is_directory()) files.push_back(item.path());
  if (ec) {
    refusals.push_back({dir, dir.string() + ": cannot read plugin directory: " + ec.message()});
    return refusals;
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    try {
      // The name decides whether the plugin is enabled, and the name is in the manifest:
      // read it first, so that a disabled plugin's code never runs.
      const bool enable = enabled.empty() || enabled.contains(read_manifest(file).name);
      load(file, enable);
    } catch (const PluginRefused& e) {
      refusals.push_back({file, e.what()});
    }
  }
  return refusals;
}

std::vector<const Plugin*> PluginHost::plugins() const {
  std::vector<const Plugin*> out;
  for (const auto& entry : entries_) out.push_back(&entry->plugin);
  return out;
}

const Plugin* PluginHost::find(std::string_view name) const {
  for (const auto& entry : entries_)
    if (entry->plugin.manifest.name == name) return &entry->plugin;
  return nullptr;
}

const Plugin* PluginHost::find_by_scheme(std::string_view scheme) const {
  const Plugin* found = nullptr;
  for (const auto& entry : entries_)
    if (entry->plugin.manifest.dsn.contains(std::string(scheme)) && (found == nullptr || entry->plugin.loaded))
      found = &entry->plugin;
  return found;
}

const PluginHost::Entry& PluginHost::entry_for(std::string_view name, PluginKind kind) const {
  const Entry* found = nullptr;
  std::vector<std::string> names;
  for (const auto& entry : entries_) {
    if (entry->plugin.manifest.name == name) found = entry.get();
    if (entry->plugin.loaded && entry->plugin.manifest.kind == kind)
      names.push_back(entry->plugin.manifest.name);
  }
  const std::string wanted(to_string(kind));
  if (found == nullptr)
    throw PluginError("no " + wanted + " plugin named '" + std::string(name) +
                      "' is loaded (loaded: " + join(names) + ")");
  if (found->plugin.manifest.kind != kind)
    throw PluginError("plugin '" + std::string(name) + "' has kind " +
                      std::string(to_string(found->plugin.manifest.kind)) + ", not " + wanted);
  if (!found->plugin.loaded)
    throw PluginError("plugin '" + std::string(name) + "' is not enabled (see plugins.enabled)");
  return *found;
}

namespace {

class MemoryCredentialCache final : public CredentialCache {
 public:
  Credential get(std::chrono::system_clock::time_point valid_until, const std::function<Credential()>& obtain) override {
    // Held while obtaining: the callers behind it wait, then take what it obtained.
    std::lock_guard lock(mutex_);
    if (!kept_.value.empty() && kept_.expires_at > valid_until) return kept_;
    kept_ = obtain();
    return kept_;
  }
  void discard(const std::string& value) override {
    std::lock_guard lock(mutex_);
    if (kept_.value == value) kept_ = {};
  }

 private:
  std::mutex mutex_;
  Credential kept_;
};

}  // namespace

std::shared_ptr<CredentialCache> make_memory_credential_cache() { return std::make_shared<MemoryCredentialCache>(); }

namespace {

template <class Provider>
std::unique_ptr<Instance<Provider>> prepare(const Manifest& manifest,
                                            std::shared_ptr<boost::dll::shared_library> library,
                                            ProviderSettings& settings, std::vector<std::string>& secret_values) {
  const std::string label = "plugin '" + manifest.name + "'";
  const json_schema::Schema schema(manifest.config_schema);
  if (auto violations = schema.validate(settings.config); !violations.empty())
    throw PluginError(label + ": invalid configuration: " + json_schema::describe(violations));
  for (const auto& [name, value] : settings.secrets) {
    if (!declares_secret(manifest, name))
      throw PluginError(label + ": unknown secret '" + name + "' (declared: " + join(manifest.secrets) + ")");
    secret_values.push_back(value);
  }

  auto instance = std::make_unique<Instance<Provider>>();
  instance->library = std::move(library);
  HttpClientOptions http;
  http.base_url = settings.config.is_object() && settings.config.contains("base_url") &&
                          settings.config["base_url"].is_string()
                      ? settings.config["base_url"].template get<std::string>()
                      : manifest.endpoint;
  http.total_timeout = settings.http_timeout;
  http.user_agent = "mailroom/" + manifest.name;
  instance->http = make_http_client(std::move(http));
  if (settings.before_request)
    instance->http = std::make_unique<HookedHttpClient>(std::move(instance->http), std::move(settings.before_request));
  instance->credentials = settings.credentials ? settings.credentials : make_memory_credential_cache();
  LogSink sink = settings.log_sink;
  if (!sink) {
    sink = [name = manifest.name](LogLevel level, std::string_view message) {
      spdlog::log(to_spdlog(level), "[{}] {}", name, message);
    };
  }
  instance->log = make_redacting_logger(secret_values, std::move(sink));
  instance->context = std::make_unique<PluginContext>(PluginContext{
      manifest.name, std::move(settings.config), std::move(settings.secrets), *instance->http,
      *instance->log, settings.clock != nullptr ? *settings.clock : system_clock(), *instance->credentials,
      std::move(settings.sender)});
  return instance;
}

template <class Provider, class Factory>
std::unique_ptr<Provider> call_factory(const Manifest& manifest, Factory& factory,
                                       PluginContext& context, const std::vector<std::string>& secrets) {
  const std::string label = "plugin '" + manifest.name + "' (" + manifest.file.string() + ")";
  std::unique_ptr<Provider> provider;
  try {
    provider = factory(context);
  } catch (const std::exception& e) {
    throw PluginError(label + ": factory failed: " + redact(e.what(), secrets));
  } catch (...) {
    throw PluginError(label + ": factory failed with a non-standard exception");
  }
  if (!provider) throw PluginError(label + ": factory returned no provider");
  return provider;
}

template <class Provider, class Guarded, class Factory>
std::shared_ptr<Provider> instantiate(const Manifest& manifest,
                                      const std::shared_ptr<boost::dll::shared_library>& library,
                                      const char* factory_symbol, ProviderSettings settings) {
  std::vector<std::string> secrets;
  auto instance = prepare<Provider>(manifest, library, settings, secrets);
  auto& factory = library->get_alias<Factory>(factory_symbol);
  instance->provider = call_factory<Provider>(manifest, factory, *instance->context, secrets);
  return std::make_shared<Guarded>(Guard(manifest.name, secrets), std::move(instance));
}

}  // namespace

std::shared_ptr<EmailProvider> PluginHost::create_email_provider(std::string_view name,
                                                                 ProviderSettings settings) const {
  const Entry& entry = entry_for(name, PluginKind::email);
  return instantiate<EmailProvider, GuardedEmailProvider, EmailProviderFactory>(
      entry.plugin.manifest, entry.library, kEmailFactorySymbol, std::move(settings));
}

std::shared_ptr<DnsProvider> PluginHost::create_dns_provider(std::string_view name,
                                                             ProviderSettings settings) const {
  const Entry& entry = entry_for(name, PluginKind::dns);
  return instantiate<DnsProvider, GuardedDnsProvider, DnsProviderFactory>(
      entry.plugin.manifest, entry.library, kDnsFactorySymbol, std::move(settings));
}

}  // namespace mailroom::plugin_host
