// Cloudflare's API v4 for tests: the stateful fake (tests/tools/cloudflare_fake.py) behind
// Prism's validating proxy, serving the official schema with the normalisations of
// tests/tools/cloudflare_spec.py. Every request a plugin sends and every answer the fake
// gives is checked against that document; violations() lists what was not.
//
// Needs MAILROOM_TOOLS_DIR (tests/tools) and MAILROOM_TEST_DATA_DIR (tests/data) defined.
#pragma once

#include "fake_control.hpp"
#include "prism.hpp"
#include "process.hpp"

#include <mailroom/http.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace mailroom::testing {

struct CloudflareMockOptions {
  std::string token = "cf-test-token";
  std::vector<std::string> zones = {"example.test"};
  int max_per_page = 5;  // small pages, so that listing must follow them
};

class CloudflareMock {
 public:
  using Options = CloudflareMockOptions;

  explicit CloudflareMock(Options options = {}) : options_(std::move(options)) {
    dir_ = std::filesystem::temp_directory_path() / ("mr-cf-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    run("python3 " MAILROOM_TOOLS_DIR "/cloudflare_spec.py " MAILROOM_TEST_DATA_DIR
        "/cloudflare-dns-subset.openapi.json " + shell_quote((dir_ / "cloudflare.json").string()));
    start_fake();
    prism_ = std::make_unique<Prism>(MAILROOM_TOOLS_DIR "/node_modules/.bin/prism", (dir_ / "cloudflare.json").string(),
                                     fake_url(), (dir_ / "prism.log").string());
    prism_->wait_ready("/zones", {{"Authorization", "Bearer " + options_.token}});
  }
  ~CloudflareMock() {
    prism_.reset();
    ::kill(fake_pid_, SIGTERM);
    ::waitpid(fake_pid_, nullptr, 0);
    std::filesystem::remove_all(dir_);
  }

  const std::string& token() const { return options_.token; }
  // What a plugin talks to: Prism.
  std::string url() const { return prism_->url(); }
  // The fake itself, for the test's control calls.
  std::string fake_url() const { return "http://127.0.0.1:" + std::to_string(fake_port_); }
  std::string violations() const { return prism_->violations(); }

  // The next `count` record writes answer 429 with Retry-After: `retry_after`.
  void rate_limit(int count, int retry_after) {
    control("POST", "/__control", nlohmann::json{{"rate_limit", count}, {"retry_after", retry_after}}.dump());
  }
  nlohmann::json requests() { return nlohmann::json::parse(control("GET", "/__requests", "")); }
  nlohmann::json records(const std::string& zone) { return nlohmann::json::parse(control("GET", "/__records?zone=" + zone, "")); }

  // Zone-file lines for `records` (as records() returns them): what DNS would serve once
  // Cloudflare published them.
  static std::string zone_file_lines(const nlohmann::json& records) {
    std::string out;
    for (const auto& r : records) {
      const std::string type = r["type"], name = r["name"], content = r["content"];
      out += name + ". " + std::to_string(r["ttl"].get<int>()) + " " + type + " ";
      if (type == "MX") out += std::to_string(r["priority"].get<int>()) + " " + content + ".\n";
      else if (type == "CNAME") out += content + ".\n";
      else if (type == "TXT") out += (content.front() == '"' ? content : "\"" + content + "\"") + "\n";
      else out += content + "\n";
    }
    return out;
  }

 private:
  void start_fake() {
    std::vector<std::string> args = {"/usr/bin/python3", MAILROOM_TOOLS_DIR "/cloudflare_fake.py", "--token", options_.token,
                                     "--max-per-page", std::to_string(options_.max_per_page)};
    for (const auto& zone : options_.zones) args.insert(args.end(), {"--zone", zone});
    const auto spawned = spawn_reporting_port(args);
    fake_pid_ = spawned.pid;
    fake_port_ = spawned.port;
    EXPECT_GT(fake_port_, 0) << "the Cloudflare fake did not start";
  }

  std::string control(const std::string& method, const std::string& target, const std::string& body) {
    return fake_control(fake_url(), method, target, body);
  }

  static inline int counter_ = 0;
  Options options_;
  std::filesystem::path dir_;
  pid_t fake_pid_ = -1;
  int fake_port_ = 0;
  std::unique_ptr<Prism> prism_;
};

}  // namespace mailroom::testing
