// For fault tests of `mailroom serve` draining a queue: a migrated database with one user,
// a fake_email configuration that appends each email id it is handed to a record file, the
// emails queued through it, `serve` child processes, and the record read back.
#pragma once

#include "crypto.hpp"
#include "db.hpp"
#include "harness.hpp"
#include "migrate.hpp"
#include "queue.hpp"

#include <fcntl.h>
#include <sys/prctl.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace mailroom::testing {

struct Drain {
  std::string url;
  std::filesystem::path record;  // one line per email handed to the provider
  std::string key = crypto::generate_key_entry("k1");
};

// Migrates `url` and queues `count` emails through fake_email (each send takes `delay_ms`).
inline Drain queue_fake_emails(const std::string& url, const std::filesystem::path& dir, int count, int delay_ms) {
  Drain d{url, dir / "record"};
  std::ostringstream progress;
  migrate::Migrator(url, migrate::embedded_migrations(), progress).up();
  db::Pool pool(url, 1);
  const auto user = db::Users(pool).create("ada@example.com", "", false);
  db::EmailConfigurations configs(pool);
  db::EmailConfiguration config;
  config.id = configs.new_id();
  config.user_id = user.id;
  config.provider = "fake_email";
  config.from_address = "ada@example.com";
  config.settings = {{"record_file", d.record.string()}, {"delay_ms", delay_ms}};
  configs.create(config, user.id);
  std::vector<queue::EmailRequest> requests(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    requests[i].configuration_id = config.id;
    requests[i].to = "r" + std::to_string(i) + "@example.com";
    requests[i].subject = "email " + std::to_string(i);
    requests[i].text_body = "body";
  }
  plugin_host::PluginHost plugins;
  plugins.load(std::filesystem::path(MAILROOM_PLUGIN_DIR) / "fake_email.so", false);  // its manifest only
  queue::enqueue(pool, plugins, requests, user.id);
  return d;
}

// `mailroom serve ARGS...` with fake_email only, `threads` workers claiming `batch` at a
// time; its output appended to `log`. The API, when not turned off, listens on a free port.
inline pid_t spawn_serve(const Drain& d, const std::filesystem::path& log, int threads, int batch,
                         std::vector<std::string> args) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a test that aborts takes its servers along
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::setenv("MAILROOM_DATABASE_URL", d.url.c_str(), 1);
    ::setenv("MAILROOM_MASTER_KEY", d.key.c_str(), 1);
    ::setenv("MAILROOM_PLUGINS_DIR", MAILROOM_PLUGIN_DIR, 1);
    ::setenv("MAILROOM_PLUGINS_ENABLED", "fake_email", 1);
    ::setenv("MAILROOM_API_LISTEN", "127.0.0.1:0", 1);
    ::setenv("MAILROOM_WORKERS_COUNT", std::to_string(threads).c_str(), 1);
    ::setenv("MAILROOM_WORKERS_BATCH_SIZE", std::to_string(batch).c_str(), 1);
    args.insert(args.begin(), {MAILROOM_BINARY, "serve"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// One email fake_email accepted: the line it appended to its record file.
struct Handed {
  std::string id;
  int in_flight = 0;       // sends of the configuration running when it started, itself included
  std::string message_id;  // its Message-ID header
  long long micros = 0;    // when it was accepted (system clock)
};

inline std::vector<Handed> records(const std::filesystem::path& file) {
  std::vector<Handed> out;
  std::ifstream record(file);
  for (Handed h; record >> h.id >> h.in_flight >> h.message_id >> h.micros;) out.push_back(h);
  return out;
}

// How many times each email id reached the provider.
inline std::map<std::string, int> handed(const Drain& d) {
  std::map<std::string, int> out;
  for (const auto& h : records(d.record)) ++out[h.id];
  return out;
}

}  // namespace mailroom::testing
