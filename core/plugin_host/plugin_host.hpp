// Finds, checks, loads and instantiates provider plugins.
//
// A plugin file is checked before any of its code runs: its manifest is read from the
// ".mailroom_manifest" ELF section and its exports from Boost.DLL's "mailroom" section.
// A mismatch (ABI version, toolchain, kind, duplicate name, not a plugin, bad manifest) is
// refused with one message that names the file and both values. Only then is the library
// opened (RTLD_NOW | RTLD_LOCAL). Libraries are never unloaded while the host runs: each
// provider object holds its library.
#pragma once

#include <mailroom/plugin.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace mailroom::plugin_host {

enum class PluginKind { email, dns };
std::string_view to_string(PluginKind kind);

// A file the host will not load; what() names the file and the reason.
class PluginRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A plugin could not be instantiated (unknown name, wrong kind, invalid configuration,
// factory failure); what() names the plugin.
class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How one DSN scheme's URL becomes a configuration (manifest "dsn").
struct DsnScheme {
  std::map<std::string, std::string> parts;  // "user" | "password" | "host" | "port" -> setting or secret
  nlohmann::json defaults = nlohmann::json::object();  // settings the scheme implies
};

struct Manifest {
  std::filesystem::path file;
  int abi_version = 0;
  std::string toolchain;
  PluginKind kind = PluginKind::email;
  std::string name;
  std::string version;
  std::string description;
  std::string endpoint;
  nlohmann::json config_schema;
  std::vector<std::string> secrets;
  std::map<std::string, DsnScheme> dsn;        // scheme -> its mapping (email plugins)
  std::map<std::string, std::string> columns;  // seed column -> setting or secret it mirrors
  std::string credential_column;  // the seed column that keeps its CredentialCache; "": none
  nlohmann::json capabilities;  // as declared, validated
  std::variant<EmailCapabilities, DnsCapabilities> parsed_capabilities;
};

// Whether `name` is a property of the manifest's config_schema (a setting), or a declared secret.
bool declares_setting(const Manifest& manifest, const std::string& name);
bool declares_secret(const Manifest& manifest, const std::string& name);

// The seed's columns that hold a secret ("columns" maps them to a secret, the others to a
// setting) end in "_encrypted".
inline bool is_secret_column(std::string_view column) { return column.ends_with("_encrypted"); }

// Reads and checks a plugin file's manifest without loading it. Throws PluginRefused.
Manifest read_manifest(const std::filesystem::path& file);

struct Plugin {
  Manifest manifest;
  bool loaded = false;  // false: found but not enabled, its code never ran
};

struct Refusal {
  std::filesystem::path file;
  std::string message;
};

// A CredentialCache in this process's memory: callers that share it obtain once.
std::shared_ptr<CredentialCache> make_memory_credential_cache();

// What a provider instance is created with.
struct ProviderSettings {
  nlohmann::json config = nlohmann::json::object();
  std::map<std::string, std::string> secrets;
  LogSink log_sink;        // empty: spdlog, prefixed with the plugin's name
  Clock* clock = nullptr;  // empty: the system clock
  // Shared with the configuration's other provider objects; empty: one of its own, in memory.
  std::shared_ptr<CredentialCache> credentials;
  std::string sender;  // email: the configuration's From address (PluginContext::sender)
  // Called before each request the plugin sends through PluginContext::http (the host's pace).
  std::function<void()> before_request;
  std::chrono::milliseconds http_timeout{30'000};
};

class PluginHost {
 public:
  PluginHost();
  ~PluginHost();
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // Checks every "*.so" in `dir` (sorted by name) and loads those that pass and are
  // enabled (`enabled` empty: all). Refusals are returned, and the rest still load.
  std::vector<Refusal> load_directory(const std::filesystem::path& dir,
                                      const std::set<std::string>& enabled = {});

  // Checks and loads one file. Throws PluginRefused. Loading a file that is already
  // loaded returns the loaded plugin.
  const Plugin& load(const std::filesystem::path& file, bool enable = true);

  std::vector<const Plugin*> plugins() const;
  const Plugin* find(std::string_view name) const;
  // The plugin that owns DSN scheme `scheme` (a loaded one first, else one found but not
  // enabled, whose manifest still describes the DSN), or null.
  const Plugin* find_by_scheme(std::string_view scheme) const;

  // Validates the configuration against the plugin's config_schema and its secrets against
  // the declared names, then calls the plugin's factory. Throws PluginError. The returned
  // provider converts anything but ProviderError that a method throws into
  // ProviderError{permanent, "plugin_exception"}, with the plugin's secrets redacted.
  std::shared_ptr<EmailProvider> create_email_provider(std::string_view name,
                                                       ProviderSettings settings) const;
  std::shared_ptr<DnsProvider> create_dns_provider(std::string_view name,
                                                   ProviderSettings settings) const;

 private:
  struct Entry;
  const Entry& entry_for(std::string_view name, PluginKind kind) const;
  std::vector<std::unique_ptr<Entry>> entries_;
};

}  // namespace mailroom::plugin_host
