// A DNS plugin for the host's tests: one zone held in memory.
#include <mailroom/plugin.hpp>

namespace {

class TestDns final : public mailroom::DnsProvider {
 public:
  explicit TestDns(mailroom::PluginContext& context)
      : zone_{"zone-1", context.config.at("zone").get<std::string>()} {}

  std::vector<mailroom::Zone> list_zones() override { return {zone_}; }

  std::vector<mailroom::ProviderRecord> list_records(const mailroom::Zone&) override {
    return records_;
  }

  std::vector<mailroom::ChangeResult> apply(const mailroom::Zone&,
                                            const mailroom::ChangeSet& changes) override {
    std::vector<mailroom::ChangeResult> results;
    for (const auto& change : changes) {
      if (change.record.type == mailroom::RecordType::A) {
        results.push_back({"", mailroom::ErrorInfo{mailroom::ErrorKind::invalid_request, "1004",
                                                   "A records refused by this test", std::nullopt}});
        continue;
      }
      const std::string id = "rec-" + std::to_string(records_.size() + 1);
      records_.push_back({id, change.record});
      results.push_back({id, std::nullopt});
    }
    return results;
  }

 private:
  mailroom::Zone zone_;
  std::vector<mailroom::ProviderRecord> records_;
};

}  // namespace

MAILROOM_DNS_PLUGIN(TestDns, R"json({
  "name": "test_dns",
  "version": "0.9.0",
  "description": "Test DNS provider: one zone in memory",
  "config_schema": {
    "type": "object", "required": ["zone"], "additionalProperties": false,
    "properties": { "zone": { "type": "string", "pattern": "^[a-z0-9.-]+$" } }
  },
  "capabilities": { "record_types": ["MX", "TXT", "SPF", "DKIM", "DMARC"], "max_batch_size": 100,
                    "requests_per_second": 4, "record_sets": false }
})json")
