// The `mailroom` command as the DNS end-to-end tests run it.
#pragma once

#include "harness.hpp"

#include <string>

namespace mailroom::testing {

// Runs `mailroom ARGS` against the database at `url` with the built plugins, the resolver at
// `resolver` and `variables` ("NAME=value ..." with values quoted) in its environment.
inline CommandResult dns_cli(const std::string& url, const std::string& resolver, const std::string& variables,
                             const std::string& args, const std::string& input = "") {
  const std::string env = "MAILROOM_DATABASE_URL=" + quote(url) + " MAILROOM_MASTER_KEY=" +
                          quote("k1:" + std::string(43, 'A') + "=") + " MAILROOM_PLUGINS_DIR=" MAILROOM_PLUGIN_DIR
                          " MAILROOM_DNS_RESOLVER=" + resolver + " " + variables + " ";
  return run_command(env + MAILROOM_BINARY " " + args, input);
}

}  // namespace mailroom::testing
