// route53: Amazon Route 53 hosted zones through its REST-XML API (2013-04-01), signed with
// SigV4 (sigv4.hpp), read and written with pugixml. Route 53 writes record sets (every value of
// one name and type together), so the plugin declares record_sets and the host hands it one
// change per set: CREATE, UPSERT (the whole set) or DELETE (with the values it holds now).
//
// Changes go in ChangeResourceRecordSets batches cut at Route 53's limits (1,000
// ResourceRecord elements and 32,000 characters of values, an UPSERT counting twice). A batch
// is atomic: an InvalidChangeBatch fails the changes its messages name and the rest is sent
// again. Throttling and PriorRequestNotComplete are rate_limited. After a batch, GetChange is
// polled until INSYNC, at most change_wait_seconds; the result's note says how it went.
// TXT values are cut into quoted 255-octet strings on the wire and joined on read; names and
// values come back with Route 53's \ooo escapes, decoded here.
#include "sigv4.hpp"

#include <mailroom/plugin.hpp>

#include <pugixml.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

namespace {

using mailroom::ErrorKind;
using mailroom::ProviderError;
using mailroom::RecordType;

constexpr const char* kApi = "/2013-04-01";
constexpr std::size_t kMaxBatchRecords = 1000;
constexpr std::size_t kMaxBatchValueChars = 32000;
constexpr std::size_t kTxtStringOctets = 255;

// Route 53 writes characters other than letters, digits, '-', '_' and '.' as \ooo (octal), and
// within TXT strings escapes '"' and '\' with a backslash.
std::string unescaped(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto octal = [&](std::size_t at) { return at < text.size() && text[at] >= '0' && text[at] <= '7'; };
    if (text[i] == '\\' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out += static_cast<char>((text[i + 1] - '0') * 64 + (text[i + 2] - '0') * 8 + (text[i + 3] - '0'));
      i += 3;
    } else if (text[i] == '\\' && i + 1 < text.size()) {
      out += text[++i];
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// A TXT value on the wire: quoted strings of at most 255 octets each, '"' and '\' escaped.
std::string txt_wire(const std::string& value) {
  std::string out;
  for (std::size_t start = 0; start < value.size() || start == 0; start += kTxtStringOctets) {
    out += out.empty() ? "\"" : " \"";
    for (char c : value.substr(start, kTxtStringOctets)) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
    if (value.empty()) break;
  }
  return out;
}

// Joins a TXT value's quoted strings back into one.
std::string txt_value(std::string_view wire) {
  std::string out;
  for (std::size_t i = 0; i < wire.size(); ++i) {
    if (wire[i] != '"') continue;
    std::size_t end = i + 1;
    while (end < wire.size() && wire[end] != '"') end += wire[end] == '\\' ? 2 : 1;
    out += unescaped(wire.substr(i + 1, std::min(end, wire.size()) - i - 1));
    i = end;
  }
  return out;
}

// Why a set must never be written by mailroom, or "".
std::string untouchable(const pugi::xml_node& set) {
  if (const auto alias = set.child("AliasTarget"))
    return "an alias to " + mailroom::normal_name(unescaped(alias.child_value("DNSName")));
  if (const auto instance = set.child("TrafficPolicyInstanceId"))
    return std::string("a record of traffic policy instance ") + instance.child_value();
  if (const auto identifier = set.child("SetIdentifier")) {
    std::string policy = "routing";
    if (set.child("Weight")) policy = "weighted routing";
    else if (set.child("Region")) policy = "latency routing";
    else if (set.child("Failover")) policy = "failover routing";
    else if (set.child("GeoLocation") || set.child("GeoProximityLocation")) policy = "geolocation routing";
    else if (set.child("MultiValueAnswer")) policy = "multivalue answer routing";
    else if (set.child("CidrRoutingConfig")) policy = "IP-based routing";
    return policy + ", set identifier '" + identifier.child_value() + "'";
  }
  return "";
}

struct Wire {
  std::string action;  // CREATE | UPSERT | DELETE
  std::string name, type;
  int ttl = 300;
  std::vector<std::string> values;  // as Route 53 writes them
  std::size_t index = 0;            // the host's change
  std::size_t records() const { return values.size() * (action == "UPSERT" ? 2 : 1); }
  std::size_t chars() const {
    std::size_t n = 0;
    for (const auto& v : values) n += v.size();
    return n * (action == "UPSERT" ? 2 : 1);
  }
};

class Route53 final : public mailroom::DnsProvider {
 public:
  explicit Route53(mailroom::PluginContext& context) : context_(context) {
    const auto secret = [&](const char* name) {
      const auto it = context.secrets.find(name);
      return it == context.secrets.end() ? std::string() : it->second;
    };
    credentials_ = {secret("access_key_id"), secret("secret_access_key"), secret("session_token")};
    if (credentials_.access_key_id.empty() || credentials_.secret_access_key.empty())
      throw ProviderError(ErrorKind::auth, "no_credentials",
                          "set the secrets access_key_id and secret_access_key (an access key of an IAM user or role "
                          "allowed the Route 53 actions docs/providers/route53.md lists)");
    const std::string base = context.config.value("base_url", std::string("https://route53.amazonaws.com"));
    const auto scheme = base.find("://");
    host_ = base.substr(scheme + 3, base.find('/', scheme + 3) - scheme - 3);
    options_.service = "route53";
    options_.region = context.config.value("signing_region", std::string("us-east-1"));
    private_zones_ = context.config.value("private_zones", false);
    change_wait_ = std::chrono::duration<double>(context.config.value("change_wait_seconds", 120.0));
    change_poll_ = std::chrono::duration<double>(context.config.value("change_poll_seconds", 5.0));
  }

  std::vector<mailroom::Zone> list_zones() override {
    std::vector<mailroom::Zone> zones;
    std::string next_name, next_id;
    while (true) {
      std::string query = "maxitems=100";
      if (!next_name.empty())
        query = "dnsname=" + route53::sigv4::uri_encode(next_name, false) + "&hostedzoneid=" + route53::sigv4::uri_encode(next_id, false) + "&" + query;
      const auto doc = call("GET", std::string(kApi) + "/hostedzonesbyname", query, "");
      const auto root = doc.child("ListHostedZonesByNameResponse");
      for (const auto& zone : root.child("HostedZones").children("HostedZone")) {
        if (!private_zones_ && std::string_view(zone.child("Config").child_value("PrivateZone")) == "true") continue;
        std::string id = zone.child_value("Id");
        if (id.starts_with("/hostedzone/")) id.erase(0, 12);
        zones.push_back({id, mailroom::normal_name(unescaped(zone.child_value("Name")))});
      }
      if (std::string_view(root.child_value("IsTruncated")) != "true") break;
      next_name = root.child_value("NextDNSName");
      next_id = root.child_value("NextHostedZoneId");
    }
    return zones;
  }

  std::vector<mailroom::ProviderRecord> list_records(const mailroom::Zone& zone) override {
    std::vector<mailroom::ProviderRecord> records;
    std::string next;  // the next page's name/type/identifier query
    while (true) {
      const auto doc = call("GET", std::string(kApi) + "/hostedzone/" + zone.id + "/rrset",
                            next.empty() ? "maxitems=300" : next + "&maxitems=300", "");
      const auto root = doc.child("ListResourceRecordSetsResponse");
      for (const auto& set : root.child("ResourceRecordSets").children("ResourceRecordSet")) read_set(set, records);
      if (std::string_view(root.child_value("IsTruncated")) != "true") break;
      // The next page starts where Route 53 says; its escaped name goes back as it came.
      next = "name=" + route53::sigv4::uri_encode(root.child_value("NextRecordName"), false) + "&type=" + root.child_value("NextRecordType");
      if (const auto identifier = root.child("NextRecordIdentifier"))
        next += "&identifier=" + route53::sigv4::uri_encode(identifier.child_value(), false);
    }
    return records;
  }

  std::vector<mailroom::ChangeResult> apply(const mailroom::Zone& zone, const mailroom::ChangeSet& changes) override {
    std::vector<mailroom::ChangeResult> results(changes.size());
    std::vector<Wire> pending;
    for (std::size_t i = 0; i < changes.size(); ++i) pending.push_back(wire_of(changes[i], i));
    // Cut at Route 53's limits; each batch is sent until what is left of it applies.
    std::size_t start = 0;
    while (start < pending.size()) {
      std::size_t end = start, records = 0, chars = 0;
      while (end < pending.size() && (end == start || (records + pending[end].records() <= kMaxBatchRecords &&
                                                       chars + pending[end].chars() <= kMaxBatchValueChars))) {
        records += pending[end].records();
        chars += pending[end].chars();
        ++end;
      }
      std::vector<Wire> batch(pending.begin() + static_cast<long>(start), pending.begin() + static_cast<long>(end));
      submit(zone, batch, results);
      start = end;
    }
    return results;
  }

 private:
  void read_set(const pugi::xml_node& set, std::vector<mailroom::ProviderRecord>& records) const {
    const auto type = mailroom::record_type_from_string(set.child_value("Type"));
    // Types mailroom does not manage (NS, SOA, CAA, ...) are not its business.
    if (!type || (*type != RecordType::A && *type != RecordType::AAAA && *type != RecordType::CNAME &&
                  *type != RecordType::MX && *type != RecordType::TXT))
      return;
    const std::string name = mailroom::normal_name(unescaped(set.child_value("Name")));
    const std::string id = name + "|" + set.child_value("Type") + "|" + set.child_value("SetIdentifier");
    const std::string reason = untouchable(set);
    int ttl = 0;
    const std::string_view ttl_text = set.child_value("TTL");
    std::from_chars(ttl_text.data(), ttl_text.data() + ttl_text.size(), ttl);
    if (set.child("AliasTarget")) {
      records.push_back({id, {*type, name, mailroom::normal_name(unescaped(set.child("AliasTarget").child_value("DNSName"))), ttl, {}}, reason});
      return;
    }
    for (const auto& record : set.child("ResourceRecords").children("ResourceRecord")) {
      const std::string wire = record.child_value("Value");
      mailroom::RecordSpec spec{*type, name, wire, ttl, std::nullopt};
      if (*type == RecordType::TXT) {
        spec.value = txt_value(wire);
      } else if (*type == RecordType::MX) {
        const auto space = wire.find(' ');
        int priority = 0;
        std::from_chars(wire.data(), wire.data() + std::min(space, wire.size()), priority);
        spec.priority = priority;
        spec.value = mailroom::normal_name(space == std::string::npos ? "" : wire.substr(space + 1));
      } else if (*type == RecordType::CNAME) {
        spec.value = mailroom::normal_name(wire);
      }
      records.push_back({id, spec, reason});
    }
  }

  static Wire wire_of(const mailroom::Change& change, std::size_t index) {
    Wire w;
    w.index = index;
    w.action = change.action == mailroom::ChangeAction::create   ? "CREATE"
               : change.action == mailroom::ChangeAction::update ? "UPSERT"
                                                                 : "DELETE";
    // The host sends whole sets (record_sets); a per-record change is a set of one value.
    const auto& records = change.action == mailroom::ChangeAction::remove
                              ? (change.held.empty() ? std::vector<mailroom::RecordSpec>{change.record} : change.held)
                              : (change.values.empty() ? std::vector<mailroom::RecordSpec>{change.record} : change.values);
    w.type = std::string(mailroom::to_string(mailroom::wire_type(records.front().type)));
    w.name = records.front().name + ".";
    w.ttl = records.front().ttl;
    for (const auto& r : records) {
      if (w.type == "TXT") w.values.push_back(txt_wire(r.value));
      else if (w.type == "MX") w.values.push_back(std::to_string(r.priority.value_or(10)) + " " + r.value + ".");
      else if (w.type == "CNAME") w.values.push_back(r.value + ".");
      else w.values.push_back(r.value);
    }
    return w;
  }

  static std::string batch_body(const std::vector<Wire>& batch) {
    pugi::xml_document doc;
    auto root = doc.append_child("ChangeResourceRecordSetsRequest");
    root.append_attribute("xmlns") = "https://route53.amazonaws.com/doc/2013-04-01/";
    auto list = root.append_child("ChangeBatch").append_child("Changes");
    for (const auto& w : batch) {
      auto change = list.append_child("Change");
      change.append_child("Action").text() = w.action.c_str();
      auto set = change.append_child("ResourceRecordSet");
      set.append_child("Name").text() = w.name.c_str();
      set.append_child("Type").text() = w.type.c_str();
      set.append_child("TTL").text() = w.ttl;
      auto values = set.append_child("ResourceRecords");
      for (const auto& v : w.values) values.append_child("ResourceRecord").append_child("Value").text() = v.c_str();
    }
    std::ostringstream out;
    doc.save(out, "", pugi::format_raw);
    return out.str();
  }

  // Sends one batch; an InvalidChangeBatch fails the changes its messages name and sends the
  // rest again. Results go into `results` at each change's index.
  void submit(const mailroom::Zone& zone, std::vector<Wire> batch, std::vector<mailroom::ChangeResult>& results) {
    while (!batch.empty()) {
      const auto response = send("POST", std::string(kApi) + "/hostedzone/" + zone.id + "/rrset/", "", batch_body(batch));
      if (response.status == 200) {
        const auto doc = parse(response.body);
        const std::string change_id = doc.child("ChangeResourceRecordSetsResponse").child("ChangeInfo").child_value("Id");
        const std::string note = wait_in_sync(change_id);
        for (const auto& w : batch)
          results[w.index] = {mailroom::normal_name(w.name) + "|" + w.type + "|", std::nullopt, note};
        return;
      }
      const auto doc = parse(response.body);
      if (const auto invalid = doc.child("InvalidChangeBatch")) {
        std::vector<Wire> again;
        for (const auto& w : batch) {
          std::string said;
          for (const auto& message : invalid.child("Messages").children("Message")) {
            const std::string text = message.child_value();
            if (names(text, w)) said += (said.empty() ? "" : "; ") + text;
          }
          if (said.empty()) again.push_back(w);
          else results[w.index] = {"", mailroom::ErrorInfo{ErrorKind::invalid_request, "InvalidChangeBatch", "Route 53: " + said, std::nullopt}};
        }
        if (again.size() == batch.size()) {  // no message names a change: all of them fail with all messages
          std::string all;
          for (const auto& message : invalid.child("Messages").children("Message"))
            all += (all.empty() ? "" : "; ") + std::string(message.child_value());
          for (const auto& w : batch)
            results[w.index] = {"", mailroom::ErrorInfo{ErrorKind::invalid_request, "InvalidChangeBatch", "Route 53: " + all, std::nullopt}};
          return;
        }
        batch = std::move(again);
        continue;
      }
      const auto error = error_of(response, doc);
      for (const auto& w : batch) results[w.index] = {"", error.info()};
      return;
    }
  }

  // Whether an InvalidChangeBatch message is about this change: Route 53 names the set
  // ([name='x.example.com.', type='TXT'], "DNS name x.example.com.") or quotes a value
  // ("encountered with '...'").
  static bool names(const std::string& message, const Wire& w) {
    const std::string lowered = lower(message), name = lower(w.name);
    if (lowered.find("[name='" + name + "', type='" + lower(w.type) + "'") != std::string::npos ||
        lowered.find("dns name " + name + " ") != std::string::npos)
      return true;
    return std::any_of(w.values.begin(), w.values.end(),
                       [&](const std::string& v) { return message.find("'" + v + "'") != std::string::npos; });
  }

  // Polls GetChange until INSYNC, at most change_wait_seconds. Route 53 has taken the change
  // either way; the note says whether it is served yet.
  std::string wait_in_sync(const std::string& change_path) {
    const std::string id = change_path.starts_with("/change/") ? change_path.substr(8) : change_path;
    const auto started = std::chrono::steady_clock::now();
    while (true) {
      const auto doc = call("GET", std::string(kApi) + "/change/" + id, "", "");
      const std::string status = doc.child("GetChangeResponse").child("ChangeInfo").child_value("Status");
      const auto waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.1f", waited.count());
      if (status == "INSYNC") return "Route 53 change " + id + " in sync after " + seconds + " s";
      if (waited + change_poll_ > change_wait_)
        return "Route 53 change " + id + " still " + status + " after " + seconds +
               " s (change_wait_seconds); Route 53 applies it, DNS may not serve it yet";
      std::this_thread::sleep_for(change_poll_);
    }
  }

  mailroom::HttpResponse send(const std::string& method, const std::string& path, const std::string& query,
                              const std::string& body) {
    route53::sigv4::Request request{method, path, query, {{"Host", host_}}, body};
    if (!body.empty()) request.headers.emplace_back("Content-Type", "application/xml");
    const auto signed_request = route53::sigv4::sign_headers(request, credentials_, options_, context_.clock.now());
    mailroom::HttpRequest http;
    http.method = method;
    http.target = path + (query.empty() ? "" : "?" + query);
    http.body = body;
    for (const auto& [name, value] : request.headers) http.headers.add(name, value);
    for (const auto& [name, value] : signed_request.headers) http.headers.add(name, value);
    return context_.http.send(http);
  }

  pugi::xml_document call(const std::string& method, const std::string& path, const std::string& query,
                          const std::string& body) {
    const auto response = send(method, path, query, body);
    auto doc = parse(response.body);
    if (response.status != 200) throw error_of(response, doc);
    return doc;
  }

  static pugi::xml_document parse(const std::string& body) {
    pugi::xml_document doc;
    doc.load_buffer(body.data(), body.size());
    return doc;
  }

  // Route 53's ErrorResponse to a kind, with what to do.
  static ProviderError error_of(const mailroom::HttpResponse& response, const pugi::xml_document& doc) {
    const auto error = doc.child("ErrorResponse").child("Error");
    const std::string code = error ? error.child_value("Code") : std::to_string(response.status);
    const std::string message = "Route 53: " + std::string(error ? error.child_value("Message") : "HTTP " + std::to_string(response.status));
    if (code == "Throttling" || code == "PriorRequestNotComplete" || response.status == 429)
      return ProviderError(ErrorKind::rate_limited, code, message, std::chrono::seconds(code == "Throttling" ? 1 : 2));
    if (response.status == 403 || code == "InvalidClientTokenId" || code == "SignatureDoesNotMatch" ||
        code == "AccessDenied" || code == "ExpiredToken")
      return ProviderError(ErrorKind::auth, code,
                           message + ": check the access key (and session token) and that its policy allows this action");
    if (code == "NoSuchHostedZone")
      return ProviderError(ErrorKind::permanent, code, message + ": the hosted zone is gone; add the zone again");
    if (response.status >= 500) return ProviderError(ErrorKind::transient, code, message);
    return ProviderError(ErrorKind::invalid_request, code, message);
  }

  mailroom::PluginContext& context_;
  route53::sigv4::Credentials credentials_;
  route53::sigv4::Options options_;
  std::string host_;
  bool private_zones_ = false;
  std::chrono::duration<double> change_wait_{120}, change_poll_{5};
};

}  // namespace

MAILROOM_DNS_PLUGIN(Route53, R"json({
  "name": "route53",
  "version": "0.1.0",
  "description": "Amazon Route 53 (REST-XML API 2013-04-01, SigV4)",
  "endpoint": "https://route53.amazonaws.com",
  "secrets": ["access_key_id", "secret_access_key", "session_token"],
  "config_schema": {
    "type": "object", "additionalProperties": false,
    "properties": {
      "base_url": { "type": "string", "pattern": "^https?://[^/]+$", "description": "the API endpoint (tests point it at a fake)" },
      "signing_region": { "type": "string", "pattern": "^[a-z0-9-]+$", "description": "SigV4 region; us-east-1 for the global endpoint" },
      "private_zones": { "type": "boolean", "description": "also list private hosted zones (default false)" },
      "change_wait_seconds": { "type": "number", "minimum": 0, "maximum": 3600, "description": "how long apply waits for INSYNC (default 120)" },
      "change_poll_seconds": { "type": "number", "minimum": 0.05, "maximum": 60, "description": "GetChange polling interval (default 5)" }
    }
  },
  "capabilities": { "record_types": ["A", "AAAA", "CNAME", "MX", "TXT", "SPF", "DKIM", "DMARC"],
                    "max_batch_size": 2500, "requests_per_second": 5, "record_sets": true,
                    "min_ttl": 1, "max_ttl": 2147483647 }
})json")
