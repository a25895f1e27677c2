// What the tests' mocks share: a call to a fake's own control endpoints (/__requests, /__fail,
// ...), straight to the fake, never through Prism. Returns the answer's body.
#pragma once

#include <mailroom/http.hpp>

#include <chrono>
#include <string>

namespace mailroom::testing {

inline std::string fake_control(const std::string& fake_url, const std::string& method, const std::string& target,
                                const std::string& body, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  HttpClientOptions http;
  http.base_url = fake_url;
  http.total_timeout = timeout;
  auto client = make_http_client(http);
  HttpHeaders headers;
  if (!body.empty()) headers.add("Content-Type", "application/json");
  return client->send({method, target, headers, body}).body;
}

}  // namespace mailroom::testing
