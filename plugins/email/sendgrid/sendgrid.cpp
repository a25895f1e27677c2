// sendgrid: email through Twilio SendGrid's v3 Mail Send API (POST /v3/mail/send, API key as
// Bearer), and SendGrid's Signed Event Webhook back (event_webhook.hpp).
//
// The whole Message goes into one personalization: To and Cc as the headers show them, every
// other envelope recipient as Bcc (SendGrid builds the envelope from the personalization and
// never writes Bcc into a header); mailroom's email id rides along as the custom argument
// mailroom_email_id, which SendGrid copies into every event of the message. The Message-ID
// mailroom chose goes in "headers", so every attempt carries the same one.
// Errors: 400's error list -> invalid_request naming SendGrid's fields; 401/403 -> auth;
// 413 -> invalid_request; 429 -> rate_limited until X-RateLimit-Reset; 5xx -> transient;
// transport failures are the HTTP client's transient errors.
#include "event_webhook.hpp"

#include <mailroom/plugin.hpp>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

namespace {

using mailroom::ErrorKind;
using mailroom::ProviderError;
using nlohmann::json;

constexpr const char* kEuEndpoint = "https://api.eu.sendgrid.com";

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// A value that becomes a header line of the message SendGrid builds.
void check_single_line(const std::string& what, const std::string& value) {
  if (value.find_first_of("\r\n") != std::string::npos)
    throw ProviderError(ErrorKind::invalid_request, "line_break", "the " + what + " contains a line break");
}

json address(const mailroom::Address& a, const std::string& role) {
  check_single_line(role + " address", a.email);
  check_single_line(role + " name", a.name);
  json out{{"email", a.email}};
  if (!a.name.empty()) out["name"] = a.name;
  return out;
}

std::string base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

class SendGrid final : public mailroom::EmailProvider {
 public:
  explicit SendGrid(mailroom::PluginContext& context) : context_(context) {
    const auto key = context.secrets.find("api_key");
    if (key == context.secrets.end() || key->second.empty())
      throw ProviderError(ErrorKind::auth, "no_api_key",
                          "the secret api_key is not set (sendgrid+api://API_KEY@default, or --secret api_key)");
    authorization_ = "Bearer " + key->second;
    // The EU endpoint serves EU-pinned subusers; an explicit base_url (a proxy, a test) wins.
    if (!context.config.contains("base_url") && context.config.value("region", "global") == "eu") root_ = kEuEndpoint;
    if (const auto it = context.config.find("webhook_public_key"); it != context.config.end())
      webhook_key_.emplace(it->get<std::string>());
    max_age_ = std::chrono::seconds(context.config.value("webhook_max_age_seconds", 600));
  }

  mailroom::SendReceipt send(const mailroom::OutgoingEmail& email) override {
    const auto response = post("/v3/mail/send", body_of(email, false));
    if (response.status == 202) {
      auto id = response.headers.get("X-Message-Id");
      if (!id || id->empty()) {
        // Accepted all the same: failing now would send it twice. Its events still find it
        // by the mailroom_email_id argument.
        context_.log.warn("SendGrid accepted email " + email.id + " without an X-Message-Id header");
        return {""};
      }
      return {*id};
    }
    throw failure(response);
  }

  // A Mail Send request in sandbox mode: SendGrid authenticates the key, checks that it may
  // send mail (the Mail Send permission) and validates the request, then answers 200 without
  // delivering anything. A read-only call such as GET /v3/scopes would prove the key but not
  // that it may send, and is not in the API document this plugin is tested against.
  // A sandbox-mode send from the configuration's sender: SendGrid checks the key, its Mail Send
  // permission and that the sender is a verified Sender Identity, and delivers nothing.
  mailroom::VerifyReport verify() override {
    mailroom::OutgoingEmail probe;
    probe.id = "verify";
    probe.message.from = {context_.sender.empty() ? std::string("verify@example.com") : context_.sender, ""};
    probe.message.to = {{"verify@example.com", ""}};
    probe.envelope.rcpt_to = {"verify@example.com"};
    probe.message.subject = "mailroom credential check (sandbox mode: never delivered)";
    probe.message.text_body = "sandbox";
    const auto response = post("/v3/mail/send", body_of(probe, true));
    if (response.status == 200 || response.status == 202) return {};
    throw failure(response);
  }

  std::vector<mailroom::DeliveryEvent> parse_webhook(const mailroom::HttpRequest& request) override {
    if (!webhook_key_)
      throw ProviderError(ErrorKind::auth, "no_webhook_key",
                          "this configuration has no webhook_public_key: enable the Signed Event Webhook in SendGrid "
                          "and set its verification key (docs/providers/sendgrid.md)");
    const auto signature = request.headers.get(sendgrid::kSignatureHeader);
    const auto timestamp = request.headers.get(sendgrid::kTimestampHeader);
    if (!signature || !timestamp)
      throw ProviderError(ErrorKind::auth, "unsigned",
                          "the request has no " + std::string(signature ? sendgrid::kTimestampHeader : sendgrid::kSignatureHeader) +
                              " header: only signed Event Webhook requests are accepted");
    if (!webhook_key_->verifies(*signature, *timestamp, request.body))
      throw ProviderError(ErrorKind::auth, "signature", "the Event Webhook signature does not match the body and timestamp");
    // Checked after the signature, which covers the timestamp: a replayed request keeps its
    // old timestamp and is refused once it is older than the window.
    // Compared in whole seconds: any number fits (a time_point in nanoseconds would overflow).
    long long seconds = 0;
    const auto [end, ec] = std::from_chars(timestamp->data(), timestamp->data() + timestamp->size(), seconds);
    const long long now =
        std::chrono::duration_cast<std::chrono::seconds>(context_.clock.now().time_since_epoch()).count();
    if (ec != std::errc() || end != timestamp->data() + timestamp->size() || seconds < now - max_age_.count() ||
        seconds > now + max_age_.count())
      throw ProviderError(ErrorKind::auth, "stale",
                          "the Event Webhook timestamp is more than " + std::to_string(max_age_.count()) +
                              " seconds from this host's clock (webhook_max_age_seconds): a replay, or a clock to fix");
    return sendgrid::parse_events(request.body);
  }

  // SendGrid's envelope sender is its own bounce domain; a domain that sends through it without
  // SendGrid's domain authentication (its CNAMEs are per account: see the docs) lets SendGrid's
  // servers send as it by this SPF mechanism.
  std::vector<mailroom::RecordSpec> dns_requirements(const std::string& domain) override {
    return {{mailroom::RecordType::SPF, domain, "include:sendgrid.net", 3600, std::nullopt}};
  }

 private:
  json body_of(const mailroom::OutgoingEmail& email, bool sandbox) const {
    const auto& m = email.message;
    if (email.envelope.rcpt_to.empty())
      throw ProviderError(ErrorKind::invalid_request, "no_recipients", "the envelope has no recipients");
    if (m.to.empty())
      throw ProviderError(ErrorKind::invalid_request, "no_to", "SendGrid needs at least one To recipient");
    check_single_line("subject", m.subject);

    // SendGrid refuses an address that appears twice in one personalization (To, Cc, Bcc).
    std::set<std::string> seen;
    json personalization{{"to", json::array()}};
    for (const auto& a : m.to)
      if (seen.insert(lower(a.email)).second) personalization["to"].push_back(address(a, "To"));
    for (const auto& a : m.cc)
      if (seen.insert(lower(a.email)).second) personalization["cc"].push_back(address(a, "Cc"));
    for (const auto& rcpt : email.envelope.rcpt_to)
      if (seen.insert(lower(rcpt)).second) personalization["bcc"].push_back(address({rcpt, ""}, "Bcc"));
    // The application's metadata rides along in custom_args (SendGrid echoes them in every
    // event), beside the email id mailroom matches events by, which it cannot override.
    json custom_args = json::object();
    for (const auto& [key, value] : email.metadata) custom_args[key] = value;
    custom_args[std::string(sendgrid::kEmailIdArgument)] = email.id;
    if (custom_args.dump().size() > 10000)
      throw ProviderError(ErrorKind::invalid_request, "custom_args_too_large",
                          "the email's metadata is larger than SendGrid's 10,000 bytes of custom_args");
    personalization["custom_args"] = std::move(custom_args);

    json body{{"personalizations", json::array({personalization})}, {"from", address(m.from, "From")}};
    if (m.reply_to) body["reply_to"] = address(*m.reply_to, "Reply-To");
    if (!m.subject.empty()) body["subject"] = m.subject;
    // text/plain first: SendGrid requires that order.
    if (!m.text_body.empty()) body["content"].push_back({{"type", "text/plain"}, {"value", m.text_body}});
    if (!m.html_body.empty()) body["content"].push_back({{"type", "text/html"}, {"value", m.html_body}});
    if (!body.contains("content"))
      throw ProviderError(ErrorKind::invalid_request, "no_content", "the email has neither a text nor an HTML body");
    for (const auto& a : m.attachments) {
      check_single_line("attachment filename", a.filename);
      json attachment{{"content", base64(a.content)}, {"filename", a.filename},
                      {"disposition", a.content_id.empty() ? "attachment" : "inline"}};
      if (!a.content_type.empty()) attachment["type"] = a.content_type;
      if (!a.content_id.empty()) attachment["content_id"] = a.content_id;
      body["attachments"].push_back(std::move(attachment));
    }
    json headers = json::object();
    for (const auto& [name, value] : m.extra_headers) {
      check_single_line("header " + name, name + value);
      headers[name] = value;
    }
    if (!m.message_id.empty()) headers["Message-ID"] = m.message_id;
    if (!headers.empty()) body["headers"] = std::move(headers);
    // Tags become categories (SendGrid allows 10, as mailroom does), for its statistics and events.
    for (const auto& tag : email.tags) body["categories"].push_back(tag);
    if (sandbox) body["mail_settings"] = {{"sandbox_mode", {{"enable", true}}}};
    return body;
  }

  mailroom::HttpResponse post(const std::string& path, const json& body) {
    mailroom::HttpRequest request;
    request.method = "POST";
    request.target = root_ + path;
    request.headers.add("Authorization", authorization_);
    request.headers.add("Content-Type", "application/json");
    request.body = body.dump();
    return context_.http.send(request);
  }

  ProviderError failure(const mailroom::HttpResponse& response) const {
    const int status = response.status;
    // {"errors": [{"message", "field", "help"}]}: each message with the field it names.
    std::string fields, messages;
    const json parsed = json::parse(response.body, nullptr, false);
    if (parsed.is_object() && parsed.contains("errors") && parsed["errors"].is_array()) {
      for (const auto& e : parsed["errors"]) {
        if (!e.is_object()) continue;
        const std::string field = e.contains("field") && e["field"].is_string() ? e["field"].get<std::string>() : "";
        const std::string message = e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
        const bool named = !field.empty() && field != "null";
        if (named) fields += (fields.empty() ? "" : ",") + field;
        messages += (messages.empty() ? "" : "; ") + (named ? field + ": " : "") + message;
      }
    }
    const std::string code = fields.empty() ? std::to_string(status) : fields;
    const std::string said = messages.empty() ? "HTTP " + std::to_string(status) : messages;
    if (status == 400) return ProviderError(ErrorKind::invalid_request, code, "SendGrid refused the request: " + said);
    if (status == 401 || status == 403)
      return ProviderError(ErrorKind::auth, code,
                           "SendGrid refused the API key (" + said + "): check the key and that it has the Mail Send "
                           "permission");
    if (status == 413)
      return ProviderError(ErrorKind::invalid_request, code, "the message is larger than SendGrid accepts (30 MB): " + said);
    if (status == 429) return ProviderError(ErrorKind::rate_limited, code, "SendGrid's rate limit: " + said, retry_after(response));
    if (status >= 500) return ProviderError(ErrorKind::transient, code, "SendGrid failed (" + said + ")");
    return ProviderError(ErrorKind::permanent, code,
                         "SendGrid answered HTTP " + std::to_string(status) + " (" + said + "): check base_url and region");
  }

  // X-RateLimit-Reset is the Unix time at which the limit resets.
  std::chrono::seconds retry_after(const mailroom::HttpResponse& response) const {
    long long reset = 0;
    if (const auto header = response.headers.get("X-RateLimit-Reset")) {
      const auto [end, ec] = std::from_chars(header->data(), header->data() + header->size(), reset);
      if (ec != std::errc() || end != header->data() + header->size()) reset = 0;
    }
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(context_.clock.now().time_since_epoch()).count();
    return std::chrono::seconds(std::clamp<long long>(reset - now, 1, 3600));
  }

  mailroom::PluginContext& context_;
  std::string authorization_;
  std::string root_;  // empty: the HTTP client's base URL (the manifest's endpoint, or base_url)
  std::optional<sendgrid::PublicKey> webhook_key_;
  std::chrono::seconds max_age_{600};
};

}  // namespace

MAILROOM_EMAIL_PLUGIN(SendGrid, R"json({
  "name": "sendgrid",
  "version": "1.0.0",
  "description": "Twilio SendGrid: v3 Mail Send API (API key) and the Signed Event Webhook",
  "endpoint": "https://api.sendgrid.com",
  "config_schema": {
    "type": "object",
    "additionalProperties": false,
    "properties": {
      "region": { "enum": ["global", "eu"], "description": "eu: api.eu.sendgrid.com, for EU-pinned subusers (default global)" },
      "base_url": { "type": "string", "pattern": "^https?://", "description": "another endpoint (a proxy, tests); wins over region" },
      "webhook_public_key": { "type": "string", "pattern": "^[A-Za-z0-9+/]+={0,2}$", "minLength": 40,
                              "description": "the Signed Event Webhook's verification key (base64 DER), as SendGrid shows it" },
      "webhook_max_age_seconds": { "type": "integer", "minimum": 60, "maximum": 86400,
                                   "description": "refuse a webhook request signed longer ago than this (default 600)" },
      "verify_from": { "type": "string",
                       "description": "ignored: verify sends from the configuration's from address (kept so stored configurations stay valid)" }
    }
  },
  "secrets": ["api_key"],
  "dsn": { "sendgrid+api": { "user": "api_key" } },
  "capabilities": { "max_recipients": 1000, "max_message_bytes": 31457280, "attachments": true,
                    "open_tracking": true, "click_tracking": true, "webhooks": true, "sends_in_flight": 16 }
})json")
