// A real SMTP server for tests (tests/tools/smtp_server.py, Debian's python3-aiosmtpd) on a
// free port, and a test certificate for localhost.
#pragma once

#include "process.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace mailroom::testing {

namespace fs = std::filesystem;

// A test certificate for localhost, made once per test binary.
inline const fs::path& certificate_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("mr-smtp-cert-" + std::to_string(::getpid()));
    fs::create_directories(d);
    run("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + (d / "key.pem").string() + " -out " +
        (d / "cert.pem").string() + " -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1");
    return d;
  }();
  return dir;
}

class SmtpServer {
 public:
  explicit SmtpServer(const std::vector<std::string>& options) {
    dir_ = fs::temp_directory_path() / ("mr-smtp-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(dir_);
    std::vector<std::string> args = {"/usr/bin/python3", MAILROOM_SMTP_SERVER, "--dir", dir_.string()};
    args.insert(args.end(), options.begin(), options.end());
    const auto spawned = spawn_reporting_port(args);
    pid_ = spawned.pid;
    port_ = spawned.port;
    EXPECT_GT(port_, 0) << "the SMTP server did not start";
  }
  ~SmtpServer() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    fs::remove_all(dir_);
  }
  int port() const { return port_; }
  std::vector<fs::path> messages() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir_))
      if (e.path().extension() == ".eml") out.push_back(e.path());
    return out;
  }
  std::string commands() const { return read_file(dir_ / "commands.log"); }

 private:
  static inline int counter_ = 0;
  fs::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace mailroom::testing
