// The DNS engine: desired records (dns_records) -> plan (a diff against what the provider
// holds) -> apply (through the zone's DNS plugin) -> validate (what DNS serves), and
// email-setup, which builds the SPF, DKIM, DMARC and MX records a sending domain needs.
//
// The host owns the diff, its order and its safety (octoDNS / DNSControl's shape): only
// records mailroom owns are touched; a plan that would update or delete more than 30 % of
// the owned records of a zone holding 10 or more is refused without force; a plan has a
// checksum so that apply applies exactly what was reviewed; deletes run first.
#pragma once

#include "crypto.hpp"
#include "db.hpp"
#include "plugin_host.hpp"
#include "resolver.hpp"

#include <mailroom/dns_provider.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mailroom::dns {

// Bad input or a refused operation; the message names the zone, record or option at fault.
class DnsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The zone or record named does not exist (for this user).
class NotFound : public DnsError {
 public:
  using DnsError::DnsError;
};

// --- plans (pure: no database, no network) -------------------------------------------------

enum class PlanAction { create, update, remove, unchanged };
std::string_view to_string(PlanAction action);

// A row whose value a record-set change writes or removes: it shares the change's outcome.
struct SetMember {
  std::string record_id;
  std::string value_key;  // the value's key (the row's provider_record_id once applied)
  bool removed = false;   // the row is deleted (desired absent) rather than made active
};

struct PlannedChange {
  PlanAction action = PlanAction::unchanged;
  std::string record_id;          // the dns_records row (empty for a record-set change)
  RecordSpec record;              // desired (create, update, unchanged), or the one removed;
                                  // a record-set change: the set's type, name and TTL
  std::string provider_id;        // update, remove, unchanged: the provider's record (or set)
  std::optional<RecordSpec> held; // update: what the provider holds now
  bool adopt = false;             // unchanged: the row learns its provider id / becomes active
  bool forget = false;            // remove: the provider no longer holds it; only the row goes
  // A record-set change (plugins declaring record_sets): the set's values after the change and
  // now (values mailroom does not own are in both), and the rows it writes.
  bool record_set = false;
  std::vector<RecordSpec> set_values, set_held;
  std::vector<SetMember> members;
};

struct Plan {
  std::string zone;
  std::vector<PlannedChange> changes;  // removes, updates, creates, then unchanged
  std::size_t owned = 0;               // provider records mailroom owns in the zone
  std::size_t creates = 0, updates = 0, removes = 0, unchanged = 0;
  bool unsafe = false;
  std::string unsafe_reason;
  std::string checksum;  // 16 hex digits over every change

  nlohmann::json to_json() const;
  std::string to_text() const;  // terraform-plan-like, for people
};

// The safety limit: more than this share of owned records updated or removed...
inline constexpr double kMaxChangeShare = 0.30;
// ...in a zone owning at least this many.
inline constexpr std::size_t kSafetyMinimumOwned = 10;

// Why plugin `plugin` cannot hold a record published as `type` with `ttl`, naming the
// capability (record_types, min_ttl, max_ttl), or "": the one rule the engine applies when a
// record is desired and again when it is planned.
std::string capability_refusal(RecordType type, int ttl, const DnsCapabilities& capabilities, const std::string& plugin);

// Diffs desired rows against the provider's records. Throws DnsError naming each desired
// record plugin `plugin` cannot take (capability_refusal). For a plugin declaring record_sets
// the diff is per set (type and name): one change writes a set whole, keeping the values
// mailroom does not own; a row owns the value whose key (record_value_key) its
// provider_record_id holds. Sets the provider marks untouchable (aliases, routing policies)
// are left alone, and a desired record in one is refused naming it.
Plan compute_plan(const std::string& zone, const std::vector<db::DnsRecordRow>& desired,
                  const std::vector<ProviderRecord>& held, const DnsCapabilities& capabilities,
                  const std::string& plugin);

// Record-set providers: the key of one value within its set (wire type, name, value and MX
// priority; not the set's TTL), which a row keeps as its provider_record_id.
std::string record_value_key(const RecordSpec& record);

// A desired row's record, and a record written into a row (type, name, value, ttl, priority).
RecordSpec record_of(const db::DnsRecordRow& row);
void set_record(db::DnsRecordRow& row, const RecordSpec& record);

// --- records as users write them -----------------------------------------------------------

// Checks a record for zone `zone` and normalises it (lower-case names without the trailing
// dot, "@" or a relative name completed with the zone). Throws DnsError naming what is wrong.
RecordSpec checked_record(const std::string& zone, RecordSpec record);

// --- the engine (database + plugins) -------------------------------------------------------

struct ZoneInput {
  std::string user_id;
  std::string name;      // example.com
  std::string provider;  // the provider's name: the DNS plugin that speaks for it, unless `plugin` says another
  std::string plugin;    // another plugin speaking for the provider; empty: the provider's own
  nlohmann::json settings = nlohmann::json::object();
  std::map<std::string, std::string> secrets;
};

struct ApplyOptions {
  bool force = false;          // past the safety limit
  std::string plan_checksum;   // non-empty: refuse unless the plan is still this one
  int max_attempts = 4;        // per change, for rate-limited and transient failures
  std::chrono::seconds max_wait{60};  // longest single wait for a Retry-After
};

struct ApplyReport {
  Plan plan;
  std::size_t applied = 0;  // changes that succeeded (adoptions and forgets included)
  std::size_t failed = 0;
  std::vector<std::string> errors;  // one line per failed change: "TXT a.example.com: message"
  std::vector<std::string> notes;   // what the plugin said about applied changes, each once
};

enum class ValidationStatus { valid, mismatch, missing, error };

struct ValidationResult {
  std::string record_id;
  RecordSpec record;
  std::string status;  // valid | mismatch | missing | error
  std::string served;  // what DNS answered, joined with " | "
};

struct EmailSetupOptions {
  std::string dmarc_policy = "none";  // none | quarantine | reject
  std::string dmarc_report_address;   // rua=mailto:...; empty: none
  std::string spf_all = "~all";       // the SPF record's last term: ~all | -all | ?all
  std::string dkim_algorithm = "rsa"; // for keys mailroom generates: rsa (2048) | ed25519
  std::string dkim_selector = "mailroom";
  std::vector<std::string> mx;        // "10 mx1.example.net"; empty: what the plugins require
  int ttl = 3600;
};

struct EmailSetupReport {
  std::vector<RecordSpec> records;   // the desired records, as stored
  std::size_t added = 0, changed = 0, kept = 0;
  int spf_lookups = 0;
  std::vector<std::string> spf_breakdown;
  std::vector<std::string> notes;    // e.g. which configuration got a new DKIM key
};

// The one JSON form of a zone (never its secrets) and of a desired record: API and CLI alike.
nlohmann::json to_json(const db::DnsZoneRow& zone);
nlohmann::json to_json(const db::DnsRecordRow& record);
// The reports as JSON: what `mailroom dns ... --json` prints and the API answers.
nlohmann::json to_json(const ApplyReport& report);
nlohmann::json to_json(const std::vector<ValidationResult>& results);
nlohmann::json to_json(const EmailSetupReport& report);

class Engine {
 public:
  // `resolver` is used by validate and by email-setup's SPF lookup count.
  Engine(db::Pool& pool, const plugin_host::PluginHost& plugins, const crypto::SecretBox* box,
         resolver::Resolver* resolver = nullptr);

  db::DnsZoneRow add_zone(const ZoneInput& input, const std::string& actor_id);
  db::DnsZoneRow zone(const std::string& user_id, const std::string& name);

  std::string add_record(const db::DnsZoneRow& zone, const RecordSpec& record, const std::string& actor_id);
  void remove_record(const db::DnsZoneRow& zone, const std::string& record_id, const std::string& actor_id);

  Plan plan(const db::DnsZoneRow& zone);
  ApplyReport apply(const db::DnsZoneRow& zone, const ApplyOptions& options, const std::string& actor_id);
  std::vector<ValidationResult> validate(const db::DnsZoneRow& zone, const std::string& actor_id);
  EmailSetupReport email_setup(const db::DnsZoneRow& zone, const EmailSetupOptions& options, const std::string& actor_id);

 private:
  std::shared_ptr<DnsProvider> provider(const db::DnsZoneRow& zone, DnsCapabilities* capabilities = nullptr);
  // The provider's zone of that name; with `remember`, its id is stored on the zone's row.
  Zone provider_zone(DnsProvider& provider, const db::DnsZoneRow& zone, bool remember = true);
  void remember_provider_zone(const db::DnsZoneRow& zone, const Zone& held);
  // Throws DnsError when the zone's plugin does not declare the record's type or TTL.
  void check_against_plugin(const db::DnsZoneRow& zone, const RecordSpec& record) const;

  db::Pool& pool_;
  const plugin_host::PluginHost& plugins_;
  const crypto::SecretBox* box_;
  resolver::Resolver* resolver_;
};

}  // namespace mailroom::dns
