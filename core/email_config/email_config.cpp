#include "email_config.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <charconv>
#include <tuple>
#include <regex>

namespace mailroom::email_config {
namespace {

using nlohmann::json;

// The seed's plain columns a manifest may mirror a setting into (secret columns end in
// "_encrypted" and live in row.ciphertexts).
json get_column(const db::EmailConfiguration& row, const std::string& column) {
  if (column == "smtp_host") return row.smtp_host.empty() ? json() : json(row.smtp_host);
  if (column == "smtp_username") return row.smtp_username.empty() ? json() : json(row.smtp_username);
  if (column == "smtp_port") return row.smtp_port ? json(*row.smtp_port) : json();
  return json();
}

void put_column(db::EmailConfiguration& row, const std::string& column, const std::string& setting, const json& value) {
  if (column == "smtp_port") {
    if (!value.is_null() && !value.is_number_integer())
      throw InputError("settings." + setting + " must be an integer");
    row.smtp_port = value.is_null() ? std::nullopt : std::optional<int>(value.get<int>());
    return;
  }
  if (!value.is_null() && !value.is_string()) throw InputError("settings." + setting + " must be a string");
  (column == "smtp_host" ? row.smtp_host : row.smtp_username) = value.is_null() ? "" : value.get<std::string>();
}

const std::string kOtherSecrets = "secrets_encrypted";

void seal_into(db::EmailConfiguration& row, const std::string& column, const std::string& plaintext,
               const crypto::SecretBox& box) {
  row.ciphertexts[column] = box.seal(plaintext, crypto::associated_data("email_configurations", column, row.id));
}

std::string open_column(const db::EmailConfiguration& row, const std::string& column, const crypto::SecretBox& box) {
  return box.open(row.ciphertexts.at(column), crypto::associated_data("email_configurations", column, row.id));
}

json other_secrets(const db::EmailConfiguration& row, const crypto::SecretBox& box) {
  return row.ciphertexts.count(kOtherSecrets) ? json::parse(open_column(row, kOtherSecrets, box)) : json::object();
}

// The column that mirrors secret or setting `name`, or "".
std::string column_of(const plugin_host::Manifest& manifest, const std::string& name, bool secret) {
  for (const auto& [column, target] : manifest.columns)
    if (target == name && plugin_host::is_secret_column(column) == secret) return column;
  return "";
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

// A value that goes into a header, an SMTP command or a URL: a CR or LF would start another.
void check_single_line(const std::string& field, const std::string& value) {
  for (const unsigned char c : value)
    if (c < 0x20 || c == 0x7f)
      throw InputError(field + " contains a control character (" + std::to_string(c) + "); it must be one line of text");
}

}  // namespace

bool is_email_address(const std::string& address) {
  static const std::regex pattern(R"(^[^@\s<>,;"]+@[^@\s<>,;"]+\.[^@\s<>,;"]+$)");
  if (address.size() > 254 || !std::regex_match(address, pattern)) return false;
  for (const unsigned char c : address)
    if (c < 0x20 || c == 0x7f) return false;
  const auto at = address.find('@');
  if (at > 64) return false;  // RFC 5321 4.5.3.1.1: a local part is at most 64 octets
  for (std::size_t start = at + 1;;) {  // ... and a domain's labels at most 63
    const auto dot = address.find('.', start);
    if ((dot == std::string::npos ? address.size() : dot) - start > 63) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

const plugin_host::Manifest& manifest_for(const std::string& provider, const plugin_host::PluginHost& plugins) {
  if (provider.empty()) throw InputError("provider is required: the email plugin's name, or give a DSN");
  const auto* plugin = plugins.find(provider);
  if (plugin == nullptr || plugin->manifest.kind != plugin_host::PluginKind::email) {
    std::vector<std::string> names;
    for (const auto* p : plugins.plugins())
      if (p->manifest.kind == plugin_host::PluginKind::email) names.push_back(p->manifest.name);
    throw InputError("no email plugin '" + provider + "' is installed (installed: " + joined(names) +
                     "); see `mailroom plugins list`");
  }
  return plugin->manifest;
}

json setting_value(const plugin_host::Manifest& manifest, const std::string& name, const std::string& text) {
  std::string type = "string";
  const json& schema = manifest.config_schema;
  if (schema.is_object() && schema.contains("properties") && schema["properties"].contains(name)) {
    const json& declared = schema["properties"][name].is_object() ? schema["properties"][name].value("type", json("string"))
                                                                  : json("string");
    if (declared.is_string()) type = declared.get<std::string>();
    else if (declared.is_array())
      for (const auto& t : declared)
        if (t.is_string() && t != "null") {
          type = t.get<std::string>();
          break;
        }
  }
  const auto refuse = [&](const char* what) -> json {
    throw InputError("settings." + name + " must be " + what + ", got '" + text + "'");
  };
  if (type == "integer") {
    long long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return refuse("an integer");
    return value;
  }
  if (type == "number") {
    try {
      std::size_t used = 0;
      const double value = std::stod(text, &used);
      if (used != text.size()) return refuse("a number");
      return value;
    } catch (const std::exception&) {
      return refuse("a number");
    }
  }
  if (type == "boolean") {
    if (text == "true") return true;
    if (text == "false") return false;
    return refuse("true or false");
  }
  return text;
}

Input parse_dsn(const std::string& dsn, const plugin_host::PluginHost& plugins) {
  // The DSN may hold a secret: errors describe its parts, never quote it.
  auto parsed = boost::urls::parse_uri(dsn);
  if (!parsed) throw InputError("the DSN is not a URL of the form scheme://user:password@host:port");
  const std::string scheme(parsed->scheme());
  const auto* plugin = plugins.find_by_scheme(scheme);
  if (plugin == nullptr) {
    std::vector<std::string> schemes;
    for (const auto* p : plugins.plugins())
      for (const auto& [s, mapping] : p->manifest.dsn) schemes.push_back(s + " (" + p->manifest.name + ")");
    throw InputError("no installed email plugin owns the DSN scheme '" + scheme + "' (schemes: " + joined(schemes) + ")");
  }
  const auto& manifest = plugin->manifest;
  const auto& mapping = manifest.dsn.at(scheme);
  Input in;
  in.provider = manifest.name;
  in.settings = mapping.defaults;

  const auto put = [&](const std::string& part, const std::string& value) {
    const auto target = mapping.parts.find(part);
    if (target == mapping.parts.end())
      throw InputError("the DSN has a " + part + ", which " + scheme + ":// DSNs do not take (see the plugin's docs)");
    if (plugin_host::declares_secret(manifest, target->second)) {
      in.secrets[target->second] = value;
      in.secret_from_dsn = true;
    } else {
      in.settings[target->second] = value;
    }
  };
  if (parsed->has_userinfo() && !parsed->user().empty()) put("user", std::string(parsed->user()));
  if (parsed->has_password()) put("password", std::string(parsed->password()));
  // Symfony Mailer's convention: the host "default" means the provider's own endpoint.
  if (const std::string host = parsed->host(); !host.empty() && host != "default") put("host", host);
  if (parsed->has_port()) {
    const auto port = parsed->port_number();
    if (port == 0) throw InputError("the DSN's port must be from 1 to 65535");
    const auto target = mapping.parts.find("port");
    if (target == mapping.parts.end()) throw InputError("the DSN has a port, which " + scheme + ":// DSNs do not take");
    in.settings[target->second] = port;
  }
  if (!parsed->path().empty() && parsed->path() != "/") throw InputError("the DSN has a path, which DSNs do not take");
  for (const auto& param : parsed->params()) {
    const std::string key(param.key);
    if (plugin_host::declares_secret(manifest, key))
      throw InputError("the DSN's query names the secret '" + key + "': give secrets as secrets, not in a URL");
    in.settings[key] = setting_value(manifest, key, std::string(param.value));
  }
  return in;
}

void apply(const Input& in, db::EmailConfiguration& row, const plugin_host::PluginHost& plugins,
           const crypto::SecretBox& box, bool creating) {
  if (creating) {
    if (in.provider.empty()) throw InputError("provider is required: the email plugin's name, or give a DSN");
    row.provider = in.provider;
  } else if (!in.provider.empty() && in.provider != row.provider) {
    throw InputError("provider cannot change (" + row.provider + "); remove the configuration and add a new one");
  }
  if (!in.plugin.empty()) row.plugin = in.plugin;
  const auto& manifest = manifest_for(row.plugin_name(), plugins);
  // What verify checked (credentials, the sender) is tied to these: a change unverifies.
  const auto verified_facts = [&] { return std::tuple(settings_of(row, manifest), row.ciphertexts, row.from_address); };
  const auto before = verified_facts();

  auto set = [](std::string& field, const std::string& value) {
    if (!value.empty()) field = value;
  };
  set(row.from_address, in.from_address);
  set(row.from_name, in.from_name);
  set(row.reply_to_address, in.reply_to_address);
  check_single_line("from_name", row.from_name);
  if (row.from_address.empty()) throw InputError("from: a sender address is required");
  if (!is_email_address(row.from_address)) throw InputError("from: '" + row.from_address + "' is not an email address");
  if (!row.reply_to_address.empty() && !is_email_address(row.reply_to_address))
    throw InputError("reply_to: '" + row.reply_to_address + "' is not an email address");

  if (in.send_window) {
    if (*in.send_window < 0 || *in.send_window > kMaxSendWindow)
      throw InputError("send_window must be from 1 to " + std::to_string(kMaxSendWindow) +
                       " (sends in flight), or 0 for what the plugin declares");
    row.send_window = *in.send_window == 0 ? std::nullopt : std::optional<int>(static_cast<int>(*in.send_window));
  }
  if (in.requests_per_second) {
    if (!(*in.requests_per_second >= 0) || *in.requests_per_second > kMaxRequestsPerSecond)
      throw InputError("requests_per_second must be above 0 and at most " +
                       std::to_string(static_cast<long>(kMaxRequestsPerSecond)) + ", or 0 for what the plugin declares");
    row.requests_per_second =
        *in.requests_per_second == 0 ? std::nullopt : std::optional<double>(*in.requests_per_second);
  }

  const auto limit = [&](const char* name, const std::optional<long long>& given, std::optional<int>& field) {
    if (!given) return;
    const auto& caps = std::get<EmailCapabilities>(manifest.parsed_capabilities);
    if (caps.quota == QuotaModel::none && *given != 0)
      throw InputError(std::string(name) + ": the plugin " + manifest.name +
                       " declares no sending quota, so there is no limit to set (docs/queue.md, the quota gate)");
    if (*given < 0 || *given > kMaxQuotaLimit)
      throw InputError(std::string(name) + " must be from 1 to " + std::to_string(kMaxQuotaLimit) +
                       " sends, or 0 for the plugin's default");
    field = *given == 0 ? std::nullopt : std::optional<int>(static_cast<int>(*given));
  };
  limit("daily_limit", in.daily_limit, row.daily_limit);
  limit("hourly_limit", in.hourly_limit, row.hourly_limit);
  if (in.list_unsubscribe) row.list_unsubscribe = *in.list_unsubscribe;
  if (in.unsubscribe_mailto) {
    if (!in.unsubscribe_mailto->empty() && !is_email_address(*in.unsubscribe_mailto))
      throw InputError("unsubscribe_mailto: '" + *in.unsubscribe_mailto + "' is not an email address");
    row.unsubscribe_mailto = *in.unsubscribe_mailto;
  }

  if (!in.settings.is_object()) throw InputError("settings must be an object");
  json settings = settings_of(row, manifest);
  settings.merge_patch(in.settings);
  for (const auto& [key, value] : settings.items())
    if (value.is_string()) check_single_line("settings." + key, value.get<std::string>());
  for (const auto& [column, target] : manifest.columns) {
    if (plugin_host::is_secret_column(column)) continue;
    put_column(row, column, target, settings.contains(target) ? settings[target] : json());
    settings.erase(target);
  }
  row.settings = std::move(settings);

  std::optional<json> others;
  for (const auto& [name, value] : in.secrets) {
    if (!plugin_host::declares_secret(manifest, name))
      throw InputError("unknown secret '" + name + "': plugin " + manifest.name + " declares " + joined(manifest.secrets));
    if (value.empty()) throw InputError("secret '" + name + "' is empty");
    if (const auto column = column_of(manifest, name, true); !column.empty()) {
      seal_into(row, column, value, box);
    } else {
      if (!others) others = other_secrets(row, box);
      (*others)[name] = value;
    }
  }
  if (others) seal_into(row, kOtherSecrets, others->dump(), box);
  if (!creating && verified_facts() != before) {
    row.is_verified = false;
    row.verify_unchecked.clear();
  }
}

json settings_of(const db::EmailConfiguration& row, const plugin_host::Manifest& manifest) {
  json settings = row.settings.is_object() ? row.settings : json::object();
  for (const auto& [column, target] : manifest.columns)
    if (!plugin_host::is_secret_column(column))
      if (json value = get_column(row, column); !value.is_null()) settings[target] = std::move(value);
  return settings;
}

std::map<std::string, std::string> secrets_of(const db::EmailConfiguration& row, const plugin_host::Manifest& manifest,
                                              const crypto::SecretBox& box) {
  std::map<std::string, std::string> out;
  for (const auto& [column, name] : manifest.columns)
    if (plugin_host::is_secret_column(column) && row.ciphertexts.count(column)) out[name] = open_column(row, column, box);
  const json others = other_secrets(row, box);  // must outlive items()
  for (const auto& [name, value] : others.items())
    if (value.is_string()) out[name] = value.get<std::string>();
  return out;
}

json view(const db::EmailConfiguration& row, const plugin_host::Manifest* manifest, const crypto::SecretBox* box) {
  json out{{"id", row.id},
           {"user_id", row.user_id},
           {"provider", row.provider},
           {"from_address", row.from_address},
           {"from_name", row.from_name},
           {"reply_to_address", row.reply_to_address},
           {"is_active", row.is_active},
           {"is_verified", row.is_verified},
           {"created_at", row.created_at},
           {"updated_at", row.updated_at}};
  if (!row.plugin.empty()) out["plugin"] = row.plugin;
  out["send_window"] = row.send_window ? json(*row.send_window) : json(nullptr);
  out["requests_per_second"] = row.requests_per_second ? json(*row.requests_per_second) : json(nullptr);
  out["daily_limit"] = row.daily_limit ? json(*row.daily_limit) : json(nullptr);
  out["hourly_limit"] = row.hourly_limit ? json(*row.hourly_limit) : json(nullptr);
  out["verify_unchecked"] = row.verify_unchecked;
  out["list_unsubscribe"] = row.list_unsubscribe;
  out["unsubscribe_mailto"] = row.unsubscribe_mailto.empty() ? json(nullptr) : json(row.unsubscribe_mailto);
  json secrets = json::object();
  if (manifest != nullptr) {
    out["settings"] = settings_of(row, *manifest);
    // A secret's name is data too (which of the declared ones are set); its value never shows.
    for (const auto& [column, sealed] : row.ciphertexts) {
      const std::string set = "(set, key " + crypto::SecretBox::key_id_of(sealed) + ")";
      const auto mirrored = manifest->columns.find(column);
      if (mirrored != manifest->columns.end()) {
        secrets[mirrored->second] = set;
      } else if (column == kOtherSecrets && box != nullptr) {
        const json others = other_secrets(row, *box);  // must outlive items()
        for (const auto& [name, value] : others.items()) secrets[name] = set;
      } else {
        secrets[column] = set;
      }
    }
  } else {
    json settings = row.settings;
    for (const char* column : {"smtp_host", "smtp_port", "smtp_username"})
      if (json value = get_column(row, column); !value.is_null()) settings[column] = std::move(value);
    out["settings"] = settings;
    for (const auto& [column, sealed] : row.ciphertexts)
      secrets[column] = "(set, key " + crypto::SecretBox::key_id_of(sealed) + ")";
  }
  out["secrets"] = secrets;
  return out;
}

}  // namespace mailroom::email_config
