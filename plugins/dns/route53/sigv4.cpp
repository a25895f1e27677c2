#include "sigv4.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>

namespace route53::sigv4 {
namespace {

constexpr const char* kAlgorithm = "AWS4-HMAC-SHA256";

std::string hex(const unsigned char* data, std::size_t size) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0xf];
  }
  return out;
}

std::string hmac(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), mac, &size);
  return std::string(reinterpret_cast<const char*>(mac), size);
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

bool unreserved(unsigned char c) { return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// RFC 3986's remove_dot_segments, with empty segments (repeated slashes) dropped too.
std::string normalized(const std::string& path) {
  std::vector<std::string> kept;
  std::size_t start = 0;
  bool trailing = false;
  while (start <= path.size()) {
    const auto end = std::min(path.find('/', start), path.size());
    const std::string segment = path.substr(start, end - start);
    const bool last = end == path.size();
    if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
    } else if (!segment.empty() && segment != ".") {
      kept.push_back(segment);
    }
    if (last) trailing = segment.empty() || segment == "." || segment == "..";
    start = end + 1;
  }
  std::string out;
  for (const auto& segment : kept) out += "/" + segment;
  if (out.empty() || trailing) out += "/";
  return out;
}

std::string canonical_query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::vector<std::pair<std::string, std::string>> encoded;
  for (const auto& [key, value] : params) encoded.emplace_back(uri_encode(key, false), uri_encode(value, false));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [key, value] : encoded) out += (out.empty() ? "" : "&") + key + "=" + value;
  return out;
}

std::vector<std::pair<std::string, std::string>> query_params(const std::string& query) {
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t start = 0;
  while (start < query.size()) {
    const auto end = std::min(query.find('&', start), query.size());
    const std::string part = query.substr(start, end - start);
    if (!part.empty()) {
      const auto eq = part.find('=');
      params.emplace_back(percent_decode(part.substr(0, eq)), eq == std::string::npos ? "" : percent_decode(part.substr(eq + 1)));
    }
    start = end + 1;
  }
  return params;
}

// Trimmed, with every run of white space (folded lines included) made one space.
std::string canonical_value(const std::string& value) {
  std::string out;
  bool space = false;
  for (unsigned char c : value) {
    if (std::isspace(c)) {
      space = !out.empty();
    } else {
      if (space) out += ' ';
      space = false;
      out += static_cast<char>(c);
    }
  }
  return out;
}

struct Canonical {
  std::string request, signed_headers;
};

// Headers by lower-case name, repeated names' values joined by commas in their order. `query`
// is in canonical form already.
Canonical canonical(const std::string& method, const std::string& path, const std::string& query,
                    const std::vector<std::pair<std::string, std::string>>& headers, const std::string& payload_hash,
                    bool normalize) {
  std::vector<std::pair<std::string, std::string>> merged;
  for (const auto& [name, value] : headers) {
    const std::string key = lower(name);
    const auto it = std::find_if(merged.begin(), merged.end(), [&](const auto& h) { return h.first == key; });
    if (it == merged.end()) merged.emplace_back(key, canonical_value(value));
    else it->second += "," + canonical_value(value);
  }
  std::stable_sort(merged.begin(), merged.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  Canonical out;
  std::string header_lines;
  for (const auto& [name, value] : merged) {
    header_lines += name + ":" + value + "\n";
    out.signed_headers += (out.signed_headers.empty() ? "" : ";") + name;
  }
  out.request = method + "\n" + uri_encode(normalize ? normalized(path) : path, true) + "\n" +
                query + "\n" + header_lines + "\n" + out.signed_headers + "\n" +
                payload_hash;
  return out;
}

std::string amz_date(std::chrono::system_clock::time_point now) {
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

bool has_header(const std::vector<std::pair<std::string, std::string>>& headers, const std::string& name) {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return lower(h.first) == name; });
}

std::string header_value(const std::vector<std::pair<std::string, std::string>>& headers, const std::string& name) {
  for (const auto& [key, value] : headers)
    if (lower(key) == name) return canonical_value(value);
  return "";
}

// The string to sign and the signature over `canonical_request`.
void finish(Signed& out, const Credentials& credentials, const Options& options, const std::string& date,
            const std::string& scope) {
  out.string_to_sign =
      std::string(kAlgorithm) + "\n" + date + "\n" + scope + "\n" + sha256_hex(out.canonical_request);
  std::string key = hmac("AWS4" + credentials.secret_access_key, date.substr(0, 8));
  key = hmac(key, options.region);
  key = hmac(key, options.service);
  key = hmac(key, "aws4_request");
  const std::string mac = hmac(key, out.string_to_sign);
  out.signature = hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
}

}  // namespace

std::string uri_encode(const std::string& text, bool keep_slash) {
  static const char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (unreserved(c) || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 0xf];
    }
  }
  return out;
}

std::string sha256_hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return hex(digest, size);
}

Signed sign_headers(const Request& request, const Credentials& credentials, const Options& options,
                    std::chrono::system_clock::time_point now) {
  Signed out;
  auto headers = request.headers;
  // A date the request already carries is the one signed (the test suites give theirs).
  std::string date = header_value(headers, "x-amz-date");
  if (date.empty()) {
    date = amz_date(now);
    out.headers.emplace_back("X-Amz-Date", date);
  }
  const std::string payload_hash = sha256_hex(request.body);
  if (options.sign_body_header) out.headers.emplace_back("x-amz-content-sha256", payload_hash);
  if (!credentials.session_token.empty() && !options.omit_session_token && !has_header(headers, "x-amz-security-token"))
    out.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  headers.insert(headers.end(), out.headers.begin(), out.headers.end());

  const auto c = canonical(request.method, request.path, canonical_query(query_params(request.query)), headers, payload_hash,
                           options.normalize_path);
  out.canonical_request = c.request;
  const std::string scope = date.substr(0, 8) + "/" + options.region + "/" + options.service + "/aws4_request";
  finish(out, credentials, options, date, scope);
  if (!credentials.session_token.empty() && options.omit_session_token)
    out.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  out.headers.emplace_back("Authorization", std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" +
                                                scope + ", SignedHeaders=" + c.signed_headers +
                                                ", Signature=" + out.signature);
  return out;
}

Signed sign_query(const Request& request, const Credentials& credentials, const Options& options,
                  std::chrono::system_clock::time_point now, std::chrono::seconds expires) {
  Signed out;
  const std::string date = amz_date(now);
  const std::string scope = date.substr(0, 8) + "/" + options.region + "/" + options.service + "/aws4_request";
  std::string signed_headers;
  {
    std::vector<std::string> names;
    for (const auto& header : request.headers) names.push_back(lower(header.first));
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    for (const auto& name : names) signed_headers += (signed_headers.empty() ? "" : ";") + name;
  }
  auto params = query_params(request.query);
  params.emplace_back("X-Amz-Algorithm", kAlgorithm);
  params.emplace_back("X-Amz-Credential", credentials.access_key_id + "/" + scope);
  params.emplace_back("X-Amz-Date", date);
  params.emplace_back("X-Amz-Expires", std::to_string(expires.count()));
  params.emplace_back("X-Amz-SignedHeaders", signed_headers);
  if (!credentials.session_token.empty() && !options.omit_session_token)
    params.emplace_back("X-Amz-Security-Token", credentials.session_token);
  const std::string query = canonical_query(params);

  // A presigned request carries no extra header: the body's hash is signed, not sent.
  out.canonical_request =
      canonical(request.method, request.path, query, request.headers, sha256_hex(request.body), options.normalize_path).request;
  finish(out, credentials, options, date, scope);
  out.query = query;
  if (!credentials.session_token.empty() && options.omit_session_token)
    out.query += "&X-Amz-Security-Token=" + uri_encode(credentials.session_token, false);
  out.query += "&X-Amz-Signature=" + out.signature;
  return out;
}

}  // namespace route53::sigv4
