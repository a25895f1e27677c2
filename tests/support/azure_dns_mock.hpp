// Azure DNS for tests: the stateful fake tests/tools/azure_dns_fake.py behind Prism's validating
// proxy serving the official Swagger 2.0 document (tests/data/azure_dns/2018-05-01/dns.json,
// unchanged), so every request a plugin sends to Resource Manager and every answer the fake gives
// is checked against it; violations() lists what was not. The fake's Entra ID token endpoint is
// reached directly (it is not part of dns.json) and checks the client-credentials form.
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

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mailroom::testing {

struct AzureDnsMockOptions {
  std::vector<std::string> zones = {"rg-dns/example.test"};  // resource group / zone name
  int max_per_page = 100;                                     // the most items a page holds
  int token_lifetime = 3599;                                  // expires_in of the tokens it issues
};

class AzureDnsMock {
 public:
  using Options = AzureDnsMockOptions;

  explicit AzureDnsMock(Options options = {}) : options_(std::move(options)) {
    dir_ = std::filesystem::temp_directory_path() / ("mr-az-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    std::vector<std::string> args = {"/usr/bin/python3", MAILROOM_TOOLS_DIR "/azure_dns_fake.py", "--tenant", tenant(),
                                     "--client-id", client_id(), "--client-secret", client_secret(), "--subscription",
                                     subscription(), "--max-per-page", std::to_string(options_.max_per_page),
                                     "--token-lifetime", std::to_string(options_.token_lifetime)};
    for (const auto& zone : options_.zones) args.insert(args.end(), {"--zone", zone});
    const auto spawned = spawn_reporting_port(args);
    fake_pid_ = spawned.pid;
    fake_port_ = spawned.port;
    EXPECT_GT(fake_port_, 0) << "the Azure DNS fake did not start";
    prism_ = std::make_unique<Prism>(MAILROOM_TOOLS_DIR "/node_modules/.bin/prism",
                                     MAILROOM_TEST_DATA_DIR "/azure_dns/2018-05-01/dns.json", fake_url(),
                                     (dir_ / "prism.log").string());
    prism_->wait_ready("/subscriptions/" + subscription() + "/providers/Microsoft.Network/dnszones?api-version=2018-05-01");
  }
  ~AzureDnsMock() {
    prism_.reset();
    ::kill(fake_pid_, SIGTERM);
    ::waitpid(fake_pid_, nullptr, 0);
    std::filesystem::remove_all(dir_);
  }
  AzureDnsMock(const AzureDnsMock&) = delete;
  AzureDnsMock& operator=(const AzureDnsMock&) = delete;

  static std::string tenant() { return "72f988bf-86f1-41af-91ab-2d7cd011db47"; }
  static std::string client_id() { return "3f8b7c1e-0000-4c5e-9a11-mailroomtest"; }
  static std::string client_secret() { return "Q~mailroom.test-secret_0123456789abcdef"; }
  static std::string subscription() { return "00000000-1111-2222-3333-444444444444"; }

  // What a plugin talks to: Prism for Resource Manager, the fake itself for Entra ID.
  std::string url() const { return prism_->url(); }
  std::string fake_url() const { return "http://127.0.0.1:" + std::to_string(fake_port_); }
  // Requests or answers Prism found at odds with dns.json, one per line; "" if none.
  std::string violations() const { return prism_->violations(); }

  nlohmann::json settings() const {
    return {{"subscription_id", subscription()}, {"tenant_id", tenant()}, {"client_id", client_id()},
            {"base_url", url()}, {"authority_url", fake_url()}};
  }
  std::map<std::string, std::string> secrets() const { return {{"client_secret", client_secret()}}; }

  // Resource Manager requests the fake saw: [{method, path, query, if_match, if_none_match, at, failed?}].
  nlohmann::json requests() { return nlohmann::json::parse(control("GET", "/__requests", "")); }
  // Token requests the fake saw (their form fields but the secret).
  nlohmann::json token_requests() { return nlohmann::json::parse(control("GET", "/__tokens", "")); }
  // The zone's record sets as Azure lists them.
  nlohmann::json sets(const std::string& zone) { return nlohmann::json::parse(control("GET", "/__sets?zone=" + zone, "")); }
  // Record sets written as another writer would ({"type", "name", "TTL", "TXTRecords", ...}): new etags.
  void seed(const std::string& zone, const nlohmann::json& sets) {
    control("POST", "/__seed", nlohmann::json{{"zone", zone}, {"sets", sets}}.dump());
  }
  // The next `count` Resource Manager requests answer `status` with CloudError `code`
  // (and Retry-After when `retry_after` >= 0).
  void fail(int status, const std::string& code, int retry_after = -1, int count = 1) {
    nlohmann::json body = {{"status", status}, {"code", code}, {"count", count}};
    if (retry_after >= 0) body["retry_after"] = retry_after;
    control("POST", "/__fail", body.dump());
  }
  // The zone's sets as zone-file lines for Knot (tests/support/dns_server.hpp), the apex NS and
  // SOA left out: what Azure would serve.
  static std::string zone_file_lines(const std::string& zone, const nlohmann::json& sets) {
    std::string out;
    for (const auto& s : sets) {
      const std::string type = s["type"].get<std::string>().substr(std::string("Microsoft.Network/dnsZones/").size());
      const std::string name = s["name"] == "@" ? zone + "." : s["name"].get<std::string>() + "." + zone + ".";
      const auto& p = s["properties"];
      const std::string head = name + " " + std::to_string(p["TTL"].get<int>()) + " " + type + " ";
      if (type == "TXT")
        for (const auto& r : p["TXTRecords"]) {
          out += head;
          for (const auto& chunk : r["value"]) {
            std::string quoted = "\"";
            for (char c : chunk.get<std::string>()) quoted += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
            out += quoted + "\" ";
          }
          out += "\n";
        }
      else if (type == "MX")
        for (const auto& r : p["MXRecords"]) out += head + std::to_string(r["preference"].get<int>()) + " " + r["exchange"].get<std::string>() + ".\n";
      else if (type == "A")
        for (const auto& r : p["ARecords"]) out += head + r["ipv4Address"].get<std::string>() + "\n";
      else if (type == "CNAME")
        out += head + p["CNAMERecord"]["cname"].get<std::string>() + ".\n";
    }
    return out;
  }

 private:
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
