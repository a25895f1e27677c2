// Stoplight Prism (tests/tools, npm @stoplight/prism-cli) as a validating proxy in front of an
// upstream server: every request and response is checked against an OpenAPI document, and a
// mismatch becomes Prism's own problem document (or an sl-violations header) instead.
#pragma once

#include "process.hpp"

#include <mailroom/error.hpp>
#include <mailroom/http.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <string>
#include <thread>

namespace mailroom::testing {

class Prism {
 public:
  // Prism's log goes to `log_file` (default: nowhere); violations() reads it.
  Prism(const std::string& prism, const std::string& document, const std::string& upstream_url,
        std::string log_file = "/dev/null")
      : log_file_(std::move(log_file)) {
    port_ = free_port();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // a test that aborts takes its servers along
      const int log = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(log, 1);
      ::dup2(log, 2);
      const std::string port = std::to_string(port_);
      ::execl(prism.c_str(), prism.c_str(), "proxy", document.c_str(), upstream_url.c_str(), "--errors", "--host",
              "127.0.0.1", "--port", port.c_str(), nullptr);
      ::_exit(127);
    }
  }
  ~Prism() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  Prism(const Prism&) = delete;
  Prism& operator=(const Prism&) = delete;

  unsigned short port() const { return port_; }

  // The requests and responses Prism found at odds with the document ("✖ error" lines).
  std::string violations() const {
    std::istringstream log(read_file(log_file_));
    std::string out;
    for (std::string line; std::getline(log, line);)
      if (line.find("\xe2\x9c\x96") != std::string::npos) out += line + "\n";  // U+2716, Prism's error mark
    return out;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Prism needs a few seconds to start: waits until it answers `probe` at all. The probe is
  // checked like any request: make it one the document allows.
  void wait_ready(const std::string& probe = "/", const HttpHeaders& headers = {}, const std::string& method = "GET",
                  const std::string& body = "") const {
    HttpClientOptions options;
    options.base_url = url();
    auto client = make_http_client(options);
    for (int i = 0; i < 300; ++i) {
      try {
        client->send({method, probe, headers, body});
        return;
      } catch (const ProviderError&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

 private:
  std::string log_file_;
  pid_t pid_ = -1;
  unsigned short port_ = 0;
};

// What an answer that passed Prism's checks looks like.
inline bool violates_document(const HttpResponse& response) {
  return response.body.find("stoplight.io/prism/errors") != std::string::npos ||
         response.headers.get("sl-violations").has_value();
}

}  // namespace mailroom::testing
