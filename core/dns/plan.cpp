// Plans: the diff between desired rows and the provider's records, its order, safety and
// checksum. Pure functions: the benchmark (bench/dns_plan) times them on 10 000 records.
#include "dns.hpp"

#include <arpa/inet.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace mailroom::dns {
namespace {

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

// A record-set change: the set, then each value added (+), removed (-) or kept as it is.
std::string set_lines(const PlannedChange& c) {
  const char* verb = c.action == PlanAction::create ? "  + create  " : c.action == PlanAction::remove ? "  - delete  " : "  ~ update  ";
  std::string out = verb;
  out.append(to_string(c.record.type)).append(" ").append(c.record.name).append(" (record set, ttl ");
  if (!c.set_held.empty() && c.set_held.front().ttl != c.record.ttl && c.action == PlanAction::update)
    out.append(std::to_string(c.set_held.front().ttl)).append(" -> ");
  out.append(std::to_string(c.action == PlanAction::remove ? c.set_held.front().ttl : c.record.ttl)).append(")\n");
  const auto value_of = [](const RecordSpec& r) {
    return r.type == RecordType::MX ? std::to_string(r.priority.value_or(10)) + " " + shown(r.value) : shown(r.value);
  };
  std::set<std::string> before, after;
  for (const auto& r : c.set_held) before.insert(identity(r, false));
  for (const auto& r : c.set_values) after.insert(identity(r, false));
  for (const auto& r : c.set_held)
    if (!after.count(identity(r, false))) out.append("        - ").append(value_of(r)).append("\n");
  for (const auto& r : c.set_values) {
    const bool kept = before.count(identity(r, false)) > 0;
    out.append(kept ? "          " : "        + ").append(value_of(r)).append(kept ? "  (kept)\n" : "\n");
  }
  return out;
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

std::string record_value_key(const RecordSpec& r) {
  const RecordType type = wire_type(r.type);
  std::string key(to_string(type));
  key.append(" ").append(normal_name(r.name)).append(" ");
  if (type == RecordType::MX) key.append(std::to_string(r.priority.value_or(10))).append(" ");
  return key.append(type == RecordType::CNAME || type == RecordType::MX ? normal_name(r.value) : r.value);
}

namespace {

// A record set: every value of one wire type at one name.
std::string set_key(const RecordSpec& r) {
  return std::string(to_string(wire_type(r.type))) + " " + normal_name(r.name);
}

void finish_plan(Plan& plan, std::vector<PlannedChange>& removes, std::vector<PlannedChange>& updates,
                 std::vector<PlannedChange>& creates, std::vector<PlannedChange>& unchanged, std::size_t touching);

// compute_plan for record-set providers (see dns.hpp).
Plan compute_set_plan(const std::string& zone, const std::vector<db::DnsRecordRow>& desired,
                      const std::vector<ProviderRecord>& held, const std::string& plugin) {
  struct HeldSet {
    std::vector<const ProviderRecord*> values;
    std::string untouchable;
  };
  std::map<std::string, HeldSet> sets;
  std::unordered_set<std::string> held_keys;
  for (const auto& r : held) {
    auto& set = sets[set_key(r.record)];
    set.values.push_back(&r);
    if (!r.untouchable.empty() && set.untouchable.empty()) set.untouchable = r.untouchable;
    if (r.untouchable.empty()) held_keys.insert(record_value_key(r.record));
  }
  std::map<std::string, std::vector<const db::DnsRecordRow*>> rows_by_set;
  for (const auto& row : desired) rows_by_set[set_key(record_of(row))].push_back(&row);

  Plan plan;
  plan.zone = zone;
  for (const auto& row : desired)
    if (held_keys.count(row.provider_record_id)) ++plan.owned;
  std::vector<PlannedChange> removes, updates, creates, unchanged;
  std::string refusals;
  std::size_t touching = 0;
  for (const auto& [key, rows] : rows_by_set) {
    const auto found = sets.find(key);
    static const HeldSet kNone;
    const HeldSet& now = found == sets.end() ? kNone : found->second;
    const auto forget = [&](const db::DnsRecordRow& row) {
      PlannedChange c;
      c.action = PlanAction::remove;
      c.forget = true;
      c.record_id = row.id;
      c.record = record_of(row);
      removes.push_back(std::move(c));
    };
    if (!now.untouchable.empty()) {
      for (const auto* row : rows) {
        if (row->desired == "absent") forget(*row);
        else refusals += "\n  " + row->record_type + " " + row->name + ": the provider holds this name and type as " +
                         now.untouchable + ", which mailroom never changes; remove the record from mailroom or that set from the provider";
      }
      continue;
    }
    // Values rows owned and no longer want (an updated row's old value, a removed row's value).
    std::set<std::string> wanted, released;
    std::vector<RecordSpec> added;
    std::optional<int> ttl;
    for (const auto* row : rows) {
      const RecordSpec record = record_of(*row);
      if (row->desired == "absent") {
        if (held_keys.count(row->provider_record_id)) released.insert(row->provider_record_id);
        continue;
      }
      if (ttl && *ttl != record.ttl)
        refusals += "\n  " + key + ": its records want TTLs " + std::to_string(*ttl) + " and " + std::to_string(record.ttl) +
                    "; a record set has one TTL";
      ttl = record.ttl;
      if (wanted.insert(record_value_key(record)).second) added.push_back(record);
      if (held_keys.count(row->provider_record_id)) released.insert(row->provider_record_id);
    }
    std::vector<RecordSpec> before, after;
    std::set<std::string> after_keys;
    for (const auto* r : now.values) {
      before.push_back(r->record);
      const std::string value = record_value_key(r->record);
      if ((released.count(value) && !wanted.count(value)) || !after_keys.insert(value).second) continue;
      after.push_back(r->record);
    }
    for (auto& record : added)
      if (after_keys.insert(record_value_key(record)).second) after.push_back(record);
    const int set_ttl = ttl.value_or(before.empty() ? 3600 : before.front().ttl);
    for (auto& record : after) record.ttl = set_ttl;
    for (const auto& value : released)
      if (!wanted.count(value)) ++touching;

    std::set<std::string> before_keys;
    for (const auto& record : before) before_keys.insert(record_value_key(record));
    const bool same = before_keys == after_keys && (before.empty() || before.front().ttl == set_ttl) &&
                      before.size() == after.size();
    if (same) {  // nothing to write: rows learn their values' keys, absent ones go
      for (const auto* row : rows) {
        if (row->desired == "absent") {
          forget(*row);
          continue;
        }
        PlannedChange c;
        c.action = PlanAction::unchanged;
        c.record_id = row->id;
        c.record = record_of(*row);
        c.provider_id = record_value_key(c.record);
        c.adopt = row->status != "active" || row->provider_record_id != c.provider_id;
        unchanged.push_back(std::move(c));
      }
      continue;
    }
    PlannedChange c;
    c.record_set = true;
    c.action = before.empty() ? PlanAction::create : after.empty() ? PlanAction::remove : PlanAction::update;
    const RecordSpec& sample = after.empty() ? before.front() : after.front();
    c.record = {wire_type(sample.type), sample.name, sample.value, set_ttl, std::nullopt};
    if (!now.values.empty()) c.provider_id = now.values.front()->id;
    c.set_values = std::move(after);
    c.set_held = std::move(before);
    for (const auto* row : rows)
      c.members.push_back({row->id, record_value_key(record_of(*row)), row->desired == "absent"});
    (c.action == PlanAction::create ? creates : c.action == PlanAction::remove ? removes : updates).push_back(std::move(c));
  }
  if (!refusals.empty()) throw DnsError("zone " + zone + ": plugin " + plugin + " cannot plan these records:" + refusals);
  finish_plan(plan, removes, updates, creates, unchanged, touching);
  return plan;
}

}  // namespace

Plan compute_plan(const std::string& zone, const std::vector<db::DnsRecordRow>& desired,
                  const std::vector<ProviderRecord>& held, const DnsCapabilities& capabilities,
                  const std::string& plugin) {
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
  if (capabilities.record_sets) return compute_set_plan(zone, desired, held, plugin);

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
  std::size_t touching = updates.size();
  for (const auto& c : removes)
    if (!c.forget) ++touching;
  finish_plan(plan, removes, updates, creates, unchanged, touching);
  return plan;
}

namespace {

// Orders the changes (removes, updates, creates, unchanged), applies the safety limit to
// `touching` (owned records updated or removed) and sums the plan up in its checksum.
void finish_plan(Plan& plan, std::vector<PlannedChange>& removes, std::vector<PlannedChange>& updates,
                 std::vector<PlannedChange>& creates, std::vector<PlannedChange>& unchanged, std::size_t touching) {
  const std::string& zone = plan.zone;
  plan.removes = removes.size();
  plan.updates = updates.size();
  plan.creates = creates.size();
  plan.unchanged = unchanged.size();
  for (auto* group : {&removes, &updates, &creates, &unchanged})
    for (auto& c : *group) plan.changes.push_back(std::move(c));

  if (plan.owned >= kSafetyMinimumOwned && static_cast<double>(touching) > kMaxChangeShare * static_cast<double>(plan.owned)) {
    plan.unsafe = true;
    plan.unsafe_reason = "the plan updates or deletes " + std::to_string(touching) + " of the " +
                         std::to_string(plan.owned) + " records mailroom owns in " + zone + " (more than " +
                         std::to_string(static_cast<int>(kMaxChangeShare * 100)) + " %); review it and apply with --force";
  }

  std::string canonical;
  canonical.reserve(plan.changes.size() * 96);
  for (const auto& c : plan.changes) {
    canonical += std::string(to_string(c.action)) + '\x1e' + c.record_id + '\x1e' + c.provider_id + '\x1e' +
                 identity(c.record, true) + '\x1e' + (c.adopt ? "a" : "") + (c.forget ? "f" : "");
    for (const auto& v : c.set_values) canonical += '\x1d' + identity(v, true);
    for (const auto& v : c.set_held) canonical += '\x1c' + identity(v, true);
    for (const auto& m : c.members) canonical += '\x1b' + m.record_id + (m.removed ? "-" : "+");
    canonical += '\n';
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(canonical.data(), canonical.size(), digest, &length, EVP_sha256(), nullptr);
  plan.checksum = hex(digest, 8);
}

}  // namespace

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
    if (c.record_set) {
      // The set whole: every value after the change and now, and the rows it writes.
      const auto values = [](const std::vector<RecordSpec>& records) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& r : records) out.push_back(r.type == RecordType::MX ? std::to_string(r.priority.value_or(10)) + " " + r.value : r.value);
        return out;
      };
      j.erase("value");
      j.erase("record_id");
      j["record_set"] = {{"values", values(c.set_values)}, {"held", values(c.set_held)}};
      if (!c.set_held.empty()) j["record_set"]["held_ttl"] = c.set_held.front().ttl;
      j["record_ids"] = nlohmann::json::array();
      for (const auto& m : c.members) j["record_ids"].push_back(m.record_id);
    }
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
    if (c.record_set) {
      out << set_lines(c);
      continue;
    }
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
