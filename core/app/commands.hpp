// Private to core/app: what the command groups share. Each add_*_commands registers its
// subcommands on the CLI11 app; a parsed subcommand stores its action in `action`.
#pragma once

#include "config.hpp"
#include "crypto.hpp"
#include "plugin_host.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace mailroom::app {

struct Globals {
  std::string config_file;
};

using Action = std::function<int()>;

config::Config load_config(const Globals& globals);

// The configured database URL, or the embedded cluster's (started if needed).
std::string database_url(const config::Config& config);

// Loads the configured plugin directory's enabled plugins (all, when none are listed), as
// `serve` does; refusals are logged as warnings.
void load_plugins(plugin_host::PluginHost& host, const config::Config& config);

// The master keys: MAILROOM_MASTER_KEY, else master_key.file, else (embedded database only)
// ./.mailroom/master.key, created on first use.
crypto::KeyRing load_key_ring(const config::Config& config);

// A secret given on stdin, in a file or in an environment variable (at most one of them; never
// an option value, which other users of the machine can see). nullopt: none was given.
// Trailing line breaks are dropped. Throws std::invalid_argument naming the source at fault.
struct SecretSource {
  bool from_stdin = false;
  std::string file;
  std::string env;
};
std::optional<std::string> read_secret(const SecretSource& source);

// Secrets by name from repeatable `--secret NAME[=SOURCE]` options: NAME alone reads stdin
// (one such at most), NAME=file:PATH a file, NAME=env:VAR a variable. A value itself is
// never an option (other users of the machine can see options). Throws std::invalid_argument.
std::map<std::string, std::string> read_named_secrets(const std::vector<std::string>& options);

void add_plugin_commands(CLI::App& app, const Globals& globals, Action& action);
void add_config_commands(CLI::App& app, const Globals& globals, Action& action);
void add_database_commands(CLI::App& app, const Globals& globals, Action& action);
void add_key_commands(CLI::App& app, const Globals& globals, Action& action);
void add_user_commands(CLI::App& app, const Globals& globals, Action& action);
void add_email_config_commands(CLI::App& app, const Globals& globals, Action& action);
void add_queue_commands(CLI::App& app, const Globals& globals, Action& action);
void add_token_commands(CLI::App& app, const Globals& globals, Action& action);
void add_dns_commands(CLI::App& app, const Globals& globals, Action& action);
void add_webhook_commands(CLI::App& app, const Globals& globals, Action& action);

}  // namespace mailroom::app
