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

// A record as the provider holds it.
struct ProviderRecord {
  std::string id;  // the provider's record id (or a stable synthetic key for record-set APIs)
  RecordSpec record;
};

enum class ChangeAction { create, update, remove };

struct Change {
  ChangeAction action = ChangeAction::create;
  RecordSpec record;         // the desired record (create, update) or the one to remove
  std::string provider_id;   // the provider's id of the existing record (update, remove)
};

// Applied in order; the host puts removals before creations.
using ChangeSet = std::vector<Change>;

struct ChangeResult {
  std::string provider_id;           // the id the record has now (create, update)
  std::optional<ErrorInfo> error;    // set when this change failed
};

// What a DNS provider supports, declared in its manifest's "capabilities" (plugin.hpp).
// Undeclared means unsupported.
struct DnsCapabilities {
  std::vector<RecordType> record_types;  // the types apply() accepts
  std::size_t max_batch_size = 1;        // changes per apply() call
  double requests_per_second = 0;        // 0 = undeclared
  bool record_sets = false;              // the provider groups values by name and type
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
