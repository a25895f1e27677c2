// The DNS engine on a migrated database with one user (ada@example.test) and the built plugins,
// for the DNS plugins' end-to-end tests.
#pragma once

#include "crypto.hpp"
#include "db.hpp"
#include "dns.hpp"
#include "migrate.hpp"
#include "plugin_host.hpp"

#include <sstream>
#include <string>

namespace mailroom::testing {

struct EngineOn {
  explicit EngineOn(const std::string& url) : pool(migrated(url), 2) {
    host.load_directory(MAILROOM_PLUGIN_DIR);
    user = mailroom::db::Users(pool).create("ada@example.test", "Ada", false).id;
  }
  static const std::string& migrated(const std::string& url) {
    std::ostringstream progress;
    mailroom::migrate::Migrator(url, mailroom::migrate::embedded_migrations(), progress).up();
    return url;
  }
  mailroom::db::Pool pool;
  mailroom::plugin_host::PluginHost host;
  const mailroom::crypto::SecretBox box{mailroom::crypto::KeyRing::parse(mailroom::crypto::generate_key_entry("k1"), "t")};
  mailroom::dns::Engine engine{pool, host, &box};
  std::string user;
};

}  // namespace mailroom::testing
