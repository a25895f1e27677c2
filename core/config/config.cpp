#include "config.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <charconv>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>

extern char** environ;

namespace mailroom::config {
namespace {

using nlohmann::json;

enum class Type { string, integer, boolean, string_list, integer_list };

struct Key {
  const char* name;  // "workers.count"
  const char* env;   // "MAILROOM_WORKERS_COUNT"
  Type type;
  // Checks and stores a value of the right JSON type; returns an error text or "".
  std::function<std::string(Config&, const json&)> set;
  std::function<json(const Config&)> get;
};

// The base URL recipients reach the API at (one-click unsubscribe links): why it cannot serve, or "".
std::string public_url_problem(const std::string& url) {
  static const std::regex shape(R"(^(https?)://([^/:?#]+|\[[0-9a-fA-F:]+\])(:[0-9]{1,5})?/?$)");
  std::smatch m;
  if (!std::regex_match(url, m, shape)) return "is not a base URL such as https://mail.example.com";
  // RFC 8058 3.1: the one-click URL must be HTTPS; plain HTTP only to this machine, for tests.
  const std::string host = m[2];
  if (m[1] == "http" && host != "127.0.0.1" && host != "localhost" && host != "[::1]")
    return "must be https:// (RFC 8058); http:// only for localhost";
  return "";
}

std::string check_range(long long v, long long lo, long long hi) {
  if (v < lo || v > hi) return "must be between " + std::to_string(lo) + " and " + std::to_string(hi);
  return "";
}

std::string check_database_url(const std::string& url) {
  if (url.empty()) return "";
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed || (parsed->scheme() != "postgresql" && parsed->scheme() != "postgres"))
    return "must be a postgresql:// URL (or empty for the embedded database)";
  return "";
}

std::string check_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return "must be HOST:PORT, e.g. 127.0.0.1:8025";
  if (listen.substr(0, colon).find(':') != std::string::npos && listen.front() != '[')
    return "must put an IPv6 address in brackets, e.g. [::1]:8025";
  int port = -1;
  const char* begin = listen.data() + colon + 1;
  const char* end = listen.data() + listen.size();
  auto [ptr, ec] = std::from_chars(begin, end, port);
  if (ec != std::errc() || ptr != end || port < 0 || port > 65535)
    return "must be HOST:PORT with a port from 0 to 65535";
  return "";
}

std::string redact_database_url(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed || !parsed->has_password()) return url;
  boost::urls::url copy(*parsed);
  copy.set_encoded_password("***");
  return std::string(copy.buffer());
}

const std::vector<Key>& keys() {
  static const std::vector<Key> table = {
      {"database.url", "MAILROOM_DATABASE_URL", Type::string,
       [](Config& c, const json& v) {
         c.database_url = v.get<std::string>();
         return check_database_url(c.database_url);
       },
       [](const Config& c) { return json(redact_database_url(c.database_url)); }},
      {"plugins.dir", "MAILROOM_PLUGINS_DIR", Type::string,
       [](Config& c, const json& v) {
         c.plugins_dir = v.get<std::string>();
         return c.plugins_dir.empty() ? std::string("must not be empty") : std::string();
       },
       [](const Config& c) { return json(c.plugins_dir.string()); }},
      {"plugins.enabled", "MAILROOM_PLUGINS_ENABLED", Type::string_list,
       [](Config& c, const json& v) {
         c.plugins_enabled = v.get<std::vector<std::string>>();
         return std::string();
       },
       [](const Config& c) { return json(c.plugins_enabled); }},
      {"api.listen", "MAILROOM_API_LISTEN", Type::string,
       [](Config& c, const json& v) {
         c.api_listen = v.get<std::string>();
         return check_listen(c.api_listen);
       },
       [](const Config& c) { return json(c.api_listen); }},
      {"api.public_url", "MAILROOM_API_PUBLIC_URL", Type::string,
       [](Config& c, const json& v) {
         c.api_public_url = v.get<std::string>();
         return c.api_public_url.empty() ? std::string() : public_url_problem(c.api_public_url);
       },
       [](const Config& c) { return json(c.api_public_url); }},
      {"api.max_body_bytes", "MAILROOM_API_MAX_BODY_BYTES", Type::integer,
       [](Config& c, const json& v) {
         c.api_max_body_bytes = v.get<long long>();
         return check_range(c.api_max_body_bytes, 1024, 1024LL * 1024 * 1024);
       },
       [](const Config& c) { return json(c.api_max_body_bytes); }},
      {"api.tls_cert_file", "MAILROOM_API_TLS_CERT_FILE", Type::string,
       [](Config& c, const json& v) {
         c.api_tls_cert_file = v.get<std::string>();
         return std::string();
       },
       [](const Config& c) { return json(c.api_tls_cert_file); }},
      {"api.tls_key_file", "MAILROOM_API_TLS_KEY_FILE", Type::string,
       [](Config& c, const json& v) {
         c.api_tls_key_file = v.get<std::string>();
         return std::string();
       },
       [](const Config& c) { return json(c.api_tls_key_file); }},
      {"workers.count", "MAILROOM_WORKERS_COUNT", Type::integer,
       [](Config& c, const json& v) {
         const auto n = v.get<long long>();
         c.workers_count = static_cast<int>(n);
         return check_range(n, 1, 4096);
       },
       [](const Config& c) { return json(c.workers_count); }},
      {"workers.window", "MAILROOM_WORKERS_WINDOW", Type::integer,
       [](Config& c, const json& v) {
         const auto n = v.get<long long>();
         c.workers_window = static_cast<int>(n);
         return check_range(n, 0, 1000);
       },
       [](const Config& c) { return json(c.workers_window); }},
      {"workers.batch_size", "MAILROOM_WORKERS_BATCH_SIZE", Type::integer,
       [](Config& c, const json& v) {
         const auto n = v.get<long long>();
         c.workers_batch_size = static_cast<int>(n);
         return check_range(n, 1, 10000);
       },
       [](const Config& c) { return json(c.workers_batch_size); }},
      {"master_key.file", "MAILROOM_MASTER_KEY_FILE", Type::string,
       [](Config& c, const json& v) {
         c.master_key_file = v.get<std::string>();
         return std::string();
       },
       [](const Config& c) { return json(c.master_key_file.string()); }},
      {"log.level", "MAILROOM_LOG_LEVEL", Type::string,
       [](Config& c, const json& v) {
         c.log_level = v.get<std::string>();
         for (const char* level : {"debug", "info", "warn", "error"})
           if (c.log_level == level) return std::string();
         return std::string("must be one of debug, info, warn, error");
       },
       [](const Config& c) { return json(c.log_level); }},
      {"dns.resolver", "MAILROOM_DNS_RESOLVER", Type::string,
       [](Config& c, const json& v) {
         c.dns_resolver = v.get<std::string>();
         static const std::regex server(R"(^(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$)");
         std::size_t start = 0;
         while (!c.dns_resolver.empty()) {
           const auto comma = c.dns_resolver.find(',', start);
           const std::string one = c.dns_resolver.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
           if (!std::regex_match(one, server))
             return "'" + one + "' is not ADDRESS[:PORT] (IPv6 in brackets), comma-separated";
           if (comma == std::string::npos) break;
           start = comma + 1;
         }
         return std::string();
       },
       [](const Config& c) { return json(c.dns_resolver); }},
      {"webhooks.allow_http", "MAILROOM_WEBHOOKS_ALLOW_HTTP", Type::boolean,
       [](Config& c, const json& v) {
         c.webhooks_allow_http = v.get<bool>();
         return std::string();
       },
       [](const Config& c) { return json(c.webhooks_allow_http); }},
      {"webhooks.allow_private_networks", "MAILROOM_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", Type::boolean,
       [](Config& c, const json& v) {
         c.webhooks_allow_private_networks = v.get<bool>();
         return std::string();
       },
       [](const Config& c) { return json(c.webhooks_allow_private_networks); }},
      {"webhooks.timeout_seconds", "MAILROOM_WEBHOOKS_TIMEOUT_SECONDS", Type::integer,
       [](Config& c, const json& v) {
         c.webhooks_timeout_seconds = v.get<int>();
         return check_range(c.webhooks_timeout_seconds, 1, 60);
       },
       [](const Config& c) { return json(c.webhooks_timeout_seconds); }},
      {"webhooks.concurrency", "MAILROOM_WEBHOOKS_CONCURRENCY", Type::integer,
       [](Config& c, const json& v) {
         c.webhooks_concurrency = v.get<int>();
         return check_range(c.webhooks_concurrency, 1, 1000);
       },
       [](const Config& c) { return json(c.webhooks_concurrency); }},
      {"webhooks.retry_schedule_seconds", "MAILROOM_WEBHOOKS_RETRY_SCHEDULE_SECONDS", Type::integer_list,
       [](Config& c, const json& v) {
         c.webhooks_retry_schedule_seconds = v.get<std::vector<int>>();
         if (c.webhooks_retry_schedule_seconds.size() > 20) return std::string("must hold at most 20 delays");
         for (int delay : c.webhooks_retry_schedule_seconds)
           if (delay < 1 || delay > 7 * 86400) return std::string("must hold delays from 1 to 604800 seconds");
         return std::string();
       },
       [](const Config& c) { return json(c.webhooks_retry_schedule_seconds); }},
      {"webhooks.pause_after_hours", "MAILROOM_WEBHOOKS_PAUSE_AFTER_HOURS", Type::integer,
       [](Config& c, const json& v) {
         c.webhooks_pause_after_hours = v.get<int>();
         return check_range(c.webhooks_pause_after_hours, 0, 24 * 90);
       },
       [](const Config& c) { return json(c.webhooks_pause_after_hours); }},
  };
  return table;
}

// Variables that are not keys of the file.
constexpr const char* kMasterKeyVariable = "MAILROOM_MASTER_KEY";

const char* type_name(Type type) {
  switch (type) {
    case Type::string: return "a string";
    case Type::integer: return "an integer";
    case Type::boolean: return "true or false";
    case Type::string_list: return "an array of strings";
    case Type::integer_list: return "an array of integers";
  }
  return "a value";
}

bool has_type(const json& v, Type type) {
  switch (type) {
    case Type::string: return v.is_string();
    case Type::integer: return v.is_number_integer();
    case Type::boolean: return v.is_boolean();
    case Type::integer_list:
      if (!v.is_array()) return false;
      for (const auto& item : v)
        if (!item.is_number_integer()) return false;
      return true;
    case Type::string_list:
      if (!v.is_array()) return false;
      for (const auto& item : v)
        if (!item.is_string()) return false;
      return true;
  }
  return false;
}

std::string json_type(const json& v) {
  if (v.is_number_integer()) return "integer";
  if (v.is_number_float()) return "number";
  return v.type_name();
}

// Line and column of a byte offset, for a parse error that does not quote the file.
std::string position(const std::string& text, std::size_t byte) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

void apply_file(Config& config, const std::filesystem::path& file) {
  const std::string origin = "config file " + file.string();
  std::ifstream in(file);
  if (!in) throw ConfigError(origin + ": cannot be read");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  json document;
  try {
    document = json::parse(text);
  } catch (const json::parse_error& e) {
    throw ConfigError(origin + ": invalid JSON at " + position(text, e.byte));
  } catch (const json::out_of_range&) {  // found by tests/fuzz: it escaped as an unexplained exception
    throw ConfigError(origin + ": holds a number too large to represent");
  }
  if (!document.is_object()) throw ConfigError(origin + ": must hold a JSON object");

  for (const auto& [section, members] : document.items()) {
    bool section_known = false;
    for (const auto& key : keys())
      section_known = section_known || std::string_view(key.name).starts_with(section + ".");
    if (!section_known) throw ConfigError(origin + ": unknown key '" + section + "'");
    if (!members.is_object())
      throw ConfigError(origin + ": key '" + section + "' must be an object, got " + json_type(members));
    for (const auto& [member, value] : members.items()) {
      const std::string name = section + "." + member;
      const Key* key = nullptr;
      for (const auto& k : keys())
        if (name == k.name) key = &k;
      if (key == nullptr) throw ConfigError(origin + ": unknown key '" + name + "'");
      if (!has_type(value, key->type))
        throw ConfigError(origin + ": key '" + name + "' must be " + type_name(key->type) + ", got " +
                          json_type(value));
      if (auto error = key->set(config, value); !error.empty())
        throw ConfigError(origin + ": key '" + name + "' " + error);
      config.sources[name] = origin.substr(std::string("config ").size());
    }
  }
}

json parse_variable(const Key& key, const std::string& text) {
  const std::string origin = std::string("environment variable ") + key.env;
  switch (key.type) {
    case Type::string: return text;
    case Type::integer: {
      long long n = 0;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc() || ptr != text.data() + text.size() || text.empty())
        throw ConfigError(origin + " (key '" + key.name + "') must be an integer");
      return n;
    }
    case Type::boolean:
      if (text == "true" || text == "1") return true;
      if (text == "false" || text == "0") return false;
      throw ConfigError(origin + " (key '" + key.name + "') must be true or false");
    case Type::string_list:
    case Type::integer_list: {
      json list = json::array();
      std::stringstream in(text);
      for (std::string item; std::getline(in, item, ',');) {
        while (!item.empty() && item.front() == ' ') item.erase(0, 1);
        while (!item.empty() && item.back() == ' ') item.pop_back();
        if (item.empty()) continue;
        if (key.type == Type::string_list) {
          list.push_back(item);
          continue;
        }
        long long n = 0;
        auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), n);
        if (ec != std::errc() || ptr != item.data() + item.size())
          throw ConfigError(origin + " (key '" + key.name + "') must be integers separated by commas");
        list.push_back(n);
      }
      return list;
    }
  }
  return text;
}

void apply_environment(Config& config, const std::map<std::string, std::string>& env) {
  for (const auto& [name, value] : env) {
    if (!name.starts_with("MAILROOM_")) continue;
    if (name == kMasterKeyVariable) {
      config.master_key_from_env = true;
      config.sources["master_key.env"] = std::string("environment ") + kMasterKeyVariable;
      continue;
    }
    const Key* key = nullptr;
    for (const auto& k : keys())
      if (name == k.env) key = &k;
    if (key == nullptr) {
      std::string known = kMasterKeyVariable;
      for (const auto& k : keys()) known += std::string(", ") + k.env;
      throw ConfigError("environment variable " + name + " is not a mailroom setting (known: " + known + ")");
    }
    if (auto error = key->set(config, parse_variable(*key, value)); !error.empty())
      throw ConfigError("environment variable " + name + " (key '" + key->name + "') " + error);
    config.sources[key->name] = "environment " + name;
  }
}

}  // namespace

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    const auto equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    env.emplace(text.substr(0, equals), text.substr(equals + 1));
  }
  return env;
}

Config load(const LoadOptions& options) {
  Config config;
  config.plugins_dir = options.default_plugins_dir;
  for (const auto& key : keys()) config.sources[key.name] = "default";

  std::optional<std::filesystem::path> file = options.file;
  if (!file) {
    std::error_code ec;
    if (std::filesystem::exists(kDefaultConfigFile, ec)) file = kDefaultConfigFile;
  } else if (!std::filesystem::exists(*file)) {
    throw ConfigError("config file " + file->string() + ": does not exist");
  }
  if (file) apply_file(config, *file);
  apply_environment(config, options.environment ? *options.environment : process_environment());
  return config;
}

json to_json(const Config& config, bool with_sources) {
  json out = json::object();
  auto put = [&](const std::string& name, json value) {
    const auto dot = name.find('.');
    const std::string section = name.substr(0, dot), member = name.substr(dot + 1);
    if (with_sources) {
      auto source = config.sources.find(name);
      value = json{{"value", std::move(value)},
                   {"source", source == config.sources.end() ? "default" : source->second}};
    }
    out[section][member] = std::move(value);
  };
  for (const auto& key : keys()) put(key.name, key.get(config));
  put("master_key.env", config.master_key_from_env ? json("(set, redacted)") : json(nullptr));
  return out;
}

}  // namespace mailroom::config
