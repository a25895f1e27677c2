// postbox_email: a third party's email plugin for "Postbox", a small HTTP email API
// (postbox.openapi.json beside this file). Everything provider-specific is here and in the
// manifest below: the provider name, the DSN scheme postbox:// and how its parts map, the
// settings and secrets, the capabilities. mailroom's core knows none of it.
#include <mailroom/plugin.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>

namespace {

using mailroom::ErrorKind;
using mailroom::ProviderError;
using nlohmann::json;

json address(const mailroom::Address& a) {
  json out{{"email", a.email}};
  if (!a.name.empty()) out["name"] = a.name;
  return out;
}

// Postbox's error document {"error": {"code", "message"}}, or the status when there is none.
std::pair<std::string, std::string> error_of(const mailroom::HttpResponse& response) {
  try {
    const json body = json::parse(response.body);
    const json& error = body.at("error");
    return {error.value("code", std::to_string(response.status)), error.value("message", "")};
  } catch (const json::exception&) {
    return {std::to_string(response.status), "HTTP " + std::to_string(response.status)};
  }
}

class PostboxEmail final : public mailroom::EmailProvider {
 public:
  explicit PostboxEmail(mailroom::PluginContext& context) : context_(context) {
    const auto token = context.secrets.find("token");
    if (token == context.secrets.end() || token->second.empty())
      throw ProviderError(ErrorKind::auth, "no_token", "the secret token is not set (postbox://TOKEN@default)");
    token_ = token->second;
  }

  mailroom::SendReceipt send(const mailroom::OutgoingEmail& email) override {
    const auto& m = email.message;
    if (email.envelope.rcpt_to.empty())
      throw ProviderError(ErrorKind::invalid_request, "no_recipients", "the envelope has no recipients");
    if (m.subject.find_first_of("\r\n") != std::string::npos)
      throw ProviderError(ErrorKind::invalid_request, "bad_subject", "the subject contains a line break");
    json body{{"id", email.id}, {"from", address(m.from)}, {"to", json::array()}, {"subject", m.subject}};
    for (const auto& a : m.to) body["to"].push_back(address(a));
    for (const auto& a : m.cc) body["cc"].push_back(address(a));
    // Envelope recipients the headers do not show are Bcc: Postbox takes them apart.
    for (const auto& rcpt : email.envelope.rcpt_to) {
      const auto shown = [&](const mailroom::Address& a) { return a.email == rcpt; };
      if (std::none_of(m.to.begin(), m.to.end(), shown) && std::none_of(m.cc.begin(), m.cc.end(), shown))
        body["bcc"].push_back(rcpt);
    }
    if (m.reply_to) body["reply_to"] = address(*m.reply_to);
    if (!m.text_body.empty()) body["text"] = m.text_body;
    if (!m.html_body.empty()) body["html"] = m.html_body;

    const auto response = call("POST", "/v1/messages", body.dump());
    if (response.status == 202) {
      try {
        return {json::parse(response.body).at("message_id").get<std::string>()};
      } catch (const json::exception&) {
        throw ProviderError(ErrorKind::transient, "bad_response", "Postbox accepted the message but sent no message_id");
      }
    }
    throw failure(response);
  }

  // GET /v1/account: read-only, proves the token without sending anything.
  mailroom::VerifyReport verify() override {
    const auto response = call("GET", "/v1/account", "");
    if (response.status != 200) throw failure(response);
    // Postbox has no way to ask which senders an account may use: say so rather than pass.
    return {{"the sender " + context_.sender + ": Postbox cannot tell which senders an account may use"}};
  }

 private:
  mailroom::HttpResponse call(const std::string& method, const std::string& target, std::string body) {
    mailroom::HttpRequest request;
    request.method = method;
    request.target = target;
    request.headers.add("Authorization", "Bearer " + token_);
    if (!body.empty()) request.headers.add("Content-Type", "application/json");
    request.body = std::move(body);
    return context_.http.send(request);
  }

  static ProviderError failure(const mailroom::HttpResponse& response) {
    auto [code, message] = error_of(response);
    if (response.status == 401 || response.status == 403) return ProviderError(ErrorKind::auth, code, message);
    if (response.status == 400 || response.status == 413 || response.status == 422)
      return ProviderError(ErrorKind::invalid_request, code, message);
    if (response.status == 429) {
      std::optional<std::chrono::seconds> after;
      if (const auto header = response.headers.get("Retry-After")) {
        long seconds = 0;
        const auto [end, ec] = std::from_chars(header->data(), header->data() + header->size(), seconds);
        if (ec == std::errc() && end == header->data() + header->size()) after = std::chrono::seconds(seconds);
      }
      return ProviderError(ErrorKind::rate_limited, code, message, after);
    }
    if (response.status >= 500) return ProviderError(ErrorKind::transient, code, message);
    return ProviderError(ErrorKind::permanent, code, message);
  }

  mailroom::PluginContext& context_;
  std::string token_;
};

}  // namespace

MAILROOM_EMAIL_PLUGIN(PostboxEmail, R"json({
  "name": "postbox",
  "version": "1.0.0",
  "description": "Example third-party plugin: email through the Postbox HTTP API",
  "endpoint": "https://api.postbox.example",
  "config_schema": {
    "type": "object",
    "additionalProperties": false,
    "properties": {
      "base_url": { "type": "string", "pattern": "^https?://", "description": "another Postbox endpoint (tests, regions)" }
    }
  },
  "secrets": ["token"],
  "dsn": { "postbox": { "user": "token" } },
  "capabilities": { "max_recipients": 50, "max_message_bytes": 1048576, "requests_per_second": 100 }
})json")
