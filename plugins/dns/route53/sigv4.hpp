// AWS Signature Version 4 (header signing, and query signing for presigned URLs), from OpenSSL's
// HMAC-SHA256 and SHA-256. Written here because no Debian 12 library offers it to C++ without
// the whole AWS SDK (aws-c-auth and aws-sdk-cpp are not packaged); both official test suites
// (tests/data/route53/, shared/specs/route53/) pass byte-exact: tests/conformance/sigv4_test.cpp.
//
// The request is given as it goes on the wire: `path` already percent-encoded where it needs to
// be (it is encoded once more for the canonical request, as every service but S3 wants), `query`
// as written after the '?'.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace route53::sigv4 {

struct Credentials {
  std::string access_key_id, secret_access_key;
  std::string session_token;  // temporary credentials (STS); empty for long-term keys
};

struct Request {
  std::string method = "GET";
  std::string path = "/";
  std::string query;  // without the '?'
  std::vector<std::pair<std::string, std::string>> headers;  // must include Host
  std::string body;
};

struct Options {
  std::string region = "us-east-1";
  std::string service;
  bool normalize_path = true;       // remove dot segments and repeated slashes (all services but S3)
  bool sign_body_header = false;    // header signing: add x-amz-content-sha256 (S3-style services)
  bool omit_session_token = false;  // add the token after signing (services that do not sign it)
};

struct Signed {
  std::string canonical_request, string_to_sign, signature;
  // Header signing: what to add to the request (X-Amz-Date, X-Amz-Security-Token,
  // x-amz-content-sha256 where asked, Authorization). Query signing: the query to send instead.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string query;
};

// Signs with an Authorization header at `now`.
Signed sign_headers(const Request& request, const Credentials& credentials, const Options& options,
                    std::chrono::system_clock::time_point now);

// Signs in the query string (a presigned URL valid for `expires`).
Signed sign_query(const Request& request, const Credentials& credentials, const Options& options,
                  std::chrono::system_clock::time_point now, std::chrono::seconds expires);

// Percent-encodes everything but the unreserved characters (and '/' when `keep_slash`), with
// upper-case hex, as SigV4's UriEncode does (and Route 53's query parameters want).
std::string uri_encode(const std::string& text, bool keep_slash);

// Lower-case hex SHA-256 of `data` (the payload hash of the canonical request).
std::string sha256_hex(const std::string& data);

}  // namespace route53::sigv4
