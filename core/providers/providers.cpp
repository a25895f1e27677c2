#include "providers.hpp"

#include "email_config.hpp"

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace mailroom::providers {
namespace {

using plugin_host::PluginKind;
using SteadyClock = std::chrono::steady_clock;

// Spaces the calls of every provider object sharing it at least 1/rate apart, whichever
// thread makes them: the workers of one host together keep to the rate the plugin declares.
class Pacer {
 public:
  explicit Pacer(double per_second)
      : interval_(std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(1.0 / per_second))) {}

  void wait() {
    SteadyClock::time_point slot;
    {
      std::lock_guard lock(mutex_);
      slot = std::max(SteadyClock::now(), next_);
      next_ = slot + interval_;
    }
    std::this_thread::sleep_until(slot);
  }

 private:
  const SteadyClock::duration interval_;
  std::mutex mutex_;
  SteadyClock::time_point next_{};
};

// One object per key for the life of the process, shared by every provider built for that key
// (a configuration or zone): at most one entry per configuration a host has used. Each call
// site (each `make`) keeps its own map.
template <class Make>
auto shared_per_key(const std::string& key, Make make) -> decltype(make()) {
  static std::mutex mutex;
  static std::map<std::string, decltype(make())> objects;
  std::lock_guard lock(mutex);
  auto& object = objects[key];
  if (!object) object = make();
  return object;
}

// One pacer per configuration (or zone) and rate.
std::shared_ptr<Pacer> pacer_for(const std::string& key, double per_second) {
  return shared_per_key(key + "@" + std::to_string(per_second), [&] { return std::make_shared<Pacer>(per_second); });
}

// A configuration's credential sealed in its plugin's credential_column, as JSON
// {"value", "expires_at"} bound to that row and column like every secret (key rotation
// re-seals it with the others).
class StoredCredentialCache final : public CredentialCache {
 public:
  StoredCredentialCache(db::Pool& pool, const crypto::SecretBox& box, const std::string& id, const std::string& column)
      : stored_(pool, id, column), box_(box), associated_(crypto::associated_data("email_configurations", column, id)) {}

  Credential get(std::chrono::system_clock::time_point valid_until, const std::function<Credential()>& obtain) override {
    if (const auto kept = open(stored_.read()); kept && kept->expires_at > valid_until) return *kept;
    Credential out;
    stored_.refresh([&](const std::string& current) -> std::string {
      // Another caller may have refreshed it while this one waited for the lock.
      if (const auto kept = open(current); kept && kept->expires_at > valid_until) {
        out = *kept;
        return "";
      }
      out = obtain();
      const auto expires = std::chrono::duration_cast<std::chrono::seconds>(out.expires_at.time_since_epoch()).count();
      return box_.seal(nlohmann::json{{"value", out.value}, {"expires_at", expires}}.dump(), associated_);
    });
    return out;
  }

  void discard(const std::string& value) override {
    const std::string sealed = stored_.read();
    if (const auto kept = open(sealed); kept && kept->value == value) stored_.clear_if(sealed);
  }

 private:
  // Nothing usable (none yet, sealed under a key no longer loaded, another form): obtain anew.
  std::optional<Credential> open(const std::string& sealed) const {
    if (sealed.empty()) return std::nullopt;
    try {
      const auto kept = nlohmann::json::parse(box_.open(sealed, associated_));
      return Credential{kept.at("value").get<std::string>(),
                        std::chrono::system_clock::time_point(std::chrono::seconds(kept.at("expires_at").get<long long>()))};
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }

  db::ConfigurationCredential stored_;
  const crypto::SecretBox& box_;
  const std::string associated_;
};

// One in-memory cache per configuration, when there is no column or database to share it through.
std::shared_ptr<CredentialCache> memory_cache_for(const std::string& configuration_id) {
  return shared_per_key(configuration_id, [] { return plugin_host::make_memory_credential_cache(); });
}

class PacedEmailProvider final : public EmailProvider {
 public:
  PacedEmailProvider(std::shared_ptr<EmailProvider> inner, std::shared_ptr<Pacer> pacer)
      : inner_(std::move(inner)), pacer_(std::move(pacer)) {}

  SendReceipt send(const OutgoingEmail& email) override {
    pacer_->wait();
    return inner_->send(email);
  }
  VerifyReport verify() override {
    pacer_->wait();
    return inner_->verify();
  }
  // Local work, no call to the provider: not paced.
  std::vector<DeliveryEvent> parse_webhook(const HttpRequest& request) override { return inner_->parse_webhook(request); }
  std::vector<RecordSpec> dns_requirements(const std::string& domain) override { return inner_->dns_requirements(domain); }

 private:
  std::shared_ptr<EmailProvider> inner_;
  std::shared_ptr<Pacer> pacer_;
};

}  // namespace

const plugin_host::Plugin& loaded_plugin(const plugin_host::PluginHost& host, const std::string& name, PluginKind kind) {
  const auto* plugin = host.find(name);
  const std::string wanted(plugin_host::to_string(kind));
  if (plugin == nullptr)
    throw ProviderError(ErrorKind::permanent, "no_plugin",
                        "no " + wanted + " plugin '" + name + "' is installed (see `mailroom plugins list`)");
  if (plugin->manifest.kind != kind)
    throw ProviderError(ErrorKind::permanent, "no_plugin",
                        "plugin '" + name + "' is a " + std::string(plugin_host::to_string(plugin->manifest.kind)) +
                            " plugin, not an " + wanted + " plugin");
  if (!plugin->loaded)
    throw ProviderError(ErrorKind::permanent, "no_plugin",
                        "the " + wanted + " plugin '" + name + "' is installed but not enabled (plugins.enabled)");
  return *plugin;
}

std::shared_ptr<CredentialCache> stored_credential_cache(db::Pool& pool, const crypto::SecretBox& box,
                                                         const std::string& configuration_id, const std::string& column) {
  return std::make_shared<StoredCredentialCache>(pool, box, configuration_id, column);
}

std::shared_ptr<EmailProvider> make_email_provider(const db::EmailConfiguration& row, const plugin_host::PluginHost& host,
                                                   const crypto::SecretBox& box, db::Pool* pool) {
  const auto& plugin = loaded_plugin(host, row.plugin_name(), PluginKind::email);
  const auto& manifest = plugin.manifest;
  plugin_host::ProviderSettings settings;
  settings.config = email_config::settings_of(row, manifest);
  settings.secrets = email_config::secrets_of(row, manifest, box);
  settings.sender = row.from_address;
  settings.credentials = pool != nullptr && !manifest.credential_column.empty()
                             ? stored_credential_cache(*pool, box, row.id, manifest.credential_column)
                             : memory_cache_for(row.id);
  std::shared_ptr<EmailProvider> provider;
  try {
    provider = host.create_email_provider(manifest.name, std::move(settings));
  } catch (const plugin_host::PluginError& e) {
    throw ProviderError(ErrorKind::permanent, "plugin_error", e.what());
  }
  // The configuration's own pace wins over the plugin's.
  const double rate = row.requests_per_second.value_or(std::get<EmailCapabilities>(manifest.parsed_capabilities).requests_per_second);
  if (rate <= 0) return provider;
  return std::make_shared<PacedEmailProvider>(std::move(provider), pacer_for("email:" + row.id, rate));
}

std::optional<db::QuotaLimits> quota_limits(const db::EmailConfiguration& row, const plugin_host::Manifest& manifest) {
  const auto& caps = std::get<EmailCapabilities>(manifest.parsed_capabilities);
  if (caps.quota != QuotaModel::daily_hourly) return std::nullopt;
  db::QuotaLimits limits;
  limits.daily = row.daily_limit ? *row.daily_limit : caps.daily_limit > 0 ? static_cast<int>(caps.daily_limit) : limits.daily;
  const int hourly = row.hourly_limit ? *row.hourly_limit : static_cast<int>(caps.hourly_limit);
  limits.hourly = hourly > 0 ? std::min(hourly, limits.daily) : limits.daily;
  return limits;
}

std::shared_ptr<DnsProvider> make_dns_provider(const plugin_host::PluginHost& host, const std::string& plugin_name,
                                               const nlohmann::json& settings,
                                               std::map<std::string, std::string> secrets,
                                               const std::string& account_key) {
  const auto& plugin = loaded_plugin(host, plugin_name, PluginKind::dns);
  plugin_host::ProviderSettings provider_settings;
  provider_settings.config = settings;
  provider_settings.secrets = std::move(secrets);
  // Paced per HTTP request, not per call: one list_records reads many pages, one apply sends
  // several batches and polls, and the provider's limit counts requests.
  const auto& caps = std::get<DnsCapabilities>(plugin.manifest.parsed_capabilities);
  if (caps.requests_per_second > 0 && !account_key.empty())
    provider_settings.before_request = [pacer = pacer_for("dns:" + account_key, caps.requests_per_second)] { pacer->wait(); };
  if (!account_key.empty()) provider_settings.credentials = memory_cache_for("dns:" + account_key);
  try {
    return host.create_dns_provider(plugin_name, std::move(provider_settings));
  } catch (const plugin_host::PluginError& e) {
    throw ProviderError(ErrorKind::permanent, "plugin_error", e.what());
  }
}

namespace {

// " (attachments: invoice.pdf 2400000 bytes, ...)" for a message too large to send, or "".
std::string attachment_sizes(const OutgoingEmail& email) {
  std::string out;
  for (const auto& a : email.message.attachments)
    out += (out.empty() ? " (attachments: " : ", ") + a.filename + " " + std::to_string(a.content.size()) + " bytes";
  return out.empty() ? out : out + ")";
}

}  // namespace

std::string email_refusal(const OutgoingEmail& email, std::size_t encoded_bytes, const plugin_host::Manifest& plugin) {
  const auto& caps = std::get<EmailCapabilities>(plugin.parsed_capabilities);
  const std::string who = "plugin " + plugin.name;
  if (email.envelope.rcpt_to.size() > caps.max_recipients)
    return std::to_string(email.envelope.rcpt_to.size()) + " recipients (to, cc and bcc together), but " + who +
           " declares max_recipients " + std::to_string(caps.max_recipients);
  if (!email.message.attachments.empty() && !caps.attachments) {
    std::string files;
    for (const auto& a : email.message.attachments) files += (files.empty() ? "" : ", ") + a.filename;
    return "attachments (" + files + "): " + who + " does not declare the capability attachments";
  }
  const std::size_t limit = caps.max_message_bytes > 0 ? caps.max_message_bytes : kDefaultMaxMessageBytes;
  if (encoded_bytes > limit)
    return "the encoded message is " + std::to_string(encoded_bytes) + " bytes" + attachment_sizes(email) + ", but " + who +
           (caps.max_message_bytes > 0 ? " declares max_message_bytes " : " declares no max_message_bytes and the host's limit is ") +
           std::to_string(limit);
  return "";
}

}  // namespace mailroom::providers
