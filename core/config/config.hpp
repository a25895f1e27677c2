// mailroom's own settings: one JSON file, every key overridable by a MAILROOM_* variable.
//
//   key                  variable                       default
//   database.url         MAILROOM_DATABASE_URL          "" (embedded cluster under ./.mailroom/)
//   plugins.dir          MAILROOM_PLUGINS_DIR           next to the binary (see docs/configuration.md)
//   plugins.enabled      MAILROOM_PLUGINS_ENABLED       [] = every plugin found (comma-separated in env)
//   api.listen           MAILROOM_API_LISTEN            "127.0.0.1:8025"
//   api.public_url       MAILROOM_API_PUBLIC_URL        "" (https://HOST: where recipients reach the API)
//   api.max_body_bytes   MAILROOM_API_MAX_BODY_BYTES    33554432 (32 MiB: attachments travel base64 in bodies)
//   workers.count        MAILROOM_WORKERS_COUNT         256 (sends in flight per host)
//   workers.window       MAILROOM_WORKERS_WINDOW        0 (sends in flight per configuration: the plugin's)
//   workers.batch_size   MAILROOM_WORKERS_BATCH_SIZE    100
//   master_key.file      MAILROOM_MASTER_KEY_FILE       ""
//   log.level            MAILROOM_LOG_LEVEL             "info"
//   dns.resolver         MAILROOM_DNS_RESOLVER          "" (the system's)
//   webhooks.*           MAILROOM_WEBHOOKS_*            see docs/webhooks.md
// MAILROOM_MASTER_KEY holds a master key itself and exists only as a variable, never in a file.
// Precedence: variable > file > default. Unknown keys, unknown MAILROOM_* variables and
// wrong types are errors naming the key and where it came from.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mailroom::config {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr const char* kDefaultConfigFile = "/etc/mailroom/mailroom.json";

struct Config {
  std::string database_url;
  std::filesystem::path plugins_dir;
  std::vector<std::string> plugins_enabled;
  std::string api_listen = "127.0.0.1:8025";
  std::string api_tls_cert_file;  // both set: the API serves HTTPS
  std::string api_tls_key_file;
  long long api_max_body_bytes = 32LL * 1024 * 1024;
  std::string api_public_url;  // one-click unsubscribe links point here; empty: none are offered
  int workers_count = 256;  // sends in flight on this host, over every configuration
  int workers_window = 0;   // sends in flight per configuration; 0: what its plugin declares
  int workers_batch_size = 100;
  std::filesystem::path master_key_file;
  bool master_key_from_env = false;  // MAILROOM_MASTER_KEY is set (its value is not kept here)
  std::string log_level = "info";
  std::string dns_resolver;  // "ADDRESS[:PORT],..." for DNS validation; empty: the system's
  // Event webhooks (docs/webhooks.md). Plain http:// and targets in loopback, private,
  // link-local or metadata networks are refused unless allowed here (development only).
  bool webhooks_allow_http = false;
  bool webhooks_allow_private_networks = false;
  int webhooks_timeout_seconds = 10;  // per attempt
  int webhooks_concurrency = 100;     // deliveries in flight per host
  // Delays before each retry: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
  // (about 27.6 hours in all, after which the event is failed).
  std::vector<int> webhooks_retry_schedule_seconds = {5, 300, 1800, 7200, 18000, 36000, 36000};
  int webhooks_pause_after_hours = 120;  // a subscription failing every attempt this long is paused; 0: never

  // Where each key's value came from: "default", "file /etc/mailroom/mailroom.json",
  // or "environment MAILROOM_X".
  std::map<std::string, std::string> sources;
};

struct LoadOptions {
  // The file to read. Empty: kDefaultConfigFile if it exists, else defaults only.
  std::optional<std::filesystem::path> file;
  // The environment to read; tests pass their own. Empty optional: the process's.
  std::optional<std::map<std::string, std::string>> environment;
  // plugins.dir when neither file nor environment sets it.
  std::filesystem::path default_plugins_dir;
};

// Throws ConfigError.
Config load(const LoadOptions& options);

// The effective configuration as JSON, with secrets (a database URL's password, the
// master key) redacted. With `with_sources`, each value is {"value": ..., "source": ...}.
nlohmann::json to_json(const Config& config, bool with_sources = false);

// The process environment as a map (for LoadOptions::environment).
std::map<std::string, std::string> process_environment();

}  // namespace mailroom::config
