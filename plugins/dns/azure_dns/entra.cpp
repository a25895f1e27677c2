#include "entra.hpp"

#include <mailroom/error.hpp>

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <nlohmann/json.hpp>

#include <charconv>

namespace azure_dns::entra {
namespace {

using mailroom::ErrorKind;
using mailroom::ProviderError;
using nlohmann::json;

std::string encoded(std::string_view text) { return boost::urls::encode(text, boost::urls::unreserved_chars); }

// The first AADSTS number of an error_description ("AADSTS7000215: Invalid client secret ...").
long aadsts_code(const json& answer) {
  if (answer.contains("error_codes") && answer["error_codes"].is_array() && !answer["error_codes"].empty() &&
      answer["error_codes"][0].is_number_integer())
    return answer["error_codes"][0].get<long>();
  const std::string description = answer.value("error_description", std::string());
  const auto at = description.find("AADSTS");
  long code = 0;
  if (at != std::string::npos) std::from_chars(description.data() + at + 6, description.data() + description.size(), code);
  return code;
}

// Entra ID's description up to its trace and correlation ids (which say nothing to the deployer).
std::string first_line(const std::string& description) { return description.substr(0, description.find_first_of("\r\n")); }

}  // namespace

std::string advice(long code, const ClientCredentials& c) {
  switch (code) {
    case 7000215:
      return "the client_secret is not a valid secret of app " + c.client_id +
             ": set the secret's Value (not its Secret ID) from Certificates & secrets of the app registration";
    case 7000222:
      return "the client_secret of app " + c.client_id + " has expired: add a new client secret to the app registration and set it";
    case 700016:
      return "no app with client_id " + c.client_id + " exists in tenant " + c.tenant_id +
             ": check client_id (the Application (client) ID) and tenant_id (the Directory (tenant) ID)";
    case 90002:
      return "tenant_id " + c.tenant_id + " names no Entra ID tenant: use the Directory (tenant) ID of the app registration";
    case 900023:
      return "tenant_id " + c.tenant_id + " is neither a tenant GUID nor a domain name";
    case 7000112:
      return "app " + c.client_id + " is disabled in tenant " + c.tenant_id + ": enable its service principal";
    case 70011:
    case 1002012:
      return "the scope " + c.scope + " is not valid: it must be the Resource Manager endpoint followed by /.default";
    case 700024:
    case 7000114:
      return "app " + c.client_id + " may not use the client-credentials grant in this tenant";
    default:
      return "";
  }
}

mailroom::Credential obtain(mailroom::PluginContext& context, const ClientCredentials& c) {
  mailroom::HttpRequest request;
  request.method = "POST";
  request.target = c.authority + "/" + encoded(c.tenant_id) + "/oauth2/v2.0/token";
  request.headers.add("Content-Type", "application/x-www-form-urlencoded");
  request.headers.add("Accept", "application/json");
  request.body = "grant_type=client_credentials&client_id=" + encoded(c.client_id) + "&client_secret=" +
                 encoded(c.client_secret) + "&scope=" + encoded(c.scope);
  const auto response = context.http.send(request);
  const json answer = json::parse(response.body, nullptr, false);
  if (response.status == 200 && answer.is_object() && answer.contains("access_token") && answer["access_token"].is_string()) {
    long long lifetime = 3599;
    if (const auto it = answer.find("expires_in"); it != answer.end() && it->is_number_integer()) lifetime = it->get<long long>();
    return {answer["access_token"].get<std::string>(), context.clock.now() + std::chrono::seconds(lifetime)};
  }
  const bool known_shape = answer.is_object() && answer.contains("error");
  const std::string error = known_shape ? answer.value("error", std::string()) : "HTTP " + std::to_string(response.status);
  const long code = known_shape ? aadsts_code(answer) : 0;
  const std::string said = "Entra ID refused the token request: " + error +
                           (known_shape ? " (" + first_line(answer.value("error_description", std::string())) + ")" : "");
  const std::string error_code = code != 0 ? "AADSTS" + std::to_string(code) : error;
  if (response.status == 429) throw ProviderError(ErrorKind::rate_limited, error_code, said, std::chrono::seconds(5));
  if (response.status >= 500 || error == "temporarily_unavailable")
    throw ProviderError(ErrorKind::transient, error_code, said);
  const std::string what_to_do = advice(code, c);
  throw ProviderError(ErrorKind::auth, error_code,
                      said + ": " + (what_to_do.empty() ? "check tenant_id, client_id and client_secret of the app registration"
                                                        : what_to_do));
}

}  // namespace azure_dns::entra
