// The one place that builds provider objects from stored configurations, for the queue,
// the DNS engine, the API and the CLI alike: the plugin a row names (it must be loaded),
// its settings and the secrets it declares, and the host's pace to the manifest's
// requests_per_second (an email provider's calls; a DNS provider's HTTP requests). Also the central
// check of what an email plugin declares it can send (DNSControl's
// checkProviderCapabilities): each refusal names the capability and the plugin.
#pragma once

#include "crypto.hpp"
#include "db.hpp"
#include "plugin_host.hpp"

#include <mailroom/email_provider.hpp>
#include <mailroom/dns_provider.hpp>

#include <map>
#include <memory>
#include <string>

namespace mailroom::providers {

// The loaded plugin of `kind` named `name`. Throws ProviderError{permanent, "no_plugin"}
// naming it, and whether it is missing, of the other kind, or not enabled.
const plugin_host::Plugin& loaded_plugin(const plugin_host::PluginHost& host, const std::string& name,
                                         plugin_host::PluginKind kind);

// A provider for an email configuration. Throws ProviderError{permanent} when it cannot be
// built (no such plugin loaded: "no_plugin"; settings, secrets or the factory refused:
// "plugin_error"). Its CredentialCache is shared by every provider of the configuration: in
// the plugin's credential_column, sealed, when the plugin names one and `pool` is given (every
// host shares it), else in this process's memory. `box` and `pool` must outlive the provider.
std::shared_ptr<EmailProvider> make_email_provider(const db::EmailConfiguration& row, const plugin_host::PluginHost& host,
                                                   const crypto::SecretBox& box, db::Pool* pool = nullptr);

// The CredentialCache a configuration's providers share through the database: sealed in
// `column` of its row, refreshed by one caller at a time on any host.
std::shared_ptr<CredentialCache> stored_credential_cache(db::Pool& pool, const crypto::SecretBox& box,
                                                         const std::string& configuration_id, const std::string& column);

// The quota gate's limits for a configuration whose plugin has a quota model (nullopt: none):
// the configuration's own, else the plugin's declared defaults, else db::QuotaLimits'; without
// an hourly limit of its own the hour may hold the whole day's allowance.
std::optional<db::QuotaLimits> quota_limits(const db::EmailConfiguration& row, const plugin_host::Manifest& manifest);

// A provider for a DNS zone's plugin with the given settings and secrets. Every provider with
// the same `account_key` (the engine gives a digest of the zone's settings and credentials)
// shares one pace among its HTTP requests and one CredentialCache (an access token is asked
// for once, not per plan or apply); empty: unpaced, with a cache of its own.
// Throws ProviderError{permanent} as above.
std::shared_ptr<DnsProvider> make_dns_provider(const plugin_host::PluginHost& host, const std::string& plugin,
                                               const nlohmann::json& settings,
                                               std::map<std::string, std::string> secrets,
                                               const std::string& account_key);

// Why `email` exceeds what `plugin` declares (max_recipients, attachments,
// max_message_bytes), or "" when it does not. `encoded_bytes` is the whole message's size.
std::string email_refusal(const OutgoingEmail& email, std::size_t encoded_bytes, const plugin_host::Manifest& plugin);

// The size limit of an encoded message when a plugin declares none.
inline constexpr std::size_t kDefaultMaxMessageBytes = 25 * 1024 * 1024;

}  // namespace mailroom::providers
