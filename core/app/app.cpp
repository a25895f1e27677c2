#include "app.hpp"

#include "commands.hpp"
#include <cstdlib>
#include <unistd.h>
#include <sstream>
#include <fstream>
#include "embedded_db.hpp"
#include "plugin_host.hpp"

#include <CLI/CLI.hpp>
#include <boost/dll/runtime_symbol_info.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <iomanip>
#include <map>
#include <iostream>

#ifndef MAILROOM_VERSION
#error "MAILROOM_VERSION must be defined by the build"
#endif

namespace mailroom::app {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// In the build tree plugins sit in <bindir>/plugins; once installed, in
// <prefix>/<libdir>/mailroom/plugins next to <prefix>/bin/mailroom (libdir as the build
// installed it, e.g. lib or lib/x86_64-linux-gnu).
fs::path default_plugins_dir() {
  const fs::path bin = boost::dll::program_location().parent_path();
  if (fs::is_directory(bin / "plugins")) return bin / "plugins";
  return bin.parent_path() / MAILROOM_INSTALL_PLUGINDIR;
}

// The manifest's DSN schemes as written: {"smtp": {"user": "username", ..., "defaults": {...}}}.
json dsn_json(const plugin_host::Manifest& m) {
  json out = json::object();
  for (const auto& [scheme, mapping] : m.dsn) {
    json one(mapping.parts);
    if (!mapping.defaults.empty()) one["defaults"] = mapping.defaults;
    out[scheme] = one;
  }
  return out;
}

json manifest_json(const plugin_host::Plugin& plugin) {
  const auto& m = plugin.manifest;
  return json{{"name", m.name},
              {"kind", plugin_host::to_string(m.kind)},
              {"version", m.version},
              {"description", m.description},
              {"abi_version", m.abi_version},
              {"toolchain", m.toolchain},
              {"file", m.file.string()},
              {"enabled", plugin.loaded},
              {"endpoint", m.endpoint},
              {"secrets", m.secrets},
              {"dsn", dsn_json(m)},
              {"columns", m.columns},
              {"capabilities", m.capabilities},
              {"config_schema", m.config_schema}};
}

void print_plugin(const plugin_host::Plugin& plugin) {
  const auto& m = plugin.manifest;
  std::cout << m.name << "  " << plugin_host::to_string(m.kind) << "  " << m.version << "  ABI "
            << m.abi_version << (plugin.loaded ? "" : "  (not enabled)") << "\n"
            << "  file:         " << m.file.string() << "\n"
            << "  description:  " << m.description << "\n"
            << "  toolchain:    " << m.toolchain << "\n"
            << "  capabilities: " << m.capabilities.dump() << "\n"
            << "  secrets:      " << json(m.secrets).dump() << "\n"
            << (m.dsn.empty() ? "" : "  dsn:          " + dsn_json(m).dump() + "\n")
            << (m.columns.empty() ? "" : "  columns:      " + json(m.columns).dump() + "\n")
            << "  config:       " << m.config_schema.dump() << "\n";
}

int plugins_list(const Globals& globals, bool as_json) {
  const auto config = load_config(globals);
  if (!fs::is_directory(config.plugins_dir)) {
    std::cerr << "mailroom: plugin directory " << config.plugins_dir.string()
              << " does not exist (set plugins.dir or MAILROOM_PLUGINS_DIR)\n";
    return 1;
  }
  plugin_host::PluginHost host;
  const std::set<std::string> enabled(config.plugins_enabled.begin(), config.plugins_enabled.end());
  const auto refusals = host.load_directory(config.plugins_dir, enabled);
  int status = 0;
  for (const auto& name : enabled) {
    if (host.find(name) == nullptr) {
      std::cerr << "mailroom: enabled plugin '" << name << "' was not found in "
                << config.plugins_dir.string() << "\n";
      status = 1;
    }
  }
  if (as_json) {
    json out{{"plugins_dir", config.plugins_dir.string()}, {"plugins", json::array()}, {"refused", json::array()}};
    for (const auto* plugin : host.plugins()) out["plugins"].push_back(manifest_json(*plugin));
    for (const auto& r : refusals) out["refused"].push_back({{"file", r.file.string()}, {"message", r.message}});
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << host.plugins().size() << " plugin(s) in " << config.plugins_dir.string() << "\n";
    for (const auto* plugin : host.plugins()) print_plugin(*plugin);
  }
  for (const auto& r : refusals) std::cerr << "refused: " << r.message << "\n";
  return status;
}

int plugins_check(const std::string& file) {
  plugin_host::PluginHost host;
  try {
    const auto& plugin = host.load(file);
    std::cout << "ok: " << file << " is a loadable " << plugin_host::to_string(plugin.manifest.kind)
              << " plugin\n";
    print_plugin(plugin);
    return 0;
  } catch (const plugin_host::PluginRefused& e) {
    std::cerr << "refused: " << e.what() << "\n";
    return 1;
  }
}

int config_show(const Globals& globals, bool with_sources) {
  std::cout << config::to_json(load_config(globals), with_sources).dump(2) << "\n";
  return 0;
}

}  // namespace

config::Config load_config(const Globals& globals) {
  config::LoadOptions options;
  if (!globals.config_file.empty()) options.file = globals.config_file;
  options.default_plugins_dir = default_plugins_dir();
  auto config = config::load(options);
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  return config;
}

std::string database_url(const config::Config& config) {
  if (!config.database_url.empty()) return config.database_url;
  return embedded_db::start(embedded_db::kDefaultRoot, std::cerr);
}

void load_plugins(plugin_host::PluginHost& host, const config::Config& config) {
  const std::set<std::string> enabled(config.plugins_enabled.begin(), config.plugins_enabled.end());
  for (const auto& r : host.load_directory(config.plugins_dir, enabled)) spdlog::warn("refused: {}", r.message);
}

void add_plugin_commands(CLI::App& app, const Globals& globals, Action& action) {
  auto* plugins = app.add_subcommand("plugins", "Inspect provider plugins");
  plugins->require_subcommand(1);
  auto list_json = std::make_shared<bool>(false);
  auto* list = plugins->add_subcommand(
      "list", "List the plugins in the plugin directory with their manifests; refusals go to stderr");
  list->add_flag("--json", *list_json, "Print JSON instead of text");
  list->callback([&, list_json] { action = [&, list_json] { return plugins_list(globals, *list_json); }; });
  auto check_file = std::make_shared<std::string>();
  auto* check = plugins->add_subcommand(
      "check", "Check that FILE is a plugin this host loads (manifest, ABI, toolchain, kind, symbols)");
  check->add_option("FILE", *check_file, "Plugin file (.so)")->required();
  check->callback([&, check_file] { action = [check_file] { return plugins_check(*check_file); }; });
}

void add_config_commands(CLI::App& app, const Globals& globals, Action& action) {
  auto* config_cmd = app.add_subcommand("config", "Inspect the configuration");
  config_cmd->require_subcommand(1);
  auto with_sources = std::make_shared<bool>(false);
  auto* show = config_cmd->add_subcommand("show", "Print the effective configuration as JSON, secrets redacted");
  show->add_flag("--sources", *with_sources, "Show where each value came from");
  show->callback([&, with_sources] { action = [&, with_sources] { return config_show(globals, *with_sources); }; });
}

std::optional<std::string> read_secret(const SecretSource& source) {
  const int sources = (source.from_stdin ? 1 : 0) + (source.file.empty() ? 0 : 1) + (source.env.empty() ? 0 : 1);
  if (sources > 1) throw std::invalid_argument("give the secret one way: --secret-stdin, --secret-file or --secret-env");
  std::string secret;
  if (source.from_stdin) {
    if (::isatty(0)) std::cerr << "secret: ";
    std::stringstream buffer;
    buffer << std::cin.rdbuf();
    secret = buffer.str();
  } else if (!source.file.empty()) {
    std::ifstream in(source.file);
    if (!in) throw std::invalid_argument("cannot read secret file " + source.file);
    std::stringstream buffer;
    buffer << in.rdbuf();
    secret = buffer.str();
  } else if (!source.env.empty()) {
    const char* value = std::getenv(source.env.c_str());
    if (value == nullptr) throw std::invalid_argument("environment variable " + source.env + " is not set");
    secret = value;
  } else {
    return std::nullopt;
  }
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  return secret;
}

std::map<std::string, std::string> read_named_secrets(const std::vector<std::string>& options) {
  std::map<std::string, std::string> out;
  bool stdin_taken = false;
  for (const auto& option : options) {
    const auto eq = option.find('=');
    const std::string name = option.substr(0, eq);
    if (name.empty()) throw std::invalid_argument("--secret takes NAME, NAME=file:PATH or NAME=env:VAR");
    if (out.contains(name)) throw std::invalid_argument("--secret " + name + " is given twice");
    SecretSource source;
    if (eq == std::string::npos) {
      if (stdin_taken) throw std::invalid_argument("only one --secret can read stdin; give the others as NAME=file:PATH or NAME=env:VAR");
      stdin_taken = true;
      source.from_stdin = true;
    } else if (const std::string where = option.substr(eq + 1); where.starts_with("file:")) {
      source.file = where.substr(5);
    } else if (where.starts_with("env:")) {
      source.env = where.substr(4);
    } else {
      // Never echo what follows '=': it may be the secret itself, typed where it should not be.
      throw std::invalid_argument("--secret " + name + "=... must be file:PATH or env:VAR (a secret's value is never an option)");
    }
    out[name] = *read_secret(source);
  }
  return out;
}

int run(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("mailroom"));

  CLI::App app{"mailroom: a self-hosted email relay and email-DNS manager.\n"
               "Providers are plugins; see `mailroom plugins list`.",
               "mailroom"};
  app.require_subcommand(1);
  Globals globals;
  app.add_option("-c,--config", globals.config_file,
                 std::string("Configuration file (default: ") + config::kDefaultConfigFile +
                     " if it exists). Every key can be overridden by a MAILROOM_* variable.");
  app.set_version_flag("--version", std::string("mailroom ") + MAILROOM_VERSION + " (plugin ABI " +
                                        std::to_string(kAbiVersion) + ", toolchain " + kToolchainTag + ")");

  Action action;
  add_plugin_commands(app, globals, action);
  add_config_commands(app, globals, action);
  add_database_commands(app, globals, action);
  add_key_commands(app, globals, action);
  add_user_commands(app, globals, action);
  add_email_config_commands(app, globals, action);
  add_queue_commands(app, globals, action);
  add_token_commands(app, globals, action);
  add_dns_commands(app, globals, action);
  add_webhook_commands(app, globals, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help and --version exit 0; usage errors 2
  }

  if (!action) return 2;
  try {
    return action();
  } catch (const std::exception& e) {
    std::cerr << "mailroom: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace mailroom::app
