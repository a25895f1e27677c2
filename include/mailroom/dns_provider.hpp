// The interface a DNS provider plugin implements. The host owns the diff, its ordering and
// its safety checks; a DNS plugin only lists what the provider holds and applies changes.
#pragma once

#include <mailroom/error.hpp>
#include <mailroom/record.hpp>
#include <mailroom/sdk_export.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace mailroom {

struct Zone {
  std::string id;    // the provider's zone id
  std::string name;  // "example.com", no trailing dot
};

// A record as the provider holds it. A record-set provider lists one per value, each with its
// set's id.
struct ProviderRecord {
  std::string id;  // the provider's record id, or its record set's
  RecordSpec record;
  // Non-empty: why mailroom must never write this record's set, named for people ("an alias
  // to ...", "weighted routing, set identifier 'blue'"). The host leaves it alone and refuses
  // a desired record that would have to change it.
  std::string untouchable{};  // (braces: code written before this member compiles warning-free)
};

enum class ChangeAction { create, update, remove };

struct Change {
  ChangeAction action = ChangeAction::create;
  RecordSpec record;         // the desired record (create, update) or the one to remove
  std::string provider_id;   // the provider's id of the existing record (update, remove)
  // Record-set providers (capability record_sets) get one change per set: `record` holds its
  // name, type and TTL; `values` every value it holds after the change (empty when removed),
  // values mailroom does not own included; `held` every value it holds now (update, remove).
  std::vector<RecordSpec> values{};
  std::vector<RecordSpec> held{};
};

// Applied in order; the host puts removals before creations.
using ChangeSet = std::vector<Change>;

struct ChangeResult {
  std::string provider_id;           // the id the record has now (create, update)
  std::optional<ErrorInfo> error;    // set when this change failed
  std::string note{};                // for people, when it applied: e.g. when the provider had it in sync
};

// What a DNS provider supports, declared in its manifest's "capabilities" (plugin.hpp).
// Undeclared means unsupported.
struct DnsCapabilities {
  std::vector<RecordType> record_types;  // the types apply() accepts
  std::size_t max_batch_size = 1;        // changes per apply() call
  double requests_per_second = 0;        // 0 = undeclared
  bool record_sets = false;              // the provider writes every value of a name and type together
  int min_ttl = 1;                       // TTLs apply() accepts, in seconds
  int max_ttl = 2147483647;
};

class MAILROOM_SDK_EXPORT DnsProvider {
 public:
  virtual ~DnsProvider();

  // Every zone the credentials can see.
  virtual std::vector<Zone> list_zones() = 0;
  // Every record of the zone, all pages read.
  virtual std::vector<ProviderRecord> list_records(const Zone& zone) = 0;
  // Applies the changes; one result per change, in the same order. A failure of the whole
  // call (credentials, network) throws ProviderError instead.
  virtual std::vector<ChangeResult> apply(const Zone& zone, const ChangeSet& changes) = 0;
};

}  // namespace mailroom
