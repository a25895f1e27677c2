// Email configurations as users write them, for any email plugin: a DSN or a provider with
// settings and secrets, checked against what the plugin's manifest declares, with secrets
// sealed into their columns (AES-256-GCM, bound to row and column) and a view that never
// shows a secret.
//
// The manifest says everything provider-specific (plugin.hpp): which DSN schemes the
// plugin owns and how a URL's parts map to its settings and secrets, the settings' schema,
// the secret names, and which of the seed's columns (smtp_host, smtp_password_encrypted, ...)
// mirror a setting or a secret. Secrets no column mirrors live together, encrypted, in
// secrets_encrypted. This module names no provider.
//
// A secret in a DSN works, but is visible to other users of the machine while a command
// runs: give it on stdin, in a file or in a variable instead.
#pragma once

#include "crypto.hpp"
#include "db.hpp"
#include "plugin_host.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <stdexcept>
#include <string>

namespace mailroom::email_config {

// Bad input; the message names the field or DSN part at fault, never a secret.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Input {
  std::string provider;  // the email plugin's name (from the DSN's scheme when there is one)
  std::string plugin;    // the plugin that sends, when not the one named like the provider
  std::string from_address;
  std::string from_name;
  std::string reply_to_address;
  // Settings merged over the stored ones (JSON merge patch: null removes one).
  nlohmann::json settings = nlohmann::json::object();
  std::map<std::string, std::string> secrets;  // by the names the plugin declares
  bool secret_from_dsn = false;
  // Overrides of the plugin's sending policy; given as 0: back to what the plugin declares.
  std::optional<long long> send_window;       // 1..1000 sends in flight
  std::optional<double> requests_per_second;  // > 0, at most 100000
  // The quota gate's limits, for plugins with a quota model; given as 0: the plugin's defaults.
  std::optional<long long> daily_limit;   // 1..kMaxQuotaLimit sends over a rolling 24 hours
  std::optional<long long> hourly_limit;  // 1..kMaxQuotaLimit sends over a rolling hour
  // One-click List-Unsubscribe for its emails unless one says otherwise (docs/queue.md), and a
  // mailto: beside it ("" removes it).
  std::optional<bool> list_unsubscribe;
  std::optional<std::string> unsubscribe_mailto;
};

inline constexpr int kMaxSendWindow = 1000;
inline constexpr double kMaxRequestsPerSecond = 100000;
inline constexpr long long kMaxQuotaLimit = 1000000;

// Whether `address` is a plain addr-spec fit for an envelope and a header: local@domain.tld,
// no spaces, angle brackets, commas, semicolons or quotes, at most 254 octets.
bool is_email_address(const std::string& address);

// The email plugin a configuration's provider (or plugin) column names, from `plugins`.
// Throws InputError naming the plugin and where plugins are looked for.
const plugin_host::Manifest& manifest_for(const std::string& provider, const plugin_host::PluginHost& plugins);

// Parses a DSN: the loaded plugin that owns its scheme gives the provider, and its manifest
// says which setting or secret each part of the URL is. Query parameters are settings.
Input parse_dsn(const std::string& dsn, const plugin_host::PluginHost& plugins);

// A setting given as text (a DSN's query, `--setting key=value`), typed as the plugin's
// config_schema declares it (integer, number, boolean, else string).
nlohmann::json setting_value(const plugin_host::Manifest& manifest, const std::string& name, const std::string& text);

// Checks `input` against the manifest of the plugin the row then names (manifest_for) and
// writes it into `row` (row.id must be set: ciphertexts are bound to it). On update, what
// `input` leaves out keeps its value in `row`. The settings' schema and the plugin's own
// checks are the plugin's: providers::make_email_provider applies them.
void apply(const Input& input, db::EmailConfiguration& row, const plugin_host::PluginHost& plugins,
           const crypto::SecretBox& box, bool creating);

// The plugin's settings of a row: its settings column with the mirrored columns put back.
nlohmann::json settings_of(const db::EmailConfiguration& row, const plugin_host::Manifest& manifest);

// The decrypted secrets of a row, by the names the plugin declares.
std::map<std::string, std::string> secrets_of(const db::EmailConfiguration& row, const plugin_host::Manifest& manifest,
                                              const crypto::SecretBox& box);

// The row for display (API and CLI share it): every setting, and which secrets are set, by
// name, never their values. Without a manifest (or, for the secrets kept together, a box)
// secrets are listed by column.
nlohmann::json view(const db::EmailConfiguration& row, const plugin_host::Manifest* manifest,
                    const crypto::SecretBox* box);

}  // namespace mailroom::email_config
