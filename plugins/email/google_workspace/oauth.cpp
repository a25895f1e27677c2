#include "oauth.hpp"

#include <mailroom/error.hpp>

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <charconv>
#include <memory>

namespace google_workspace {
namespace {

using mailroom::ErrorKind;
using mailroom::ProviderError;
using nlohmann::json;

std::string form(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    out += boost::urls::encode(name, boost::urls::unreserved_chars);
    out += '=';
    out += boost::urls::encode(value, boost::urls::unreserved_chars);
  }
  return out;
}

// What an error of the token endpoint means for the deployer (RFC 6749 5.2 codes).
std::string advice(const std::string& error, bool service_account) {
  if (error == "invalid_grant")
    return service_account
               ? "Google refused the service account's assertion: the key was deleted or disabled, the user is not in "
                 "the Workspace domain, or this host's clock is off by minutes"
               : "the refresh token was revoked or has expired (a consent screen still in \"Testing\" lets refresh "
                 "tokens expire after 7 days): run the consent flow again and store the new refresh_token";
  if (error == "unauthorized_client")
    return service_account
               ? "domain-wide delegation is not granted: in the Admin console (Security > API controls > Domain-wide "
                 "delegation) allow the service account's client id the scope " + std::string(kSendScope)
               : "this OAuth client may not use this grant or scope: check the client id and its consent screen";
  if (error == "invalid_client") return "the OAuth client id or client secret is wrong";
  return "the token endpoint refused the request";
}

mailroom::Credential request_token(mailroom::PluginContext& context, const std::string& token_url, std::string body,
                                   bool service_account) {
  mailroom::HttpRequest request;
  request.method = "POST";
  request.target = token_url;
  request.headers.add("Content-Type", "application/x-www-form-urlencoded");
  request.headers.add("Accept", "application/json");
  request.body = std::move(body);
  const auto response = context.http.send(request);
  const json answer = json::parse(response.body, nullptr, false);
  if (response.status == 200 && answer.is_object() && answer.contains("access_token") && answer["access_token"].is_string()) {
    long long lifetime = 3600;
    if (const auto it = answer.find("expires_in"); it != answer.end()) {
      if (it->is_number_integer()) lifetime = it->get<long long>();
      else if (it->is_string()) {  // Google's library accepts it as a string too
        const auto& text = it->get_ref<const std::string&>();
        std::from_chars(text.data(), text.data() + text.size(), lifetime);
      }
    }
    return {answer["access_token"].get<std::string>(), context.clock.now() + std::chrono::seconds(lifetime)};
  }
  const std::string error = answer.is_object() ? answer.value("error", std::string()) : "";
  const std::string description = answer.is_object() ? answer.value("error_description", std::string()) : "";
  const std::string said = error.empty() ? "HTTP " + std::to_string(response.status)
                                         : error + (description.empty() ? "" : " (" + description + ")");
  if (response.status == 429 || response.status >= 500 || error == "temporarily_unavailable" || error == "server_error")
    throw ProviderError(ErrorKind::transient, error.empty() ? std::to_string(response.status) : error,
                        "Google's token endpoint failed: " + said);
  throw ProviderError(ErrorKind::auth, error.empty() ? std::to_string(response.status) : error,
                      "Google's token endpoint said " + said + ": " + advice(error, service_account));
}

}  // namespace

std::string base64url(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

ServiceAccount ServiceAccount::parse(const std::string& key_file_json) {
  const json key = json::parse(key_file_json, nullptr, false);
  ServiceAccount account;
  if (key.is_object()) {
    account.client_email = key.value("client_email", std::string());
    account.private_key_pem = key.value("private_key", std::string());
    account.private_key_id = key.value("private_key_id", std::string());
  }
  if (account.client_email.empty() || account.private_key_pem.empty())
    throw ProviderError(ErrorKind::invalid_request, "service_account_key",
                        "service_account_key is not a service account's JSON key file (it needs client_email and "
                        "private_key): download one under IAM > Service accounts > Keys");
  return account;
}

std::string signed_assertion(const ServiceAccount& account, const std::string& user, const std::string& scope,
                             const std::string& audience, std::chrono::system_clock::time_point now) {
  const long long issued = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  json header{{"alg", "RS256"}, {"typ", "JWT"}};
  if (!account.private_key_id.empty()) header["kid"] = account.private_key_id;
  const json claims{{"iss", account.client_email}, {"sub", user},          {"scope", scope},
                    {"aud", audience},             {"iat", issued},        {"exp", issued + 3600}};
  const std::string signing_input = base64url(header.dump()) + "." + base64url(claims.dump());

  std::unique_ptr<BIO, decltype(&BIO_free)> pem(BIO_new_mem_buf(account.private_key_pem.data(),
                                                                static_cast<int>(account.private_key_pem.size())),
                                                BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_bio_PrivateKey(pem.get(), nullptr, nullptr, nullptr),
                                                          EVP_PKEY_free);
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA)
    throw ProviderError(ErrorKind::invalid_request, "service_account_key",
                        "the service account key's private_key is not an RSA key in PEM form");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::size_t length = 0;
  if (EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(context.get(), nullptr, &length, reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1)
    throw ProviderError(ErrorKind::invalid_request, "service_account_key", "could not sign with the service account key");
  std::string signature(length, '\0');
  if (EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) != 1)
    throw ProviderError(ErrorKind::invalid_request, "service_account_key", "could not sign with the service account key");
  signature.resize(length);
  return signing_input + "." + base64url(signature);
}

mailroom::Credential obtain(mailroom::PluginContext& context, const std::string& token_url, const RefreshTokenGrant& grant) {
  return request_token(context, token_url,
                       form({{"grant_type", "refresh_token"},
                             {"client_id", grant.client_id},
                             {"client_secret", grant.client_secret},
                             {"refresh_token", grant.refresh_token}}),
                       false);
}

mailroom::Credential obtain(mailroom::PluginContext& context, const std::string& token_url, const ServiceAccount& account,
                            const std::string& user, std::string_view scope) {
  const std::string assertion = signed_assertion(account, user, std::string(scope), token_url, context.clock.now());
  return request_token(context, token_url,
                       form({{"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"}, {"assertion", assertion}}),
                       true);
}

}  // namespace google_workspace
