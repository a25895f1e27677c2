// Test harness for integration tests (suffix _pgtest): one real PostgreSQL cluster per test
// binary, started on a free port by the same code as mailroom's embedded default, and a
// fresh database per test.
#pragma once

#include "embedded_db.hpp"
#include "process.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <csignal>
#include <iostream>
#include <sstream>
#include <string>
#include <fcntl.h>
#include <unistd.h>

namespace mailroom::testing {

class PostgresEnvironment : public ::testing::Environment {
 public:
  static PostgresEnvironment*& instance() {
    static PostgresEnvironment* env = nullptr;
    return env;
  }
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / ("mr-pg-" + std::to_string(::getpid()));
    std::ostringstream progress;
    url_ = embedded_db::start(root_, progress);
    watch_for_abort();
  }
  void TearDown() override {
    embedded_db::stop(root_);
    std::filesystem::remove_all(root_);
  }
  const std::string& url() const { return url_; }

  // The cluster is a daemon, not our child: if this process dies without TearDown (an
  // abort, a sanitizer report), a watcher stops it (fast shutdown) and removes its files.
  void watch_for_abort() {
    const pid_t test = ::getpid();
    if (::fork() != 0) return;
    ::setsid();
    const int null = ::open("/dev/null", O_RDWR);  // ctest waits for whoever holds the output
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    while (::kill(test, 0) == 0) ::sleep(1);
    std::ifstream pid_file(root_ / "data" / "postmaster.pid");
    long postmaster = 0;
    if (pid_file >> postmaster && postmaster > 0) {
      ::kill(static_cast<pid_t>(postmaster), SIGINT);
      for (int i = 0; i < 100 && ::kill(static_cast<pid_t>(postmaster), 0) == 0; ++i) ::usleep(100'000);
      std::error_code ignored;
      std::filesystem::remove_all(root_, ignored);
    }
    ::_exit(0);
  }
  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
  std::string url_;
};

// Creates an empty database and returns its URL.
inline std::string fresh_database() {
  static std::atomic<int> counter{0};
  const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  const std::string& base = PostgresEnvironment::instance()->url();
  {
    pqxx::connection connection(base);
    pqxx::nontransaction tx(connection);
    tx.exec("CREATE DATABASE " + name);
  }
  const auto slash = base.find("@/") + 2;
  const auto query = base.find('?');
  return base.substr(0, slash) + name + base.substr(query);
}

// Kept for the tests that say quote().
inline std::string quote(const std::string& text) { return shell_quote(text); }

}  // namespace mailroom::testing

// Each _pgtest binary links harness_main.cpp, which registers the environment.
