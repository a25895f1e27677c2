// Route 53 for tests: the stateful fake tests/tools/route53_fake.py, which checks every
// request's SigV4 signature with botocore's signer and every query and XML body against the
// botocore service model (copied into tests/data/route53/), and records what fails as a
// violation.
//
// Needs MAILROOM_TOOLS_DIR (tests/tools) and MAILROOM_TEST_DATA_DIR (tests/data) defined.
#pragma once

#include "fake_control.hpp"
#include "process.hpp"

#include <mailroom/http.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <string>
#include <vector>

namespace mailroom::testing {

struct Route53MockOptions {
  std::vector<std::string> zones = {"example.test"};
  int max_items = 100;        // the most items a page holds, whatever the request asks
  std::string session_token{};  // set: requests must carry and sign it
};

class Route53Mock {
 public:
  explicit Route53Mock(Route53MockOptions options = {}) : options_(std::move(options)) {
    std::vector<std::string> args = {"/usr/bin/python3", MAILROOM_TOOLS_DIR "/route53_fake.py", "--model",
                                     MAILROOM_TEST_DATA_DIR "/route53/botocore-route53-2013-04-01/service-2.json",
                                     "--access-key", access_key(), "--secret-key", secret_key(), "--max-items",
                                     std::to_string(options_.max_items)};
    if (!options_.session_token.empty()) args.insert(args.end(), {"--session-token", options_.session_token});
    for (const auto& zone : options_.zones) args.insert(args.end(), {"--zone", zone});
    const auto spawned = spawn_reporting_port(args);
    pid_ = spawned.pid;
    port_ = spawned.port;
    EXPECT_GT(port_, 0) << "the Route 53 fake did not start";
  }
  ~Route53Mock() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  Route53Mock(const Route53Mock&) = delete;
  Route53Mock& operator=(const Route53Mock&) = delete;

  static std::string access_key() { return "AKIAMAILROOMTEST0001"; }
  static std::string secret_key() { return "mailroom/test/secret+key/0123456789abcdefghij"; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // The plugin's settings and secrets for this fake (INSYNC polled quickly).
  nlohmann::json settings() const { return {{"base_url", url()}, {"change_poll_seconds", 0.05}, {"change_wait_seconds", 5}}; }
  std::map<std::string, std::string> secrets() const {
    std::map<std::string, std::string> out = {{"access_key_id", access_key()}, {"secret_access_key", secret_key()}};
    if (!options_.session_token.empty()) out["session_token"] = options_.session_token;
    return out;
  }

  // Requests or answers at odds with the signature rules or the model, one per line; "" if none.
  std::string violations() {
    std::string out;
    for (const auto& v : nlohmann::json::parse(control("GET", "/__violations", ""))) out += v.get<std::string>() + "\n";
    return out;
  }
  nlohmann::json requests() { return nlohmann::json::parse(control("GET", "/__requests", "")); }
  nlohmann::json sets(const std::string& zone) { return nlohmann::json::parse(control("GET", "/__sets/" + zone, "")); }
  // The next `count` signed requests answer `code` (Throttling, PriorRequestNotComplete).
  void fail(const std::string& code, int count = 1) {
    control("POST", "/__fail", nlohmann::json{{"code", code}, {"count", count}}.dump());
  }
  // The zone's sets as zone-file lines for Knot (tests/support/dns_server.hpp), the zone's own
  // NS and SOA left out: what Route 53 would serve. TXT values are already quoted strings.
  static std::string zone_file_lines(const nlohmann::json& sets) {
    std::string out;
    for (const auto& s : sets) {
      const std::string type = s["Type"];
      if (type == "NS" || type == "SOA" || !s.contains("ResourceRecords")) continue;
      for (const auto& value : s["ResourceRecords"])
        out += s["Name"].get<std::string>() + " " + std::to_string(s["TTL"].get<int>()) + " " + type + " " +
               value.get<std::string>() + "\n";
    }
    return out;
  }
  void insync_after(int polls) { control("POST", "/__insync", nlohmann::json{{"polls", polls}}.dump()); }
  // Record sets added as they are (aliases, weighted sets), in Route 53's JSON shape.
  void seed(const std::string& zone, const nlohmann::json& sets) {
    control("POST", "/__seed", nlohmann::json{{"zone", zone}, {"sets", sets}}.dump());
  }

 private:
  std::string control(const std::string& method, const std::string& target, const std::string& body) {
    return fake_control(url(), method, target, body);
  }

  Route53MockOptions options_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace mailroom::testing
