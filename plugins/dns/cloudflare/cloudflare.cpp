// cloudflare: DNS records through Cloudflare's API v4 with an API token (Bearer).
//
// Zones: GET /zones (all pages). Records: GET /zones/{id}/dns_records (all pages: the
// list response has no page count, so pages are read until one comes back short or
// total_count is reached). Changes: POST (create), PUT (update, the whole record) and DELETE,
// one request per change: the batch endpoint is not in the API schema this plugin is tested
// against (shared/specs/cloudflare/BATCH_ENDPOINT_NOTES.md).
// Errors: the v4 envelope {success:false, errors:[{code,message}]} becomes the ErrorInfo's
// code and message; 401/403 -> auth, 429 -> rate_limited with Retry-After, other 4xx ->
// invalid_request, 5xx -> transient. A failure of one change is that change's result;
// auth, rate limiting and transport failures stop the whole call.
// TXT values longer than 255 octets are sent as several quoted character-strings
// ("..." "...") and joined again when read back, so the host only sees whole strings.
#include <mailroom/plugin.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <string_view>

namespace {

using mailroom::ErrorKind;
using mailroom::ProviderError;
using nlohmann::json;

constexpr std::size_t kZonesPerPage = 50;       // the API's maximum for /zones
constexpr std::size_t kRecordsPerPage = 5000;   // Cloudflare's documented per-page maximum for records
constexpr std::size_t kCharacterStringMax = 255;

bool is_text_type(mailroom::RecordType type) { return mailroom::wire_type(type) == mailroom::RecordType::TXT; }

// One TXT string as Cloudflare's content: itself when it fits one character-string, else
// quoted 255-octet pieces.
std::string txt_content(const std::string& value) {
  if (value.size() <= kCharacterStringMax && value.find('"') == std::string::npos) return value;
  std::string out;
  for (std::size_t i = 0; i < value.size(); i += kCharacterStringMax) {
    if (!out.empty()) out += ' ';
    out += '"';
    for (char c : value.substr(i, kCharacterStringMax)) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out;
}

// Cloudflare's TXT content back to one string: quoted pieces are unquoted and joined.
std::string joined_txt(const std::string& content) {
  if (content.empty() || content.front() != '"') return content;
  std::string out;
  bool quoted = false;
  for (std::size_t i = 0; i < content.size(); ++i) {
    const char c = content[i];
    if (c == '"') {
      quoted = !quoted;
    } else if (quoted && c == '\\' && i + 1 < content.size()) {
      out += content[++i];
    } else if (quoted) {
      out += c;
    }
  }
  return out;
}

ErrorKind kind_for_status(int status) {
  if (status == 401 || status == 403) return ErrorKind::auth;
  if (status == 429) return ErrorKind::rate_limited;
  if (status >= 500) return ErrorKind::transient;
  return ErrorKind::invalid_request;
}

mailroom::ErrorInfo error_of(const mailroom::HttpResponse& response) {
  mailroom::ErrorInfo info;
  info.kind = kind_for_status(response.status);
  info.code = std::to_string(response.status);
  info.message = "HTTP " + std::to_string(response.status);
  const json body = json::parse(response.body, nullptr, false);
  if (body.is_object() && body.contains("errors") && body["errors"].is_array() && !body["errors"].empty()) {
    std::string codes, messages;
    for (const auto& e : body["errors"]) {
      if (!codes.empty()) codes += ",", messages += "; ";
      codes += e.contains("code") ? e["code"].dump() : "?";
      messages += e.value("message", std::string("(no message)"));
    }
    info.code = codes;
    info.message = messages;
  }
  if (response.status == 429) {
    const auto header = response.headers.get("Retry-After");
    long seconds = 1;
    if (header) {
      try {
        seconds = std::max(1L, std::stol(*header));
      } catch (const std::exception&) {
      }
    }
    info.retry_after = std::chrono::seconds(seconds);
  }
  return info;
}

class Cloudflare final : public mailroom::DnsProvider {
 public:
  explicit Cloudflare(mailroom::PluginContext& context) : context_(context) {
    const auto token = context.secrets.find("api_token");
    if (token == context.secrets.end() || token->second.empty())
      throw ProviderError(ErrorKind::auth, "no_token", "the secret 'api_token' is not set");
    authorization_ = "Bearer " + token->second;
  }

  std::vector<mailroom::Zone> list_zones() override {
    std::vector<mailroom::Zone> zones;
    for (std::size_t page = 1;; ++page) {
      const json body = call("GET", "/zones?page=" + std::to_string(page) + "&per_page=" + std::to_string(kZonesPerPage));
      const auto& result = body.at("result");
      for (const auto& z : result) zones.push_back({z.at("id").get<std::string>(), mailroom::normal_name(z.at("name").get<std::string>())});
      if (last_page(body, page, kZonesPerPage, result.size())) break;
    }
    return zones;
  }

  std::vector<mailroom::ProviderRecord> list_records(const mailroom::Zone& zone) override {
    std::vector<mailroom::ProviderRecord> records;
    for (std::size_t page = 1;; ++page) {
      const json body = call("GET", "/zones/" + zone.id + "/dns_records?page=" + std::to_string(page) +
                                        "&per_page=" + std::to_string(kRecordsPerPage));
      const auto& result = body.at("result");
      for (const auto& r : result) {
        auto type = mailroom::record_type_from_string(r.at("type").get<std::string>());
        if (!type) continue;  // a type mailroom does not manage (NS, CAA, ...): never owned, never touched
        mailroom::RecordSpec spec;
        spec.type = *type;
        spec.name = mailroom::normal_name(r.at("name").get<std::string>());
        const std::string content = r.at("content").get<std::string>();
        spec.value = *type == mailroom::RecordType::TXT ? joined_txt(content)
                     : (*type == mailroom::RecordType::CNAME || *type == mailroom::RecordType::MX) ? mailroom::normal_name(content)
                                                                                                  : content;
        spec.ttl = r.value("ttl", 1);
        if (r.contains("priority") && r["priority"].is_number()) spec.priority = r["priority"].get<int>();
        records.push_back({r.at("id").get<std::string>(), spec});
      }
      if (last_page(body, page, kRecordsPerPage, result.size())) break;
    }
    return records;
  }

  std::vector<mailroom::ChangeResult> apply(const mailroom::Zone& zone, const mailroom::ChangeSet& changes) override {
    std::vector<mailroom::ChangeResult> results;
    results.reserve(changes.size());
    for (const auto& change : changes) {
      const std::string base = "/zones/" + zone.id + "/dns_records";
      mailroom::HttpResponse response;
      switch (change.action) {
        case mailroom::ChangeAction::create:
          response = send("POST", base, record_body(change.record).dump());
          break;
        case mailroom::ChangeAction::update:
          response = send("PUT", base + "/" + change.provider_id, record_body(change.record).dump());
          break;
        case mailroom::ChangeAction::remove:
          // The API schema requires a JSON body on DELETE.
          response = send("DELETE", base + "/" + change.provider_id, "{}");
          break;
      }
      if (response.status >= 200 && response.status < 300) {
        const json body = json::parse(response.body, nullptr, false);
        std::string id = change.provider_id;
        if (body.is_object() && body.contains("result") && body["result"].is_object())
          id = body["result"].value("id", id);
        results.push_back({id, std::nullopt});
        continue;
      }
      auto error = error_of(response);
      // These concern every change, not this one: the host decides when to try again.
      if (error.kind == ErrorKind::auth || error.kind == ErrorKind::rate_limited || error.kind == ErrorKind::transient) {
        for (std::size_t i = results.size(); i < changes.size(); ++i) results.push_back({"", error});
        break;
      }
      results.push_back({"", error});
    }
    return results;
  }

 private:
  static json record_body(const mailroom::RecordSpec& record) {
    json body = {{"type", is_text_type(record.type) ? std::string("TXT") : std::string(to_string(record.type))},
                 {"name", record.name},
                 {"content", is_text_type(record.type) ? txt_content(record.value) : record.value},
                 {"ttl", record.ttl}};
    if (record.type == mailroom::RecordType::MX) body["priority"] = record.priority.value_or(10);
    return body;
  }

  static bool last_page(const json& body, std::size_t page, std::size_t per_page, std::size_t got) {
    if (got == 0) return true;
    const auto info = body.find("result_info");
    if (info != body.end() && info->is_object()) {
      const std::size_t asked = info->value("per_page", per_page);
      if (info->contains("total_count") && (*info)["total_count"].is_number())
        return page * asked >= (*info)["total_count"].get<std::size_t>();
      return got < asked;
    }
    return got < per_page;
  }

  mailroom::HttpResponse send(const std::string& method, const std::string& target, const std::string& body) {
    mailroom::HttpRequest request;
    request.method = method;
    request.target = target;
    request.headers.add("Authorization", authorization_);
    request.headers.add("Accept", "application/json");
    if (!body.empty()) {
      request.headers.add("Content-Type", "application/json");
      request.body = body;
    }
    return context_.http.send(request);
  }

  // A request whose failure stops the operation.
  json call(const std::string& method, const std::string& target) {
    const auto response = send(method, target, "");
    if (response.status < 200 || response.status >= 300) throw ProviderError(error_of(response));
    json body = json::parse(response.body, nullptr, false);
    if (!body.is_object() || !body.value("success", false) || !body.contains("result") || !body["result"].is_array())
      throw ProviderError(ErrorKind::transient, "bad_response", method + " " + target.substr(0, target.find('?')) +
                                                                    " answered without a result list");
    return body;
  }

  mailroom::PluginContext& context_;
  std::string authorization_;
};

}  // namespace

MAILROOM_DNS_PLUGIN(Cloudflare, R"json({
  "name": "cloudflare",
  "version": "1.0.0",
  "description": "Cloudflare DNS (API v4, API token)",
  "endpoint": "https://api.cloudflare.com/client/v4",
  "secrets": ["api_token"],
  "config_schema": {
    "type": "object", "additionalProperties": false,
    "properties": {
      "base_url": { "type": "string", "pattern": "^https?://", "description": "API root; tests point it at a mock" }
    }
  },
  "capabilities": { "record_types": ["A", "AAAA", "CNAME", "MX", "TXT", "SPF", "DKIM", "DMARC"],
                    "max_batch_size": 100, "requests_per_second": 4, "record_sets": false,
                    "min_ttl": 60, "max_ttl": 86400 }
})json")
