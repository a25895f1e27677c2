// The Postbox API of docs/examples/postbox_email for tests: the stateful fake
// (tests/tools/postbox_fake.py) behind Prism's validating proxy serving the example's own
// OpenAPI document, so every request the example plugin sends is checked against it;
// violations() lists what was not.
//
// Needs MAILROOM_TOOLS_DIR (tests/tools) and MAILROOM_POSTBOX_SPEC (the document) defined.
#pragma once

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

namespace mailroom::testing {

class PostboxMock {
 public:
  explicit PostboxMock(std::string token = "pb-test-token") : token_(std::move(token)) {
    dir_ = std::filesystem::temp_directory_path() / ("mr-postbox-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    const auto spawned = spawn_reporting_port({"/usr/bin/python3", MAILROOM_TOOLS_DIR "/postbox_fake.py", "--token", token_});
    fake_pid_ = spawned.pid;
    fake_port_ = spawned.port;
    EXPECT_GT(fake_port_, 0) << "the Postbox fake did not start";
    prism_ = std::make_unique<Prism>(MAILROOM_TOOLS_DIR "/node_modules/.bin/prism", MAILROOM_POSTBOX_SPEC,
                                     "http://127.0.0.1:" + std::to_string(fake_port_), (dir_ / "prism.log").string());
    prism_->wait_ready("/v1/account", {{"Authorization", "Bearer " + token_}});
  }
  ~PostboxMock() {
    prism_.reset();
    ::kill(fake_pid_, SIGTERM);
    ::waitpid(fake_pid_, nullptr, 0);
    std::filesystem::remove_all(dir_);
  }
  PostboxMock(const PostboxMock&) = delete;
  PostboxMock& operator=(const PostboxMock&) = delete;

  const std::string& token() const { return token_; }
  // What the plugin talks to: Prism.
  std::string url() const { return prism_->url(); }
  std::string violations() const { return prism_->violations(); }

  // Every message the fake accepted, in order.
  nlohmann::json messages() const {
    HttpClientOptions http;
    http.base_url = "http://127.0.0.1:" + std::to_string(fake_port_);
    return nlohmann::json::parse(make_http_client(http)->send({"GET", "/__messages", {}, ""}).body);
  }

 private:
  static inline int counter_ = 0;
  std::string token_;
  std::filesystem::path dir_;
  pid_t fake_pid_ = -1;
  int fake_port_ = 0;
  std::unique_ptr<Prism> prism_;
};

}  // namespace mailroom::testing
