// What the host hands a plugin's factory. Everything in it outlives the provider object
// the factory returns, so a provider may keep references to any member.
#pragma once

#include <mailroom/clock.hpp>
#include <mailroom/credentials.hpp>
#include <mailroom/http.hpp>
#include <mailroom/log.hpp>

#include <nlohmann/json.hpp>

#include <map>
#include <string>

namespace mailroom {

struct PluginContext {
  // The plugin's manifest name.
  std::string plugin_name;
  // The configuration, already validated against the manifest's "config_schema":
  // a plugin may rely on every constraint that schema states.
  nlohmann::json config;
  // Decrypted secrets by the names the manifest's "secrets" list declares; a declared
  // secret that the user did not set is absent.
  std::map<std::string, std::string> secrets;
  // Preconfigured HTTP client: base URL from the config's "base_url" when set, else the
  // manifest's "endpoint"; connection reuse; TLS verification on.
  HttpClient& http;
  // Redacts every value of `secrets` before writing.
  Logger& log;
  Clock& clock;
  // Where to keep a credential the plugin obtains (an access token), shared with every other
  // provider object of the same configuration (credentials.hpp).
  CredentialCache& credentials;
  // Email plugins: the configuration's sender address, the From of every email it sends (so
  // verify() can check that the provider lets the credentials send as it). Empty for DNS.
  std::string sender;
};

}  // namespace mailroom
