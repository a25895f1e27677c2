#include "dns.hpp"

#include "providers.hpp"

#include <arpa/inet.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <thread>

namespace mailroom::dns {
namespace {

using nlohmann::json;

std::string secrets_ad(const std::string& zone_id) {
  return crypto::associated_data("dns_zones", "secrets_encrypted", zone_id);
}

bool retryable(ErrorKind kind) { return kind == ErrorKind::rate_limited || kind == ErrorKind::transient; }

// A read of the provider (zones, records), tried again like a change when it is rate limited
// or fails transiently: the provider's Retry-After, else 1, 2, 4 s, at most ApplyOptions' wait.
template <class Read>
auto patiently(Read&& read, const ApplyOptions& options = {}) {
  for (int attempt = 1;; ++attempt) {
    try {
      return read();
    } catch (const ProviderError& e) {
      if (!retryable(e.kind()) || attempt >= options.max_attempts) throw;
      std::this_thread::sleep_for(
          std::min(e.info().retry_after.value_or(std::chrono::seconds(1 << (attempt - 1))), options.max_wait));
    }
  }
}

// What identifies the account a zone is reached through: its plugin's settings (the endpoint)
// and its credentials, as a SHA-256 digest (a pacer's key, kept in memory only).
std::string credentials_digest(const json& settings, const std::map<std::string, std::string>& secrets) {
  const std::string text = settings.dump() + '\x1e' + json(secrets).dump();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) out += {hex[digest[i] >> 4], hex[digest[i] & 15]};
  return out;
}

std::string describe(const RecordSpec& r) { return std::string(to_string(r.type)) + " " + r.name; }

std::string error_text(const ErrorInfo& e) { return e.code.empty() ? e.message : e.message + " (" + e.code + ")"; }

bool same_address(const std::string& a, const std::string& b, int family) {
  unsigned char x[16] = {}, y[16] = {};
  return inet_pton(family, a.c_str(), x) == 1 && inet_pton(family, b.c_str(), y) == 1 && std::memcmp(x, y, 16) == 0;
}

std::string joined(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : " | ") + v;
  return out;
}

}  // namespace

Engine::Engine(db::Pool& pool, const plugin_host::PluginHost& plugins, const crypto::SecretBox* box,
               resolver::Resolver* resolver)
    : pool_(pool), plugins_(plugins), box_(box), resolver_(resolver) {}

db::DnsZoneRow Engine::add_zone(const ZoneInput& input, const std::string& actor_id) {
  db::DnsZoneRow row;
  row.user_id = input.user_id;
  row.name = input.name;
  if (!row.name.empty() && row.name.back() == '.') row.name.pop_back();
  std::transform(row.name.begin(), row.name.end(), row.name.begin(), [](unsigned char c) { return std::tolower(c); });
  row.provider = input.provider;
  row.plugin = input.plugin;
  row.settings = input.settings;
  // Creating the provider checks the plugin, its settings and the secrets it declares.
  try {
    providers::make_dns_provider(plugins_, row.plugin_name(), row.settings, input.secrets, "");
  } catch (const ProviderError& e) {
    throw DnsError(std::string("zone ") + row.name + ": " + e.info().message);
  }
  row.id = db::DnsZones(pool_).new_id();
  if (!input.secrets.empty()) {
    if (!box_) throw DnsError("zone " + row.name + ": secrets need a master key (MAILROOM_MASTER_KEY or master_key.file)");
    row.secrets_encrypted = box_->seal(json(input.secrets).dump(), secrets_ad(row.id));
  }
  try {
    db::DnsZones(pool_).create(row, actor_id);
  } catch (const db::DbError& e) {
    throw DnsError(e.what());
  }
  return row;
}

db::DnsZoneRow Engine::zone(const std::string& user_id, const std::string& name) {
  auto row = db::DnsZones(pool_).find(user_id, name);
  if (!row) throw NotFound("no zone " + name + " (add it with 'mailroom dns zones add')");
  return *row;
}

std::shared_ptr<DnsProvider> Engine::provider(const db::DnsZoneRow& zone, DnsCapabilities* capabilities) {
  std::map<std::string, std::string> secrets;
  if (!zone.secrets_encrypted.empty()) {
    if (!box_) throw DnsError("zone " + zone.name + " has secrets: a master key is needed to open them");
    secrets = json::parse(box_->open(zone.secrets_encrypted, secrets_ad(zone.id))).get<std::map<std::string, std::string>>();
  }
  try {
    // One pace per account, not per zone: zones reached with the same credentials share it
    // (Route 53 limits an account, Cloudflare a token). The key is a digest, never the secret.
    auto provider = providers::make_dns_provider(plugins_, zone.plugin_name(), zone.settings, secrets,
                                                 zone.plugin_name() + ":" + credentials_digest(zone.settings, secrets));
    if (capabilities)
      *capabilities = std::get<DnsCapabilities>(plugins_.find(zone.plugin_name())->manifest.parsed_capabilities);
    return provider;
  } catch (const ProviderError& e) {
    throw DnsError("zone " + zone.name + ": " + e.info().message);
  }
}

Zone Engine::provider_zone(DnsProvider& provider, const db::DnsZoneRow& zone, bool remember) {
  const auto zones = patiently([&] { return provider.list_zones(); });
  std::vector<Zone> named;
  for (const auto& z : zones)
    if (z.name == zone.name) named.push_back(z);
  if (named.size() > 1) {
    // Which one mailroom should write is not for it to guess.
    std::string ids;
    for (const auto& z : named) ids += (ids.empty() ? "" : ", ") + z.id;
    throw DnsError("the " + zone.provider + " account holds " + std::to_string(named.size()) + " zones named " + zone.name +
                   " (" + ids + "): delete the extra one, or keep it out of what the credentials can list");
  }
  if (named.size() == 1) {
    if (remember) remember_provider_zone(zone, named.front());
    return named.front();
  }
  std::string seen;
  for (const auto& z : zones) seen += (seen.empty() ? "" : ", ") + z.name;
  throw DnsError("the " + zone.provider + " account does not hold zone " + zone.name + " (it holds: " +
                 (seen.empty() ? "none" : seen) + ")");
}

void Engine::check_against_plugin(const db::DnsZoneRow& zone, const RecordSpec& record) const {
  // What the zone's plugin declares it cannot hold is refused when desired, not at apply.
  const std::string& plugin_name = zone.plugin_name();
  const auto* plugin = plugins_.find(plugin_name);
  if (plugin == nullptr) return;  // plan and apply say which plugin is missing
  const auto& caps = std::get<DnsCapabilities>(plugin->manifest.parsed_capabilities);
  if (const auto why = capability_refusal(wire_type(record.type), record.ttl, caps, plugin_name); !why.empty())
    throw DnsError(std::string(to_string(record.type)) + " record " + record.name + ": " + why);
}

void Engine::remember_provider_zone(const db::DnsZoneRow& zone, const Zone& held) {
  if (held.id != zone.provider_zone_id) db::DnsZones(pool_).set_provider_zone_id(zone.id, held.id, zone.user_id);
}

std::string Engine::add_record(const db::DnsZoneRow& zone, const RecordSpec& record, const std::string& actor_id) {
  db::DnsRecordRow row;
  row.zone_id = zone.id;
  const RecordSpec checked = checked_record(zone.name, record);
  check_against_plugin(zone, checked);
  set_record(row, checked);
  try {
    return db::DnsRecords(pool_).save(zone.id, {row}, {}, actor_id).at(0);
  } catch (const db::DbError& e) {
    throw DnsError(e.what());
  }
}

void Engine::remove_record(const db::DnsZoneRow& zone, const std::string& record_id, const std::string& actor_id) {
  if (!db::DnsRecords(pool_).mark_absent(zone.id, record_id, actor_id))
    throw NotFound("zone " + zone.name + " has no record " + record_id);
}

Plan Engine::plan(const db::DnsZoneRow& zone) {
  DnsCapabilities capabilities;
  auto p = provider(zone, &capabilities);
  const Zone z = provider_zone(*p, zone);
  return compute_plan(zone.name, db::DnsRecords(pool_).list(zone.id), patiently([&] { return p->list_records(z); }),
                      capabilities, zone.plugin_name());
}

ApplyReport Engine::apply(const db::DnsZoneRow& zone, const ApplyOptions& options, const std::string& actor_id) {
  DnsCapabilities capabilities;
  auto p = provider(zone, &capabilities);
  const Zone z = provider_zone(*p, zone, false);  // remembered once the plan is accepted: a refusal writes nothing
  ApplyReport report;
  report.plan = compute_plan(zone.name, db::DnsRecords(pool_).list(zone.id),
                             patiently([&] { return p->list_records(z); }, options), capabilities, zone.plugin_name());
  const Plan& plan = report.plan;
  if (!options.plan_checksum.empty() && options.plan_checksum != plan.checksum)
    throw DnsError("zone " + zone.name + " changed since the plan you reviewed (checksum " + options.plan_checksum +
                   ", now " + plan.checksum + "): run 'mailroom dns plan " + zone.name + "' again");
  if (plan.unsafe && !options.force) throw DnsError(plan.unsafe_reason);
  remember_provider_zone(zone, z);

  db::DnsRecords records(pool_);
  std::vector<db::DnsOutcome> bookkeeping;  // adoptions and forgets: no provider call
  std::vector<const PlannedChange*> calls;
  for (const auto& c : plan.changes) {
    if (c.action == PlanAction::unchanged && c.adopt)
      bookkeeping.push_back({c.record_id, db::DnsOutcome::Kind::active, c.provider_id, ""});
    else if (c.action == PlanAction::remove && c.forget)
      bookkeeping.push_back({c.record_id, db::DnsOutcome::Kind::deleted, "", ""});
    else if (c.action != PlanAction::unchanged)
      calls.push_back(&c);
  }
  records.record_outcomes(bookkeeping, actor_id);
  report.applied += bookkeeping.size();

  // Batches never mix deletes with creates: the plan's order (deletes first) holds across them.
  const std::size_t batch_size = std::max<std::size_t>(1, capabilities.max_batch_size);
  for (std::size_t start = 0; start < calls.size();) {
    std::size_t end = start;
    while (end < calls.size() && end - start < batch_size && calls[end]->action == calls[start]->action) ++end;
    std::vector<const PlannedChange*> pending(calls.begin() + static_cast<long>(start), calls.begin() + static_cast<long>(end));
    std::vector<db::DnsOutcome> outcomes;
    for (int attempt = 1; !pending.empty(); ++attempt) {
      ChangeSet set;
      for (const auto* c : pending)
        set.push_back({c->action == PlanAction::create   ? ChangeAction::create
                       : c->action == PlanAction::update ? ChangeAction::update
                                                         : ChangeAction::remove,
                       c->record, c->provider_id, c->set_values, c->set_held});
      std::vector<ChangeResult> results;
      try {
        results = p->apply(z, set);
        if (results.size() != set.size())
          throw ProviderError(ErrorKind::permanent, "plugin_contract",
                              "the plugin returned " + std::to_string(results.size()) + " results for " +
                                  std::to_string(set.size()) + " changes");
      } catch (const ProviderError& e) {
        results.assign(set.size(), ChangeResult{"", e.info()});
      }
      std::vector<const PlannedChange*> again;
      std::chrono::seconds wait{0};
      for (std::size_t i = 0; i < pending.size(); ++i) {
        const auto* c = pending[i];
        const auto& r = results[i];
        if (!r.error && !r.note.empty() &&
            std::find(report.notes.begin(), report.notes.end(), r.note) == report.notes.end())
          report.notes.push_back(r.note);
        if (!r.error && c->record_set) {
          // Every row of the set shares the outcome; a row keeps its value's key.
          for (const auto& m : c->members)
            outcomes.push_back({m.record_id, m.removed ? db::DnsOutcome::Kind::deleted : db::DnsOutcome::Kind::active,
                                m.removed ? "" : m.value_key, ""});
          continue;
        }
        if (!r.error) {
          outcomes.push_back({c->record_id,
                              c->action == PlanAction::remove ? db::DnsOutcome::Kind::deleted : db::DnsOutcome::Kind::active,
                              r.provider_id.empty() ? c->provider_id : r.provider_id, ""});
          continue;
        }
        if (retryable(r.error->kind) && attempt < options.max_attempts) {
          again.push_back(c);
          wait = std::max(wait, r.error->retry_after.value_or(std::chrono::seconds(1 << (attempt - 1))));
          continue;
        }
        if (c->record_set)
          for (const auto& m : c->members) outcomes.push_back({m.record_id, db::DnsOutcome::Kind::failed, "", error_text(*r.error)});
        else
          outcomes.push_back({c->record_id, db::DnsOutcome::Kind::failed, "", error_text(*r.error)});
        report.errors.push_back(std::string(to_string(c->action)) + " " + describe(c->record) +
                                (c->record_set ? " (record set)" : "") + ": " + error_text(*r.error));
      }
      pending = std::move(again);
      if (!pending.empty()) std::this_thread::sleep_for(std::min(wait, options.max_wait));
    }
    records.record_outcomes(outcomes, actor_id);
    for (const auto& o : outcomes) (o.kind == db::DnsOutcome::Kind::failed ? report.failed : report.applied) += 1;
    start = end;
  }
  return report;
}

std::vector<ValidationResult> Engine::validate(const db::DnsZoneRow& zone, const std::string& actor_id) {
  if (!resolver_) throw DnsError("validate needs a resolver");
  std::vector<ValidationResult> results;
  std::vector<db::DnsValidation> writes;
  for (const auto& row : db::DnsRecords(pool_).list(zone.id)) {
    if (row.desired != "present") continue;
    ValidationResult v;
    v.record_id = row.id;
    v.record = record_of(row);
    const RecordType type = wire_type(v.record.type);
    const auto query_type = type == RecordType::A      ? resolver::QueryType::A
                            : type == RecordType::AAAA ? resolver::QueryType::AAAA
                            : type == RecordType::MX   ? resolver::QueryType::MX
                            : type == RecordType::CNAME ? resolver::QueryType::CNAME
                                                        : resolver::QueryType::TXT;
    const auto answer = resolver_->query(row.name, query_type);
    std::vector<std::string> served = answer.values;
    bool found = false;
    if (type == RecordType::MX) {
      for (const auto& mx : answer.mx) {
        served.push_back(std::to_string(mx.preference) + " " + mx.host);
        found = found || (mx.preference == row.priority.value_or(10) && mx.host == row.value);
      }
    } else {
      for (const auto& value : answer.values)
        found = found || (type == RecordType::A      ? same_address(value, row.value, AF_INET)
                          : type == RecordType::AAAA ? same_address(value, row.value, AF_INET6)
                                                     : value == row.value);
    }
    // A second SPF or DMARC record at the name breaks both (RFC 7208 §4.5, RFC 7489 §6.6.3).
    if (found && (v.record.type == RecordType::SPF || v.record.type == RecordType::DMARC)) {
      const std::string tag = v.record.type == RecordType::SPF ? "v=spf1" : "v=DMARC1";
      const auto same_kind = std::count_if(answer.values.begin(), answer.values.end(),
                                           [&](const std::string& s) { return s.rfind(tag, 0) == 0; });
      if (same_kind > 1) found = false;
    }
    switch (answer.status) {
      case resolver::QueryStatus::ok: v.status = found ? "valid" : "mismatch"; break;
      case resolver::QueryStatus::no_such_name:
      case resolver::QueryStatus::no_data: v.status = "missing"; break;
      case resolver::QueryStatus::failure:
        v.status = "error";
        served = {answer.error};
        break;
    }
    v.served = joined(served);
    writes.push_back({row.id, v.status, v.served});
    results.push_back(std::move(v));
  }
  db::DnsRecords(pool_).record_validations(writes, actor_id);
  return results;
}

nlohmann::json to_json(const db::DnsZoneRow& z) {
  return {{"id", z.id},
          {"name", z.name},
          {"provider", z.provider},
          {"plugin", db::text_or_null(z.plugin)},
          {"provider_zone_id", db::text_or_null(z.provider_zone_id)},
          {"settings", z.settings},
          {"secrets", z.secrets_encrypted.empty() ? "(none)" : "(set)"},
          {"created_at", z.created_at}};
}

nlohmann::json to_json(const db::DnsRecordRow& r) {
  return {{"id", r.id},
          {"type", r.record_type},
          {"name", r.name},
          {"value", r.value},
          {"ttl", r.ttl},
          {"priority", r.priority ? json(*r.priority) : json(nullptr)},
          {"status", r.status},
          {"desired", r.desired},
          {"provider_record_id", db::text_or_null(r.provider_record_id)},
          {"validation_status", db::text_or_null(r.validation_status)},
          {"served_value", db::text_or_null(r.served_value)},
          {"last_error", db::text_or_null(r.last_error)},
          {"validated_at", db::text_or_null(r.validated_at)}};
}

nlohmann::json to_json(const ApplyReport& report) {
  return {{"plan", report.plan.to_json()}, {"applied", report.applied}, {"failed", report.failed},
          {"errors", report.errors}, {"notes", report.notes}};
}

nlohmann::json to_json(const std::vector<ValidationResult>& results) {
  json out = json::array();
  for (const auto& r : results)
    out.push_back({{"record_id", r.record_id}, {"type", to_string(r.record.type)}, {"name", r.record.name},
                   {"value", r.record.value}, {"validation_status", r.status}, {"served", r.served}});
  return out;
}

nlohmann::json to_json(const EmailSetupReport& report) {
  json records = json::array();
  for (const auto& r : report.records) {
    json j = {{"type", to_string(r.type)}, {"name", r.name}, {"value", r.value}, {"ttl", r.ttl}};
    if (r.priority) j["priority"] = *r.priority;
    records.push_back(j);
  }
  return {{"records", records},         {"added", report.added},
          {"changed", report.changed},  {"kept", report.kept},
          {"spf_lookups", report.spf_lookups}, {"spf_breakdown", report.spf_breakdown},
          {"notes", report.notes}};
}

}  // namespace mailroom::dns
