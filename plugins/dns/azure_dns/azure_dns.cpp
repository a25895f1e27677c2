// azure_dns: Azure DNS zones through Azure Resource Manager (api-version 2018-05-01), with an
// Entra ID client-credentials token (entra.hpp). Azure writes record sets (every value of one
// name and type together), so the plugin declares record_sets and the host hands it one change
// per set.
//
// Every write is conditional on the set's etag, which travels in the provider id
// ("TXT/@|<etag>"): a create sends If-None-Match: *, an update and a delete If-Match. A 412
// means someone else changed the set since it was listed: the set is read again and the change
// fails, saying what the set holds now; mailroom never overwrites another writer. Sets mailroom
// writes carry `managed-by` in their metadata (other metadata is kept), so people, another
// mailroom or a rebuilt database can tell them apart. Alias sets (targetResource) are listed as
// untouchable. TXT values are cut into 255-octet strings on the wire and joined on read.
#include "entra.hpp"

#include <mailroom/plugin.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <functional>
#include <optional>

namespace {

using mailroom::ErrorKind;
using mailroom::ProviderError;
using mailroom::RecordType;
using nlohmann::json;

constexpr const char* kApiVersion = "api-version=2018-05-01";
constexpr const char* kManagedByKey = "managed-by";
constexpr std::size_t kTxtStringOctets = 255;
// The token is renewed this long before Entra ID says it expires.
constexpr auto kTokenMargin = std::chrono::minutes(5);

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// The property that holds a type's values; Azure spells each differently.
const char* values_property(RecordType type) {
  switch (type) {
    case RecordType::A: return "ARecords";
    case RecordType::AAAA: return "AAAARecords";
    case RecordType::MX: return "MXRecords";
    case RecordType::CNAME: return "CNAMERecord";
    default: return "TXTRecords";
  }
}

// A set's path relative to its zone ("TXT/@") and the etag it had when listed.
struct SetRef {
  std::string path, etag;
  static SetRef parse(const std::string& provider_id) {
    const auto bar = provider_id.rfind('|');
    if (bar == std::string::npos) return {provider_id, ""};
    return {provider_id.substr(0, bar), provider_id.substr(bar + 1)};
  }
  std::string id() const { return path + "|" + etag; }
};

// A record set's values for people ("\"v=spf1 ...\", \"google-site-verification=...\"").
std::string described_values(const json& set) {
  const json properties = set.value("properties", json::object());
  std::string out;
  const auto add = [&](const std::string& v) { out += (out.empty() ? "" : ", ") + v; };
  for (const auto& [key, value] : properties.items()) {
    if (key == "CNAMERecord") add(value.value("cname", std::string()));
    if (key == "TXTRecords")
      for (const auto& r : value) {
        std::string joined;
        for (const auto& s : r.value("value", json::array())) joined += s.get<std::string>();
        add("\"" + joined + "\"");
      }
    if (key == "ARecords")
      for (const auto& r : value) add(r.value("ipv4Address", std::string()));
    if (key == "AAAARecords")
      for (const auto& r : value) add(r.value("ipv6Address", std::string()));
    if (key == "MXRecords")
      for (const auto& r : value) add(std::to_string(r.value("preference", 0)) + " " + r.value("exchange", std::string()));
  }
  return out.empty() ? "no values" : out;
}

class AzureDns final : public mailroom::DnsProvider {
 public:
  explicit AzureDns(mailroom::PluginContext& context) : context_(context) {
    const auto secret = context.secrets.find("client_secret");
    if (secret == context.secrets.end() || secret->second.empty())
      throw ProviderError(ErrorKind::auth, "no_credentials",
                          "set the secret client_secret (a client secret of the app registration that "
                          "docs/providers/azure_dns.md describes)");
    const auto& config = context.config;
    credentials_.authority = config.value("authority_url", std::string("https://login.microsoftonline.com"));
    credentials_.tenant_id = config.value("tenant_id", std::string());
    credentials_.client_id = config.value("client_id", std::string());
    credentials_.client_secret = secret->second;
    credentials_.scope = config.value("token_resource", std::string("https://management.azure.com")) + "/.default";
    subscription_ = "/subscriptions/" + config.value("subscription_id", std::string());
    resource_group_ = config.value("resource_group", std::string());
    managed_by_ = config.value("managed_by", std::string("mailroom"));
  }

  std::vector<mailroom::Zone> list_zones() override {
    std::vector<mailroom::Zone> zones;
    const std::string first = resource_group_.empty()
                                  ? subscription_ + "/providers/Microsoft.Network/dnszones"
                                  : subscription_ + "/resourceGroups/" + resource_group_ + "/providers/Microsoft.Network/dnsZones";
    for_each_page(first, [&](const json& zone) {
      // Private zones answer only inside their virtual networks: no use for email.
      if (zone.value("properties", json::object()).value("zoneType", std::string("Public")) == "Private") return;
      zones.push_back({resource_group_of(zone.value("id", std::string())) + "/" + zone.value("name", std::string()),
                       mailroom::normal_name(zone.value("name", std::string()))});
    });
    return zones;
  }

  std::vector<mailroom::ProviderRecord> list_records(const mailroom::Zone& zone) override {
    std::vector<mailroom::ProviderRecord> records;
    for_each_page(zone_path(zone) + "/recordsets", [&](const json& set) { read_set(zone, set, records); });
    return records;
  }

  std::vector<mailroom::ChangeResult> apply(const mailroom::Zone& zone, const mailroom::ChangeSet& changes) override {
    std::vector<mailroom::ChangeResult> results;
    results.reserve(changes.size());
    std::optional<mailroom::ErrorInfo> stop;
    for (const auto& change : changes) {
      // Once Azure throttles (or refuses the credentials) the rest is not sent: the host sends
      // throttled changes again after Retry-After. What applied before keeps its result.
      if (stop) {
        results.push_back({"", stop});
        continue;
      }
      auto result = apply_one(zone, change);
      if (result.error && (result.error->kind == ErrorKind::rate_limited || result.error->kind == ErrorKind::auth))
        stop = result.error;
      results.push_back(std::move(result));
    }
    return results;
  }

 private:
  // The resource group in an ARM id ("/subscriptions/s/resourceGroups/rg1/providers/...").
  static std::string resource_group_of(const std::string& id) {
    const std::string lowered = lower(id);
    const auto at = lowered.find("/resourcegroups/");
    if (at == std::string::npos) return "";
    const auto start = at + 16;
    return id.substr(start, id.find('/', start) - start);
  }

  std::string zone_path(const mailroom::Zone& zone) const {
    const auto slash = zone.id.find('/');
    return subscription_ + "/resourceGroups/" + zone.id.substr(0, slash) + "/providers/Microsoft.Network/dnsZones/" +
           zone.id.substr(slash + 1);
  }

  static std::string relative_name(const mailroom::Zone& zone, const std::string& name) {
    const std::string lowered = mailroom::normal_name(name);
    if (lowered == zone.name) return "@";
    if (!lowered.ends_with("." + zone.name)) return lowered;  // the host only plans names inside the zone
    return lowered.substr(0, lowered.size() - zone.name.size() - 1);
  }

  void read_set(const mailroom::Zone& zone, const json& set, std::vector<mailroom::ProviderRecord>& records) const {
    const std::string arm_type = set.value("type", std::string());
    const auto type = mailroom::record_type_from_string(arm_type.substr(arm_type.rfind('/') + 1));
    // Types mailroom does not manage (NS, SOA, CAA, SRV, PTR) are not its business.
    if (!type || (*type != RecordType::A && *type != RecordType::AAAA && *type != RecordType::CNAME &&
                  *type != RecordType::MX && *type != RecordType::TXT))
      return;
    const std::string relative = mailroom::normal_name(set.value("name", std::string()));
    const std::string name = relative == "@" ? zone.name : relative + "." + zone.name;
    const std::string id = SetRef{std::string(mailroom::to_string(*type)) + "/" + relative, set.value("etag", std::string())}.id();
    const json properties = set.value("properties", json::object());
    const int ttl = properties.value("TTL", 3600);
    const json target = properties.value("targetResource", json::object());
    if (target.is_object() && target.value("id", std::string()) != "") {
      const std::string resource = target["id"];
      records.push_back({id, {*type, name, resource, ttl, std::nullopt}, "an alias to the Azure resource " + resource});
      return;
    }
    const auto add = [&](std::string value, std::optional<int> priority = std::nullopt) {
      records.push_back({id, {*type, name, std::move(value), ttl, priority}, ""});
    };
    const json values = properties.value(values_property(*type), json());
    if (*type == RecordType::CNAME) {
      if (values.is_object()) add(mailroom::normal_name(values.value("cname", std::string())));
      return;
    }
    if (!values.is_array()) return;
    for (const auto& v : values) {
      if (*type == RecordType::A) add(v.value("ipv4Address", std::string()));
      else if (*type == RecordType::AAAA) add(v.value("ipv6Address", std::string()));
      else if (*type == RecordType::MX) add(mailroom::normal_name(v.value("exchange", std::string())), v.value("preference", 0));
      else {
        std::string joined;
        for (const auto& s : v.value("value", json::array())) joined += s.get<std::string>();
        add(std::move(joined));
      }
    }
  }

  // The body of a PUT: the set's TTL and every value it holds after the change, and its
  // metadata with mailroom's mark.
  json set_body(const mailroom::Change& change, json metadata) const {
    const RecordType type = mailroom::wire_type(change.record.type);
    metadata[kManagedByKey] = managed_by_;
    json properties = {{"metadata", std::move(metadata)}, {"TTL", change.record.ttl}};
    const auto& records = change.values.empty() ? std::vector<mailroom::RecordSpec>{change.record} : change.values;
    json values = json::array();
    for (const auto& r : records) {
      if (type == RecordType::A) values.push_back({{"ipv4Address", r.value}});
      else if (type == RecordType::AAAA) values.push_back({{"ipv6Address", r.value}});
      else if (type == RecordType::MX) values.push_back({{"preference", r.priority.value_or(10)}, {"exchange", r.value}});
      else if (type == RecordType::CNAME) values.push_back({{"cname", r.value}});
      else {
        json strings = json::array();
        for (std::size_t start = 0; start < r.value.size() || start == 0; start += kTxtStringOctets) {
          strings.push_back(r.value.substr(start, kTxtStringOctets));
          if (r.value.empty()) break;
        }
        values.push_back({{"value", std::move(strings)}});
      }
    }
    properties[values_property(type)] = type == RecordType::CNAME ? values.front() : values;
    return {{"properties", std::move(properties)}};
  }

  mailroom::ChangeResult apply_one(const mailroom::Zone& zone, const mailroom::Change& change) {
    const RecordType type = mailroom::wire_type(change.record.type);
    SetRef ref = SetRef::parse(change.provider_id);
    if (change.action == mailroom::ChangeAction::create || ref.path.empty())
      ref.path = std::string(mailroom::to_string(type)) + "/" + relative_name(zone, change.record.name);
    const std::string path = zone_path(zone) + "/" + ref.path;
    const std::string what = "the record set " + ref.path;
    try {
      if (change.action == mailroom::ChangeAction::remove) {
        mailroom::HttpHeaders headers;
        if (!ref.etag.empty()) headers.add("If-Match", ref.etag);
        const auto response = call("DELETE", path, headers, "");
        if (response.status == 200 || response.status == 204) return {"", std::nullopt};
        if (response.status == 412) return conflict(path, what);
        return {"", error_of(response).info()};
      }
      json metadata = json::object();
      mailroom::HttpHeaders headers;
      if (change.action == mailroom::ChangeAction::create) {
        headers.add("If-None-Match", "*");
      } else {
        // Read the set for its metadata (a PUT replaces it whole), and to see that it is still
        // the one the plan was made from.
        const auto current = call("GET", path, {}, "");
        if (current.status == 404) return conflict(path, what);
        if (current.status != 200) return {"", error_of(current).info()};
        const json set = json::parse(current.body, nullptr, false);
        const std::string etag = set.is_object() ? set.value("etag", std::string()) : "";
        if (!ref.etag.empty() && etag != ref.etag) return conflict(path, what);
        metadata = set.value("properties", json::object()).value("metadata", json::object());
        if (!metadata.is_object()) metadata = json::object();
        headers.add("If-Match", etag);
      }
      headers.add("Content-Type", "application/json");
      const auto response = call("PUT", path, headers, set_body(change, std::move(metadata)).dump());
      if (response.status == 200 || response.status == 201) {
        const json set = json::parse(response.body, nullptr, false);
        return {SetRef{ref.path, set.is_object() ? set.value("etag", std::string()) : ""}.id(), std::nullopt};
      }
      if (response.status == 412) return conflict(path, what);
      return {"", error_of(response).info()};
    } catch (const ProviderError& e) {  // this change's: the host retries what is retryable
      return {"", e.info()};
    }
  }

  // Someone else wrote the set after it was listed: read it again and fail with what it holds.
  mailroom::ChangeResult conflict(const std::string& path, const std::string& what) {
    const auto now = call("GET", path, {}, "");
    std::string holds;
    if (now.status == 404) holds = "it no longer exists";
    else if (now.status == 200) holds = "it now holds " + described_values(json::parse(now.body, nullptr, false));
    else holds = "reading it again failed with HTTP " + std::to_string(now.status);
    return {"", mailroom::ErrorInfo{ErrorKind::permanent, "PreconditionFailed",
                                    "Azure DNS: " + what + " was changed by someone else since mailroom listed it (" + holds +
                                        "); mailroom left it as it is: run plan again to see the change against it",
                                    std::nullopt}};
  }

  // Every item of a paged list, following nextLink. Only its path and query are used: the token
  // goes to the configured endpoint, never to a host a response names.
  void for_each_page(const std::string& first, const std::function<void(const json&)>& each) {
    std::string target = first + "?" + kApiVersion;
    for (int pages = 0; !target.empty(); ++pages) {
      if (pages == 10000) throw ProviderError(ErrorKind::permanent, "paging", "Azure DNS: more than 10,000 pages; stopped");
      const auto response = call("GET", target, {}, "", true);
      if (response.status != 200) throw error_of(response);
      const json page = json::parse(response.body, nullptr, false);
      if (!page.is_object()) throw ProviderError(ErrorKind::transient, "bad_response", "Azure DNS answered a list that is not JSON");
      for (const auto& item : page.value("value", json::array())) each(item);
      target.clear();
      const std::string next = page.value("nextLink", std::string());
      if (const auto scheme = next.find("://"); scheme != std::string::npos) {
        const auto path = next.find('/', scheme + 3);
        if (path != std::string::npos) target = next.substr(path);
      }
    }
  }

  // Sends with the kept token; a 401 (token revoked or expired early) discards it and tries once
  // more with a new one.
  mailroom::HttpResponse call(const std::string& method, const std::string& target, const mailroom::HttpHeaders& headers,
                              const std::string& body, bool has_query = false) {
    mailroom::HttpRequest request;
    request.method = method;
    request.target = has_query ? target : target + "?" + kApiVersion;
    request.body = body;
    for (int attempt = 0;; ++attempt) {
      const auto token = context_.credentials.get(context_.clock.now() + kTokenMargin,
                                                  [&] { return azure_dns::entra::obtain(context_, credentials_); });
      request.headers = headers;
      request.headers.add("Authorization", "Bearer " + token.value);
      auto response = context_.http.send(request);
      if (response.status != 401 || attempt == 1) {
        if (response.status == 401) throw error_of(response);
        return response;
      }
      context_.credentials.discard(token.value);
    }
  }

  // A CloudError to a kind, with what to do.
  ProviderError error_of(const mailroom::HttpResponse& response) const {
    const json body = json::parse(response.body, nullptr, false);
    const json error = body.is_object() ? body.value("error", json::object()) : json::object();
    const std::string code = error.is_object() ? error.value("code", std::to_string(response.status)) : std::to_string(response.status);
    const std::string message =
        "Azure DNS: " + (error.is_object() ? error.value("message", "HTTP " + std::to_string(response.status)) : "HTTP " + std::to_string(response.status));
    if (response.status == 429) {
      long seconds = 5;  // Resource Manager's usual wait when it names none
      if (const auto header = response.headers.get("Retry-After")) {
        long parsed = 0;
        const auto [end, ec] = std::from_chars(header->data(), header->data() + header->size(), parsed);
        if (ec == std::errc() && parsed > 0) seconds = parsed;
      }
      return ProviderError(ErrorKind::rate_limited, code, message, std::chrono::seconds(seconds));
    }
    if (response.status == 401)
      return ProviderError(ErrorKind::auth, code, message + ": Resource Manager refused the app's token; check tenant_id and that the "
                                                            "app registration exists in the subscription's tenant");
    if (response.status == 403)
      return ProviderError(ErrorKind::auth, code, message + ": give app " + credentials_.client_id +
                                                      " the role \"DNS Zone Contributor\" on the zone or its resource group");
    if (response.status == 404)
      return ProviderError(ErrorKind::permanent, code, message + ": check subscription_id and resource_group, and that the zone exists");
    if (response.status >= 500) return ProviderError(ErrorKind::transient, code, message);
    return ProviderError(ErrorKind::invalid_request, code, message);
  }

  mailroom::PluginContext& context_;
  azure_dns::entra::ClientCredentials credentials_;
  std::string subscription_, resource_group_, managed_by_;
};

}  // namespace

MAILROOM_DNS_PLUGIN(AzureDns, R"json({
  "name": "azure_dns",
  "version": "0.1.0",
  "description": "Azure DNS (Resource Manager api-version 2018-05-01, Entra ID client credentials)",
  "endpoint": "https://management.azure.com",
  "secrets": ["client_secret"],
  "config_schema": {
    "type": "object", "additionalProperties": false,
    "required": ["subscription_id", "tenant_id", "client_id"],
    "properties": {
      "subscription_id": { "type": "string", "pattern": "^[0-9A-Za-z-]+$", "description": "the subscription that holds the zones" },
      "resource_group": { "type": "string", "pattern": "^[-\\w._()]+$", "description": "only list the zones of this resource group (default: the whole subscription)" },
      "tenant_id": { "type": "string", "pattern": "^[0-9A-Za-z.-]+$", "description": "the Entra ID tenant (directory) of the app registration: its GUID or a domain name" },
      "client_id": { "type": "string", "minLength": 1, "description": "the app registration's application (client) id" },
      "managed_by": { "type": "string", "minLength": 1, "maxLength": 256, "description": "the value of the managed-by metadata on the record sets mailroom writes (default mailroom)" },
      "base_url": { "type": "string", "pattern": "^https?://[^/]+$", "description": "the Resource Manager endpoint (default https://management.azure.com; sovereign clouds and tests change it)" },
      "authority_url": { "type": "string", "pattern": "^https?://[^/]+$", "description": "the Entra ID endpoint (default https://login.microsoftonline.com)" },
      "token_resource": { "type": "string", "pattern": "^https://[^/]+$", "description": "the resource the token is asked for, scope = this + /.default (default https://management.azure.com)" }
    }
  },
  "capabilities": { "record_types": ["A", "AAAA", "CNAME", "MX", "TXT", "SPF", "DKIM", "DMARC"],
                    "max_batch_size": 100, "requests_per_second": 10, "record_sets": true,
                    "min_ttl": 1, "max_ttl": 2147483647 }
})json")
