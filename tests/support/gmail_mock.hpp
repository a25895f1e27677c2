// Gmail and Google's token endpoint for tests: the stateful fake (tests/tools/gmail_fake.py)
// with Prism's validating proxy in front of its Gmail part, serving the APIs.guru document with
// the changes of tests/tools/gmail_spec.py. The token endpoint is the fake's own (it is not in
// the Gmail document). A service account key pair is made for each mock: the plugin signs with
// the private half, the fake verifies with the public one.
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
#include <memory>
#include <string>
#include <vector>

namespace mailroom::testing {

struct GmailMockOptions {
  int expires_in = 3600;  // seconds an access token lives
};

class GmailMock {
 public:
  explicit GmailMock(GmailMockOptions options = {}) {
    dir_ = std::filesystem::temp_directory_path() / ("mr-gmail-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    const std::string key = (dir_ / "sa.pem").string(), public_key = (dir_ / "sa.pub.pem").string();
    run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " + shell_quote(key) + " 2>/dev/null");
    run("openssl pkey -in " + shell_quote(key) + " -pubout -out " + shell_quote(public_key));
    private_key_pem_ = read_file(key);
    run("/usr/bin/python3 " MAILROOM_TOOLS_DIR "/gmail_spec.py " MAILROOM_TEST_DATA_DIR
        "/gmail/gmail.v1.apis-guru.openapi.yaml " + shell_quote((dir_ / "gmail.json").string()));
    const auto spawned = spawn_reporting_port(
        {"/usr/bin/python3", MAILROOM_TOOLS_DIR "/gmail_fake.py", "--client-id", client_id(), "--client-secret",
         client_secret(), "--refresh-token", refresh_token(), "--service-account-email", service_account_email(),
         "--service-account-public-key", public_key, "--delegated-user", user(), "--expires-in",
         std::to_string(options.expires_in)});
    fake_pid_ = spawned.pid;
    fake_port_ = spawned.port;
    EXPECT_GT(fake_port_, 0) << "the Gmail fake did not start";
    prism_ = std::make_unique<Prism>(MAILROOM_TOOLS_DIR "/node_modules/.bin/prism", (dir_ / "gmail.json").string(),
                                     fake_url(), (dir_ / "prism.log").string());
    // A probe the document allows (the fake answers it 401: no token).
    prism_->wait_ready("/gmail/v1/users/me/messages/send", {{"Authorization", "Bearer probe"}, {"Content-Type", "application/json"}},
                       "POST", R"({"raw": "cHJvYmU"})");
  }
  ~GmailMock() {
    prism_.reset();
    ::kill(fake_pid_, SIGTERM);
    ::waitpid(fake_pid_, nullptr, 0);
    std::filesystem::remove_all(dir_);
  }
  GmailMock(const GmailMock&) = delete;
  GmailMock& operator=(const GmailMock&) = delete;

  static std::string client_id() { return "1234-test.apps.googleusercontent.com"; }
  static std::string client_secret() { return "GOCSPX-test-client-secret"; }
  static std::string refresh_token() { return "1//test-refresh-token"; }
  static std::string service_account_email() { return "mailroom@test-project.iam.gserviceaccount.com"; }
  static std::string user() { return "ada@example.com"; }

  // A service account's JSON key file, as Google hands it out.
  std::string service_account_key() const {
    return nlohmann::json{{"type", "service_account"},
                          {"project_id", "test-project"},
                          {"private_key_id", "0123456789abcdef"},
                          {"private_key", private_key_pem_},
                          {"client_email", service_account_email()},
                          {"client_id", "100000000000000000001"},
                          {"token_uri", "https://oauth2.googleapis.com/token"}}
        .dump();
  }

  // What a plugin talks to: Prism for Gmail, the fake for tokens.
  std::string url() const { return prism_->url(); }
  std::string token_url() const { return fake_url() + "/token"; }
  std::string fake_url() const { return "http://127.0.0.1:" + std::to_string(fake_port_); }
  std::string violations() const { return prism_->violations(); }

  // The plugin's settings and secrets for each way to authenticate.
  nlohmann::json oauth_settings() const {
    return {{"client_id", client_id()}, {"token_url", token_url()}, {"base_url", url()}};
  }
  std::map<std::string, std::string> oauth_secrets() const {
    return {{"client_secret", client_secret()}, {"refresh_token", refresh_token()}};
  }
  nlohmann::json service_account_settings(const std::string& as = user()) const {
    return {{"user", as}, {"token_url", token_url()}, {"base_url", url()}};
  }
  std::map<std::string, std::string> service_account_secrets() const { return {{"service_account_key", service_account_key()}}; }

  nlohmann::json messages() { return nlohmann::json::parse(control("GET", "/__messages", "")); }
  nlohmann::json grants() { return nlohmann::json::parse(control("GET", "/__grants", "")); }
  // The next `count` sends answer `status` with Google's error document.
  void fail(int status, const std::string& reason, const std::string& message, int count = 1, int retry_after = -1,
            const std::string& google_status = "UNKNOWN") {
    nlohmann::json body{{"status", status}, {"reason", reason}, {"message", message}, {"count", count},
                        {"google_status", google_status}};
    if (retry_after >= 0) body["retry_after"] = retry_after;
    control("POST", "/__fail", body.dump());
  }
  // The next `count` token requests answer `status` with an OAuth error.
  void fail_token(int status, const std::string& error, const std::string& description, int count = 1) {
    control("POST", "/__fail_token",
            nlohmann::json{{"status", status}, {"error", error}, {"error_description", description}, {"count", count}}.dump());
  }
  void revoke_tokens() { control("POST", "/__revoke", "{}"); }
  // The scopes the refresh token was granted, and those domain-wide delegation allows.
  void set_scopes(const std::vector<std::string>& refresh, const std::vector<std::string>& delegated) {
    control("POST", "/__scopes", nlohmann::json{{"refresh", refresh}, {"delegated", delegated}}.dump());
  }
  // The user's send-as aliases (SendAs resources); empty: the user alone, primary.
  void set_send_as(const nlohmann::json& aliases) { control("POST", "/__send_as", aliases.dump()); }
  static constexpr const char* kSendScope = "https://www.googleapis.com/auth/gmail.send";
  static constexpr const char* kSettingsScope = "https://www.googleapis.com/auth/gmail.settings.basic";

 private:
  std::string control(const std::string& method, const std::string& target, const std::string& body) {
    return fake_control(fake_url(), method, target, body);
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::string private_key_pem_;
  pid_t fake_pid_ = -1;
  int fake_port_ = 0;
  std::unique_ptr<Prism> prism_;
};

}  // namespace mailroom::testing
