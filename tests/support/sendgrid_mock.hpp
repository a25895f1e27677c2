// SendGrid's v3 Mail Send API for tests: the stateful fake (tests/tools/sendgrid_fake.py)
// behind Prism's validating proxy, serving the official document with the additions of
// tests/tools/sendgrid_spec.py. Every request a plugin sends and every answer the fake gives
// is checked against that document; violations() lists what was not. The fake also posts
// signed Event Webhook batches, with the test-only key of SendGrid's SDK tests.
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
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace mailroom::testing {

// The signature vectors of shared/specs/sendgrid (copied into tests/data/sendgrid).
inline nlohmann::json sendgrid_vectors() {
  std::ifstream in(MAILROOM_TEST_DATA_DIR "/sendgrid/event-webhook-signature-vectors.json");
  return nlohmann::json::parse(in);
}

class SendGridMock {
 public:
  SendGridMock() {
    dir_ = std::filesystem::temp_directory_path() / ("mr-sg-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    run("python3 " MAILROOM_TOOLS_DIR "/sendgrid_spec.py " MAILROOM_TEST_DATA_DIR
        "/sendgrid/sendgrid-mail-send-subset.openapi.json " + shell_quote((dir_ / "sendgrid.json").string()));
    const auto spawned = spawn_reporting_port({"/usr/bin/python3", MAILROOM_TOOLS_DIR "/sendgrid_fake.py", "--key", key(),
                                               "--private-key", private_key()});
    fake_pid_ = spawned.pid;
    fake_port_ = spawned.port;
    EXPECT_GT(fake_port_, 0) << "the SendGrid fake did not start";
    prism_ = std::make_unique<Prism>(MAILROOM_TOOLS_DIR "/node_modules/.bin/prism", (dir_ / "sendgrid.json").string(),
                                     fake_url(), (dir_ / "prism.log").string());
    // A request in sandbox mode: valid, and the fake keeps nothing of it.
    prism_->wait_ready("/v3/mail/send", {{"Authorization", "Bearer " + key()}, {"Content-Type", "application/json"}}, "POST",
                       R"({"personalizations": [{"to": [{"email": "probe@example.com"}]}], "from": {"email": "probe@example.com"},
                           "subject": "probe", "content": [{"type": "text/plain", "value": "probe"}],
                           "mail_settings": {"sandbox_mode": {"enable": true}}})");
  }
  ~SendGridMock() {
    prism_.reset();
    ::kill(fake_pid_, SIGTERM);
    ::waitpid(fake_pid_, nullptr, 0);
    std::filesystem::remove_all(dir_);
  }
  SendGridMock(const SendGridMock&) = delete;
  SendGridMock& operator=(const SendGridMock&) = delete;

  static std::string key() { return "SG.test-key.mailroom"; }
  // The public half of the key the fake signs events with, as SendGrid shows it.
  static std::string public_key() { return sendgrid_vectors()["legacy_private_key"]["public_key"]; }
  static std::string private_key() { return sendgrid_vectors()["legacy_private_key"]["value"]; }

  // What a plugin talks to: Prism.
  std::string url() const { return prism_->url(); }
  std::string fake_url() const { return "http://127.0.0.1:" + std::to_string(fake_port_); }
  std::string violations() const { return prism_->violations(); }

  nlohmann::json sends() { return nlohmann::json::parse(control("GET", "/__sends", "")); }
  // The next `count` sends answer `status` (429: X-RateLimit-Reset `reset_in` seconds ahead).
  void fail(int status, int count = 1, int reset_in = 1, nlohmann::json errors = nullptr) {
    nlohmann::json body{{"status", status}, {"count", count}, {"reset_in", reset_in}};
    if (!errors.is_null()) body["errors"] = std::move(errors);
    control("POST", "/__fail", body.dump());
  }
  // Posts a signed batch to `url` (see sendgrid_fake.py /__events); returns what happened.
  nlohmann::json post_events(const std::string& url, const nlohmann::json& events, bool tamper = false) {
    return nlohmann::json::parse(
        control("POST", "/__events", nlohmann::json{{"url", url}, {"events", events}, {"tamper", tamper}}.dump()));
  }

 private:
  std::string control(const std::string& method, const std::string& target, const std::string& body) {
    return fake_control(fake_url(), method, target, body, std::chrono::seconds(60));
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  pid_t fake_pid_ = -1;
  int fake_port_ = 0;
  std::unique_ptr<Prism> prism_;
};

}  // namespace mailroom::testing
