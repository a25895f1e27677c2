// Plans: the diff between desired rows and the provider's records, its order, safety and
// checksum. Pure functions: the benchmark (bench/dns_plan) times them on 10 000 records.
#include "dns.hpp"

#include <arpa/inet.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace mailroom::dns {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string normal_name(std::string name) {
  if (!name.empty() && name.back() == '.') name.pop_back();
  return lower(std::move(name));
}

// How a record compares: wire type, name, value (names in values lower-cased), TTL, priority.
std::string identity(const RecordSpec& r, bool with_ttl) {
  const RecordType type = wire_type(r.type);
  std::string value = (type == RecordType::CNAME || type == RecordType::MX) ? normal_name(r.value) : r.value;
  std::string key = std::string(to_string(type)) + '\x1f' + normal_name(r.name) + '\x1f' + value + '\x1f' +
                    (type == RecordType::MX ? std::to_string(r.priority.value_or(10)) : std::string());
  if (with_ttl) key += '\x1f' + std::to_string(r.ttl);
  return key;
}

std::string hex(const unsigned char* bytes, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += {digits[bytes[i] >> 4], digits[bytes[i] & 15]};
  return out;
}

// Built by append rather than operator+ chains: GCC 12 at -O2 reports a false -Wrestrict
// inside std::string's operator+ (GCC bug 105329), which a packager's Release build shows.
std::string shown(const std::string& value, std::size_t limit = 70) {
  std::string out = "\"";
  if (value.size() <= limit) return out.append(value).append("\"");
  return out.append(value, 0, limit - 20)
      .append("...")
      .append(value, value.size() - 12, 12)
      .append("\" (")
      .append(std::to_string(value.size()))
      .append(" chars)");
}

std::string record_line(const RecordSpec& r) {
  std::string line(to_string(r.type));
  line.append(" ").append(r.name).append(" ");
  if (r.type == RecordType::MX) line.append(std::to_string(r.priority.value_or(10))).append(" ");
  return line.append(shown(r.value)).append(" ttl ").append(std::to_string(r.ttl));
}

bool valid_hostname(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    const auto dot = name.find('.', start);
    const std::string label = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || label.size() > 63) return false;
    for (char c : label)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

}  // namespace

std::string_view to_string(PlanAction action) {
  switch (action) {
    case PlanAction::create: return "create";
    case PlanAction::update: return "update";
    case PlanAction::remove: return "delete";
    case PlanAction::unchanged: return "unchanged";
  }
  return "?";
}

RecordType wire_type(RecordType type) {
  switch (type) {
    case RecordType::SPF:
    case RecordType::DKIM:
    case RecordType::DMARC: return RecordType::TXT;
    default: return type;
  }
}

RecordSpec record_of(const db::DnsRecordRow& row) {
  return {*record_type_from_string(row.record_type), row.name, row.value, row.ttl, row.priority};
}

void set_record(db::DnsRecordRow& row, const RecordSpec& record) {
  row.record_type = std::string(to_string(record.type));
  row.name = record.name;
  row.value = record.value;
  row.ttl = record.ttl;
  row.priority = record.priority;
}

RecordSpec checked_record(const std::string& zone, RecordSpec r) {
  // A name ending in a dot is absolute (as in a zone file); any other is relative to the zone.
  const bool absolute = r.name.size() > 1 && r.name.back() == '.';
  std::string name = normal_name(r.name);
  if (name.empty() || name == "@") name = zone;
  else if (absolute && name != zone && !name.ends_with("." + zone))
    throw DnsError(std::string(to_string(r.type)) + " record " + r.name + ": the name is outside the zone " + zone);
  else if (name != zone && !name.ends_with("." + zone)) name += "." + zone;
  r.name = name;
  const std::string what = std::string(to_string(r.type)) + " record " + name;
  for (const unsigned char c : r.value)
    if (c < 0x20 || c == 0x7f) throw DnsError(what + ": the value contains a control character (" + std::to_string(c) + ")");
  if (!valid_hostname(name)) throw DnsError(what + ": the name is not a valid DNS name");
  if (r.ttl < 1) throw DnsError(what + ": ttl must be at least 1 second");
  if (r.value.empty()) throw DnsError(what + ": the value is empty");
  unsigned char address[16];
  switch (r.type) {
    case RecordType::A:
      if (inet_pton(AF_INET, r.value.c_str(), address) != 1) throw DnsError(what + ": '" + r.value + "' is not an IPv4 address");
      break;
    case RecordType::AAAA:
      if (inet_pton(AF_INET6, r.value.c_str(), address) != 1) throw DnsError(what + ": '" + r.value + "' is not an IPv6 address");
      break;
    case RecordType::CNAME:
    case RecordType::MX:
      r.value = normal_name(r.value);
      if (!valid_hostname(r.value)) throw DnsError(what + ": '" + r.value + "' is not a host name");
      if (r.type == RecordType::CNAME && name == zone) throw DnsError(what + ": a CNAME cannot sit at the zone apex");
      if (r.type == RecordType::MX && !r.priority) r.priority = 10;
      if (r.priority && (*r.priority < 0 || *r.priority > 65535)) throw DnsError(what + ": priority must be 0-65535");
      break;
    case RecordType::SPF:
      if (!r.value.starts_with("v=spf1")) throw DnsError(what + ": an SPF record starts with 'v=spf1'");
      break;
    case RecordType::DMARC:
      if (!r.value.starts_with("v=DMARC1")) throw DnsError(what + ": a DMARC record starts with 'v=DMARC1'");
      if (!name.starts_with("_dmarc.")) throw DnsError(what + ": a DMARC record lives at _dmarc.<domain>");
      break;
    case RecordType::DKIM:
      if (name.find("._domainkey.") == std::string::npos)
        throw DnsError(what + ": a DKIM record lives at <selector>._domainkey.<domain>");
      break;
    case RecordType::TXT: break;
  }
  if (r.type != RecordType::MX) r.priority.reset();
  return r;
}

std::string capability_refusal(RecordType type, int ttl, const DnsCapabilities& capabilities, const std::string& plugin) {
  const auto& types = capabilities.record_types;
  if (std::find(types.begin(), types.end(), type) == types.end())
    return "plugin " + plugin + " does not declare the record type " + std::string(to_string(type)) + " (record_types)";
  if (ttl < capabilities.min_ttl || ttl > capabilities.max_ttl)
    return "ttl " + std::to_string(ttl) + " is outside what plugin " + plugin + " declares (min_ttl " +
           std::to_string(capabilities.min_ttl) + ", max_ttl " + std::to_string(capabilities.max_ttl) + ")";
  return "";
}

Plan compute_plan(const std::string& zone, const std::vector<db::DnsRecordRow>& desired,
                  const std::vector<ProviderRecord>& held, const DnsCapabilities& capabilities,
                  const std::string& plugin) {
  if (capabilities.record_sets)
    throw DnsError("zone " + zone + ": plugin " + plugin + " declares record_sets, and this engine plans per record; "
                   "it cannot plan for that plugin yet");
  // What the provider cannot take is refused before anything is planned.
  std::string refusals;
  for (const auto& row : desired) {
    if (row.desired != "present") continue;
    const auto type = record_type_from_string(row.record_type);
    const std::string why = type ? capability_refusal(wire_type(*type), row.ttl, capabilities, plugin)
                                 : "'" + row.record_type + "' is not a record type";
    if (!why.empty()) refusals += "\n  " + row.record_type + " " + row.name + ": " + why;
  }
  if (!refusals.empty()) throw DnsError("zone " + zone + " has records plugin " + plugin + " cannot take:" + refusals);

  std::unordered_map<std::string, const ProviderRecord*> by_id;
  by_id.reserve(held.size());
  for (const auto& r : held) by_id.emplace(r.id, &r);
  // Provider records some row already owns, and unowned ones by content (for adoption).
  std::unordered_set<std::string> claimed;
  claimed.reserve(desired.size());
  for (const auto& row : desired)
    if (!row.provider_record_id.empty() && by_id.count(row.provider_record_id)) claimed.insert(row.provider_record_id);
  std::unordered_multimap<std::string, const ProviderRecord*> unowned;
  unowned.reserve(held.size());
  for (const auto& r : held)
    if (!claimed.count(r.id)) unowned.emplace(identity(r.record, true), &r);

  Plan plan;
  plan.zone = zone;
  plan.owned = claimed.size();
  std::vector<PlannedChange> removes, updates, creates, unchanged;
  unchanged.reserve(desired.size());
  plan.changes.reserve(desired.size());
  for (const auto& row : desired) {
    PlannedChange change;
    change.record_id = row.id;
    change.record = record_of(row);
    const auto owned = row.provider_record_id.empty() ? by_id.end() : by_id.find(row.provider_record_id);
    if (row.desired == "absent") {
      change.action = PlanAction::remove;
      if (owned != by_id.end()) {
        change.provider_id = row.provider_record_id;
        change.record = owned->second->record;
      } else {
        change.forget = true;
      }
      removes.push_back(std::move(change));
      continue;
    }
    if (owned != by_id.end()) {
      change.provider_id = row.provider_record_id;
      if (identity(owned->second->record, true) == identity(change.record, true)) {
        change.action = PlanAction::unchanged;
        change.adopt = row.status != "active";
        unchanged.push_back(std::move(change));
      } else {
        change.action = PlanAction::update;
        change.held = owned->second->record;
        updates.push_back(std::move(change));
      }
      continue;
    }
    const auto match = unowned.find(identity(change.record, true));
    if (match != unowned.end()) {  // the provider already holds exactly this: take ownership
      change.action = PlanAction::unchanged;
      change.adopt = true;
      change.provider_id = match->second->id;
      unowned.erase(match);
      unchanged.push_back(std::move(change));
      continue;
    }
    change.action = PlanAction::create;
    creates.push_back(std::move(change));
  }
  plan.removes = removes.size();
  plan.updates = updates.size();
  plan.creates = creates.size();
  plan.unchanged = unchanged.size();
  for (auto* group : {&removes, &updates, &creates, &unchanged})
    for (auto& c : *group) plan.changes.push_back(std::move(c));

  std::size_t touching = plan.updates;
  for (const auto& c : plan.changes)
    if (c.action == PlanAction::remove && !c.forget) ++touching;
  if (plan.owned >= kSafetyMinimumOwned && static_cast<double>(touching) > kMaxChangeShare * static_cast<double>(plan.owned)) {
    plan.unsafe = true;
    plan.unsafe_reason = "the plan updates or deletes " + std::to_string(touching) + " of the " +
                         std::to_string(plan.owned) + " records mailroom owns in " + zone + " (more than " +
                         std::to_string(static_cast<int>(kMaxChangeShare * 100)) + " %); review it and apply with --force";
  }

  std::string canonical;
  canonical.reserve(plan.changes.size() * 96);
  for (const auto& c : plan.changes)
    canonical += std::string(to_string(c.action)) + '\x1e' + c.record_id + '\x1e' + c.provider_id + '\x1e' +
                 identity(c.record, true) + '\x1e' + (c.adopt ? "a" : "") + (c.forget ? "f" : "") + '\n';
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(canonical.data(), canonical.size(), digest, &length, EVP_sha256(), nullptr);
  plan.checksum = hex(digest, 8);
  return plan;
}

nlohmann::json Plan::to_json() const {
  nlohmann::json changes_json = nlohmann::json::array();
  for (const auto& c : changes) {
    nlohmann::json j = {{"action", to_string(c.action)},
                        {"record_id", c.record_id},
                        {"type", to_string(c.record.type)},
                        {"name", c.record.name},
                        {"value", c.record.value},
                        {"ttl", c.record.ttl}};
    if (c.record.priority) j["priority"] = *c.record.priority;
    if (!c.provider_id.empty()) j["provider_record_id"] = c.provider_id;
    if (c.held) j["held"] = {{"value", c.held->value}, {"ttl", c.held->ttl}};
    if (c.adopt) j["adopt"] = true;
    if (c.forget) j["forget"] = true;
    changes_json.push_back(std::move(j));
  }
  return {{"zone", zone},           {"checksum", checksum},     {"owned", owned},
          {"creates", creates},     {"updates", updates},       {"deletes", removes},
          {"unchanged", unchanged}, {"unsafe", unsafe},         {"unsafe_reason", unsafe_reason},
          {"changes", changes_json}};
}

std::string Plan::to_text() const {
  std::ostringstream out;
  out << "Plan for " << zone << " (" << owned << " records owned by mailroom)\n";
  std::size_t adoptions = 0;
  for (const auto& c : changes) {
    switch (c.action) {
      case PlanAction::remove:
        out << "  - delete  " << record_line(c.record) << (c.forget ? "  (already gone at the provider)" : "") << "\n";
        break;
      case PlanAction::update:
        out << "  ~ update  " << record_line(*c.held) << "\n"
            << "         -> " << record_line(c.record) << "\n";
        break;
      case PlanAction::create: out << "  + create  " << record_line(c.record) << "\n"; break;
      case PlanAction::unchanged:
        if (c.adopt) {
          ++adoptions;
          out << "  = adopt   " << record_line(c.record) << "  (already published; mailroom takes ownership)\n";
        }
        break;
    }
  }
  out << "Plan: " << creates << " to create, " << updates << " to update, " << removes << " to delete, " << unchanged
      << " unchanged";
  if (adoptions) out << " (" << adoptions << " adopted)";
  out << ".\n";
  if (unsafe) out << "REFUSED without --force: " << unsafe_reason << ".\n";
  out << "Checksum: " << checksum << "  (mailroom dns apply " << zone << " --plan-checksum " << checksum << ")\n";
  return out.str();
}

}  // namespace mailroom::dns
