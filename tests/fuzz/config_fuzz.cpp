// Configuration as deployers write it: the config file (JSON) and MAILROOM_* variables read
// by config::load, and email-configuration DSNs (which may carry secrets: errors must not
// quote them). Input: the file "\n--\n" KEY=VALUE lines "\n--\n" a DSN.
#include "config.hpp"
#include "email_config.hpp"
#include "fuzz_input.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace {

// The DSN schemes of the in-tree email plugins, from their manifests (no plugin code runs).
const mailroom::plugin_host::PluginHost& plugins() {
  static const auto* host = [] {
    auto* h = new mailroom::plugin_host::PluginHost;
    for (const char* name : {"smtp_relay.so", "fake_email.so"})
      h->load(std::filesystem::path(MAILROOM_PLUGIN_DIR) / name, /*enable=*/false);
    return h;
  }();
  return *host;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = mailroom::fuzz::fields(data, size, 3);
  // In memory (/dev/shm): the file is rewritten for every input.
  static const std::string file = "/dev/shm/mailroom-config-fuzz-" + std::to_string(::getpid()) + ".json";
  std::ofstream(file, std::ios::binary | std::ios::trunc) << parts[0];
  std::map<std::string, std::string> environment;
  std::string_view lines = parts[1];
  while (!lines.empty()) {
    const auto end = lines.find('\n');
    const std::string_view line = lines.substr(0, end);
    if (const auto eq = line.find('='); eq != std::string_view::npos)
      environment[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    lines.remove_prefix(end == std::string_view::npos ? lines.size() : end + 1);
  }
  mailroom::config::LoadOptions options;
  options.file = file;
  options.environment = environment;
  try {
    const auto config = mailroom::config::load(options);
    (void)mailroom::config::to_json(config, true).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const mailroom::config::ConfigError&) {
  }
  // A DSN's password is a secret: no error may quote it. The password is swapped for a
  // marker no message contains by chance (an input's own "password" can be a piece of the
  // fixed error text), and the marker must not come back.
  std::string dsn = parts[2];
  const auto scheme_end = dsn.find("://");
  const auto colon = scheme_end == std::string::npos ? std::string::npos : dsn.find(':', scheme_end + 3);
  const auto at = colon == std::string::npos ? std::string::npos : dsn.find('@', colon);
  const bool has_password = at != std::string::npos && at > colon + 1;
  if (has_password) dsn.replace(colon + 1, at - colon - 1, "Q7vK2mX9pL4w");
  try {
    (void)mailroom::email_config::parse_dsn(dsn, plugins());
  } catch (const mailroom::email_config::InputError& e) {
    if (has_password && std::string(e.what()).find("Q7vK2mX9pL4w") != std::string::npos) __builtin_trap();
  }
  return 0;
}
