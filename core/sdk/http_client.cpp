#include <mailroom/error.hpp>
#include <mailroom/http.hpp>

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <utility>

namespace mailroom {

HttpClient::~HttpClient() = default;

namespace {
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return std::string(s);
}

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// Keeps only the headers of the final response: after a redirect or a "100 Continue"
// libcurl reports several header blocks, each starting with a status line.
size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<HttpHeaders*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    *headers = HttpHeaders{};
  } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
    headers->add(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  return size * count;
}

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(HttpClientOptions options) : options_(std::move(options)) {
    init_curl_once();
    handle_ = curl_easy_init();
    if (handle_ == nullptr)
      throw ProviderError(ErrorKind::transient, "curl_init", "libcurl could not create a handle");
  }
  ~CurlHttpClient() override { curl_easy_cleanup(handle_); }
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  HttpResponse send(const HttpRequest& request) override {
    // One handle, used by one request at a time, keeps its connection between requests.
    std::lock_guard lock(mutex_);
    curl_easy_reset(handle_);
    const std::string url = resolve(request.target);
    HttpResponse response;

    curl_slist* header_list = nullptr;
    for (const auto& [name, value] : request.headers.all())
      header_list = curl_slist_append(header_list, (name + ": " + value).c_str());
    // libcurl would add "Expect: 100-continue" to large bodies; providers do not need it.
    header_list = curl_slist_append(header_list, "Expect:");

    curl_easy_setopt(handle_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(handle_, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (request.method == "HEAD") curl_easy_setopt(handle_, CURLOPT_NOBODY, 1L);
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
        request.method == "PATCH") {
      curl_easy_setopt(handle_, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(handle_, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    }
    curl_easy_setopt(handle_, CURLOPT_HTTPHEADER, header_list);
    curl_easy_setopt(handle_, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(handle_, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(handle_, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout.count()));
    curl_easy_setopt(handle_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle_, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
    curl_easy_setopt(handle_, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
    if (!options_.ca_file.empty()) curl_easy_setopt(handle_, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(handle_, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(handle_, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(handle_, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(handle_, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(handle_, CURLOPT_HEADERDATA, &response.headers);
    char error_text[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(handle_, CURLOPT_ERRORBUFFER, error_text);

    const CURLcode code = curl_easy_perform(handle_);
    curl_slist_free_all(header_list);
    if (code != CURLE_OK) {
      // The URL is safe to show; headers and body may carry credentials and are not shown.
      std::string what = error_text[0] != '\0' ? error_text : curl_easy_strerror(code);
      throw ProviderError(ErrorKind::transient, "curl_" + std::to_string(static_cast<int>(code)),
                          request.method + " " + url + ": " + what);
    }
    long status = 0;
    curl_easy_getinfo(handle_, CURLINFO_RESPONSE_CODE, &status);
    response.status = static_cast<int>(status);
    return response;
  }

 private:
  std::string resolve(const std::string& target) const {
    if (target.starts_with("http://") || target.starts_with("https://")) return target;
    std::string base = options_.base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    if (target.empty()) return base;
    return target.front() == '/' ? base + target : base + "/" + target;
  }

  HttpClientOptions options_;
  CURL* handle_ = nullptr;
  std::mutex mutex_;
};
}  // namespace

HttpHeaders::HttpHeaders(std::initializer_list<std::pair<std::string, std::string>> headers)
    : list_(headers) {}

void HttpHeaders::add(std::string name, std::string value) {
  list_.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string> HttpHeaders::get(std::string_view name) const {
  for (const auto& [n, v] : list_)
    if (iequals(n, name)) return v;
  return std::nullopt;
}

std::unique_ptr<HttpClient> make_http_client(HttpClientOptions options) {
  return std::make_unique<CurlHttpClient>(std::move(options));
}

}  // namespace mailroom
