// A `mailroom serve` child process on a migrated database, for tests that talk to the real
// binary over HTTP: users alice (token mr_alice_token) and root (admin, mr_root_token), one
// configuration of alice's through the fake_email plugin; of the build's plugins only
// fake_email and test_dns are enabled, so nothing a test sends can leave the machine.
#pragma once

#include "crypto.hpp"
#include "db.hpp"
#include "harness.hpp"
#include "migrate.hpp"

#include <mailroom/http.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <thread>

namespace mailroom::testing {

class ServeProcess {
 public:
  // `serve_args` follow "serve" (e.g. "--no-workers"); `environment` adds MAILROOM_* settings.
  explicit ServeProcess(std::vector<std::string> serve_args = {},
                        std::vector<std::pair<std::string, std::string>> environment = {})
      : serve_args_(std::move(serve_args)), environment_(std::move(environment)) {
    std::ostringstream progress;
    migrate::Migrator(url, migrate::embedded_migrations(), progress).up();
    db::Users users(pool);
    alice = users.create("alice@example.com", "", false).id;
    root = users.create("root@example.com", "", true).id;
    db::ApiTokens tokens(pool);
    tokens.create(alice, "test", "mr_alice_token", false, std::nullopt);
    tokens.create(root, "test", "mr_root_token", true, std::nullopt);
    db::EmailConfigurations configs(pool);
    db::EmailConfiguration c;
    c.id = configuration = configs.new_id();
    c.user_id = alice;
    c.provider = "sendgrid";
    c.plugin = "fake_email";
    c.from_address = "alice@example.com";
    c.settings = {{"record_file", (dir / "sent").string()}};
    configs.create(c, alice);

    port = free_port();
    start();
  }

  // Starts the serve process (again, after a kill: same port, key and database).
  void start() {
    pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int fd = ::open((dir / "serve.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::setenv("MAILROOM_DATABASE_URL", url.c_str(), 1);
      ::setenv("MAILROOM_MASTER_KEY", key.c_str(), 1);
      for (const auto& [name, value] : environment_) ::setenv(name.c_str(), value.c_str(), 1);
      ::setenv("MAILROOM_PLUGINS_DIR", MAILROOM_PLUGIN_DIR, 1);
      // Only the test plugins, which talk to nothing: no request may reach outside this machine.
      ::setenv("MAILROOM_PLUGINS_ENABLED", "fake_email,test_dns", 1);
      ::setenv("MAILROOM_API_LISTEN", ("127.0.0.1:" + std::to_string(port)).c_str(), 1);
      std::vector<std::string> args{MAILROOM_BINARY, "serve"};
      args.insert(args.end(), serve_args_.begin(), serve_args_.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    HttpClientOptions options;
    options.base_url = "http://127.0.0.1:" + std::to_string(port);
    options.total_timeout = std::chrono::seconds(20);
    client = make_http_client(options);
    for (int i = 0; i < 300 && !healthy(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  ~ServeProcess() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
    std::filesystem::remove_all(dir);
  }

  bool alive() const { return pid > 0 && ::waitpid(pid, nullptr, WNOHANG) == 0; }

  bool healthy() {
    try {
      return client->send({"GET", "/healthz", {}, ""}).status == 200;
    } catch (const std::exception&) {
      return false;
    }
  }

  HttpResponse call(const std::string& method, const std::string& target, const std::string& token,
                    const std::string& body = "", HttpHeaders headers = {}) {
    if (!token.empty()) headers.add("Authorization", "Bearer " + token);
    if (!body.empty()) headers.add("Content-Type", "application/json");
    return client->send({method, target, headers, body});
  }

  // Every table's rows (api_tokens without last_used_at, which authentication touches),
  // as one digest: equal digests mean nothing was written.
  std::string digest() {
    pqxx::connection c(url);
    pqxx::read_transaction tx(c);
    std::string all;
    for (const auto& row : tx.exec(
             "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE "
             "TABLE' ORDER BY table_name")) {
      const std::string table = row[0].as<std::string>();
      const std::string rows = table == "api_tokens" ? "(t.id, t.name, t.is_admin, t.revoked_at, t.expires_at)::text"
                                                     : "t::text";
      all += table + ":" +
             tx.exec("SELECT count(*)::text || ' ' || coalesce(md5(string_agg(" + rows + ", ',' ORDER BY " + rows +
                     ")), '') FROM " + table + " t")[0][0]
                 .as<std::string>() +
             "\n";
    }
    return all;
  }

  std::filesystem::path dir = [] {
    static int n = 0;
    auto d = std::filesystem::temp_directory_path() / ("mr-serve-proc-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::create_directories(d);
    return d;
  }();
  std::string url = fresh_database();
  db::Pool pool{url, 2};
  std::string alice, root, configuration;
  const std::string key = crypto::generate_key_entry("k1");  // the master key
  int port = 0;
  pid_t pid = -1;
  std::unique_ptr<HttpClient> client;

 private:
  std::vector<std::string> serve_args_;
  std::vector<std::pair<std::string, std::string>> environment_;
};

}  // namespace mailroom::testing
