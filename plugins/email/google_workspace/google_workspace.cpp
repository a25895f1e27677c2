// google_workspace: email as a Google Workspace user through the Gmail API
// (users.messages.send), authenticated by an OAuth client's refresh token or by a service
// account with domain-wide delegation (oauth.hpp).
//
// The message is built by the SDK (mime::build: Google signs it with DKIM itself) with the
// Message-ID mailroom chose, plus a Bcc header for the envelope's recipients the headers do not
// show: Gmail sends to To, Cc and Bcc and removes the Bcc header. Up to kRawLimit it goes as
// JSON {"raw": base64url}; above, to the media upload endpoint as message/rfc822; above Gmail's
// 35 MiB it is refused. The access token lives in the host's CredentialCache (the seed's
// google_oauth_token_encrypted): obtained once for every worker and host, renewed when it has
// less than 5 minutes left, and once more after a 401 before failing with auth.
// Errors: Google's {"error": {code, message, errors: [{reason}]}} -> kinds (error_of below).
#include "oauth.hpp"

#include <mailroom/mime.hpp>
#include <mailroom/plugin.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <set>

namespace {

using google_workspace::ServiceAccount;
using mailroom::ErrorKind;
using mailroom::ProviderError;
using nlohmann::json;

// JSON requests to Google APIs are limited in size well below Gmail's message limit: above
// this the media upload endpoint takes the message as it is (no base64 growth either).
constexpr std::size_t kRawLimit = 4 * 1024 * 1024;
constexpr std::size_t kMaxMessageBytes = 36700160;  // the discovery document's mediaUpload maxSize (35 MiB)
constexpr auto kTokenMargin = std::chrono::minutes(5);

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::optional<std::chrono::seconds> retry_after(const mailroom::HttpResponse& response) {
  const auto header = response.headers.get("Retry-After");
  long seconds = 0;
  if (!header || std::from_chars(header->data(), header->data() + header->size(), seconds).ec != std::errc())
    return std::nullopt;
  return std::chrono::seconds(std::max(1L, seconds));
}

// Google's error document to a kind, with what the deployer should do.
ProviderError error_of(const mailroom::HttpResponse& response) {
  const json body = json::parse(response.body, nullptr, false);
  std::string message = "HTTP " + std::to_string(response.status), reason, status;
  if (body.is_object() && body.contains("error") && body["error"].is_object()) {
    const json& e = body["error"];
    message = e.value("message", message);
    status = e.value("status", std::string());
    if (e.contains("errors") && e["errors"].is_array() && !e["errors"].empty() && e["errors"][0].is_object())
      reason = e["errors"][0].value("reason", std::string());
  }
  const std::string code = !reason.empty() ? reason : !status.empty() ? status : std::to_string(response.status);
  const std::string said = "Gmail: " + message;
  const std::string lowered = lower(message);
  // "Daily user sending limit exceeded" and the other sending-limit messages say it in words.
  if (reason == "dailyLimitExceeded" || reason == "quotaExceeded" || lowered.find("sending limit") != std::string::npos)
    // Google counts the limit over a rolling 24 hours and may keep the user locked out that
    // long: the queue waits the whole window unless Google says otherwise.
    return ProviderError(ErrorKind::quota, code, said + " (the user's daily sending limit; sending resumes when it resets)",
                         retry_after(response).value_or(std::chrono::hours(24)));
  if (response.status == 429 || reason == "rateLimitExceeded" || reason == "userRateLimitExceeded")
    return ProviderError(ErrorKind::rate_limited, code, said, retry_after(response).value_or(std::chrono::seconds(1)));
  if (response.status == 401)
    return ProviderError(ErrorKind::auth, code, said + ": the access token was refused twice; check the credentials");
  if (reason == "failedPrecondition" || status == "FAILED_PRECONDITION")
    return ProviderError(ErrorKind::auth, code,
                         said + ": Gmail is not enabled for this user, or domain-wide delegation does not cover it");
  if (response.status == 403)
    return ProviderError(ErrorKind::auth, code,
                         said + ": the token lacks the scope " + std::string(google_workspace::kSendScope) +
                             " or the Gmail API is not enabled in the Google Cloud project");
  if (response.status == 400 || response.status == 413)
    return ProviderError(ErrorKind::invalid_request, code, said);
  if (response.status >= 500)
    return ProviderError(ErrorKind::transient, code, said + " (Gmail may have sent it all the same: a retry can send it twice)");
  return ProviderError(ErrorKind::permanent, code, said);
}

class GoogleWorkspace final : public mailroom::EmailProvider {
 public:
  explicit GoogleWorkspace(mailroom::PluginContext& context) : context_(context) {
    user_ = context.config.value("user", std::string());
    token_url_ = context.config.value("token_url", std::string(google_workspace::kTokenEndpoint));
    const auto secret = [&](const char* name) {
      const auto it = context.secrets.find(name);
      return it == context.secrets.end() ? std::string() : it->second;
    };
    if (const std::string key = secret("service_account_key"); !key.empty()) {
      if (user_.empty())
        throw ProviderError(ErrorKind::invalid_request, "no_user",
                            "a service account sends as a user of the domain: set the setting user (its address)");
      account_ = ServiceAccount::parse(key);
    } else {
      grant_ = {context.config.value("client_id", std::string()), secret("client_secret"), secret("refresh_token")};
      if (grant_.client_id.empty() || grant_.client_secret.empty() || grant_.refresh_token.empty())
        throw ProviderError(ErrorKind::auth, "no_credentials",
                            "set either the secret service_account_key (a service account with domain-wide delegation) "
                            "or the setting client_id with the secrets client_secret and refresh_token (an OAuth client)");
    }
  }

  mailroom::SendReceipt send(const mailroom::OutgoingEmail& email) override {
    if (email.envelope.rcpt_to.empty())
      throw ProviderError(ErrorKind::invalid_request, "no_recipients", "the envelope has no recipients");
    const std::string message = raw_message(email);
    if (message.size() > kMaxMessageBytes)
      throw ProviderError(ErrorKind::invalid_request, "too_large",
                          "the message is " + std::to_string(message.size()) + " bytes; Gmail takes at most " +
                              std::to_string(kMaxMessageBytes));
    mailroom::HttpRequest request;
    request.method = "POST";
    if (message.size() <= kRawLimit) {
      request.target = "/gmail/v1/users/me/messages/send";
      request.headers.add("Content-Type", "application/json");
      request.body = json{{"raw", google_workspace::base64url(message)}}.dump();
    } else {
      request.target = "/upload/gmail/v1/users/me/messages/send?uploadType=media";
      request.headers.add("Content-Type", "message/rfc822");
      request.body = message;
    }
    const auto response = authorised(request);
    if (response.status == 200) {
      const json body = json::parse(response.body, nullptr, false);
      if (body.is_object() && body.contains("id") && body["id"].is_string()) return {body["id"].get<std::string>()};
      context_.log.warn("Gmail accepted email " + email.id + " without a message id");
      return {""};
    }
    throw error_of(response);
  }

  // Obtains a new access token, past the cache (it may hold one from before the credentials
  // changed): proves the client and refresh token, or the service account, its delegation for
  // the send scope and the user. Then checks the sender: Gmail silently replaces a From that is
  // neither the user nor one of its send-as aliases. Nothing is sent.
  mailroom::VerifyReport verify() override {
    const auto credential = obtain();
    mailroom::VerifyReport report;
    const std::string sender = lower(context_.sender);
    if (sender.empty() || sender == lower(user_)) return report;
    std::optional<std::string> token = credential.value;
    if (account_) {
      // The send token cannot read settings: ask for the settings scope, which the delegation
      // may not grant.
      try {
        token = google_workspace::obtain(context_, token_url_, *account_, user_, google_workspace::kSettingsScope).value;
      } catch (const ProviderError& e) {
        if (e.kind() != ErrorKind::auth) throw;
        token.reset();
      }
    }
    mailroom::HttpResponse response;
    if (token) {
      mailroom::HttpRequest request{"GET", "/gmail/v1/users/me/settings/sendAs", {}, ""};
      request.headers.add("Authorization", "Bearer " + *token);
      response = context_.http.send(request);
    }
    if (!token || response.status == 403) {
      report.unchecked.push_back(
          "the sender " + context_.sender + " was not checked against the user's send-as aliases: " +
          (account_ ? "domain-wide delegation does not grant the service account "
                    : "the refresh token was not granted ") +
          std::string(google_workspace::kSettingsScope) + "; grant it to have verify check the From address");
      return report;
    }
    if (response.status != 200) throw error_of(response);
    const json body = json::parse(response.body, nullptr, false);
    std::vector<std::string> aliases;
    if (body.is_object() && body.contains("sendAs") && body["sendAs"].is_array())
      for (const auto& alias : body["sendAs"]) {
        if (!alias.is_object() || !alias.contains("sendAsEmail") || !alias["sendAsEmail"].is_string()) continue;
        const std::string address = alias["sendAsEmail"];
        const bool usable = alias.value("isPrimary", false) || alias.value("verificationStatus", std::string("accepted")) == "accepted";
        if (lower(address) == sender) {
          if (usable) return report;
          throw ProviderError(ErrorKind::auth, "sender_not_verified",
                              "the sender " + context_.sender + " is a send-as alias awaiting verification: confirm it "
                              "(Gmail settings > Accounts > Send mail as) or Gmail will send as the user instead");
        }
        if (usable) aliases.push_back(address);
      }
    std::string listed;
    for (const auto& address : aliases) listed += (listed.empty() ? "" : ", ") + address;
    throw ProviderError(ErrorKind::auth, "sender_not_allowed",
                        "Gmail would replace the From address " + context_.sender +
                            ": it is neither the user nor one of its send-as aliases (" + listed +
                            "); add it as an alias (Gmail settings > Accounts > Send mail as) or change the "
                            "configuration's from address");
  }

 private:
  std::string raw_message(const mailroom::OutgoingEmail& email) const {
    const auto& m = email.message;
    auto built = mailroom::mime::build(m);
    // Envelope recipients the headers do not show are Bcc: a header Gmail reads and removes.
    std::set<std::string> shown;
    for (const auto& a : m.to) shown.insert(lower(a.email));
    for (const auto& a : m.cc) shown.insert(lower(a.email));
    std::string bcc;
    for (const auto& rcpt : email.envelope.rcpt_to)
      if (shown.insert(lower(rcpt)).second) bcc += (bcc.empty() ? "" : ",\r\n ") + mailroom::mime::format_address({rcpt, ""});
    return bcc.empty() ? built.data : "Bcc: " + bcc + "\r\n" + built.data;
  }

  mailroom::Credential obtain() {
    return account_ ? google_workspace::obtain(context_, token_url_, *account_, user_)
                    : google_workspace::obtain(context_, token_url_, grant_);
  }

  // Sends with the kept token; a 401 (revoked before its expiry) discards it and tries once
  // more with a new one.
  mailroom::HttpResponse authorised(mailroom::HttpRequest request) {
    for (int attempt = 0;; ++attempt) {
      const auto credential = context_.credentials.get(context_.clock.now() + kTokenMargin, [&] { return obtain(); });
      auto with_token = request;
      with_token.headers.add("Authorization", "Bearer " + credential.value);
      auto response = context_.http.send(with_token);
      if (response.status != 401 || attempt == 1) return response;
      context_.credentials.discard(credential.value);
    }
  }

  mailroom::PluginContext& context_;
  std::string user_, token_url_;
  std::optional<ServiceAccount> account_;
  google_workspace::RefreshTokenGrant grant_;
};

}  // namespace

MAILROOM_EMAIL_PLUGIN(GoogleWorkspace, R"json({
  "name": "google_workspace",
  "version": "0.1.0",
  "description": "Google Workspace: the Gmail API as a user, by OAuth refresh token or service account delegation",
  "endpoint": "https://gmail.googleapis.com",
  "config_schema": {
    "type": "object",
    "additionalProperties": false,
    "properties": {
      "user": { "type": "string", "minLength": 3, "description": "the Workspace user to send as (required with a service account)" },
      "client_id": { "type": "string", "minLength": 1, "description": "the OAuth client's id (with client_secret and refresh_token)" },
      "token_url": { "type": "string", "pattern": "^https?://", "description": "Google's token endpoint (tests point it at a fake)" },
      "base_url": { "type": "string", "pattern": "^https?://", "description": "the Gmail API root (tests point it at a mock)" }
    }
  },
  "secrets": ["client_secret", "refresh_token", "service_account_key"],
  "columns": { "google_oauth_refresh_token_encrypted": "refresh_token",
               "google_service_account_encrypted": "service_account_key" },
  "credential_column": "google_oauth_token_encrypted",
  "capabilities": { "max_recipients": 100, "max_message_bytes": 36700160, "attachments": true,
                    "quota": "daily_hourly", "daily_limit": 2000, "sends_in_flight": 8 }
})json")
