// HTTP as a plugin sees it: requests it sends through the host's client, and the webhook
// requests the host hands it to verify and parse.
#pragma once

#include <mailroom/sdk_export.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailroom {

// Ordered header list; names compare case-insensitively (RFC 9110), duplicates are kept.
class MAILROOM_SDK_EXPORT HttpHeaders {
 public:
  HttpHeaders() = default;
  HttpHeaders(std::initializer_list<std::pair<std::string, std::string>> headers);

  void add(std::string name, std::string value);
  // First value of `name`, if present.
  std::optional<std::string> get(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& all() const noexcept { return list_; }

 private:
  std::vector<std::pair<std::string, std::string>> list_;
};

struct HttpRequest {
  std::string method = "GET";
  // A path with query ("/v3/mail/send?x=1"), resolved against the client's base URL,
  // or an absolute URL ("https://oauth2.googleapis.com/token") used as is.
  std::string target;
  HttpHeaders headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;
};

// Sends requests. One client keeps its connections open between requests.
// Transport failures (DNS, connect, TLS, timeout) throw ProviderError{transient};
// any HTTP status, 4xx and 5xx included, is returned for the plugin to map.
class MAILROOM_SDK_EXPORT HttpClient {
 public:
  virtual ~HttpClient();
  virtual HttpResponse send(const HttpRequest& request) = 0;
};

struct HttpClientOptions {
  std::string base_url;  // e.g. "https://api.sendgrid.com"; tests point it at a mock
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds total_timeout{30'000};
  bool verify_tls = true;  // peer and host verification; only tests turn it off
  std::string ca_file;     // extra CA bundle for private endpoints; empty = system store
  std::string user_agent = "mailroom";
};

// The libcurl client the host gives plugins (connection reuse, timeouts, TLS verification).
MAILROOM_SDK_EXPORT std::unique_ptr<HttpClient> make_http_client(HttpClientOptions options);

}  // namespace mailroom
