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
    int out[2];
    EXPECT_EQ(::pipe(out), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      std::vector<std::string> args = {"/usr/bin/python3", MAILROOM_SMTP_SERVER, "--dir", dir_.string()};
      args.insert(args.end(), options.begin(), options.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    FILE* f = ::fdopen(out[0], "r");
    char line[64] = {};
    if (std::fgets(line, sizeof line, f) != nullptr) std::sscanf(line, "PORT %d", &port_);
    std::fclose(f);
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
