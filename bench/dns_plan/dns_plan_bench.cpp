// Times mailroom::dns::compute_plan (diff, ownership, adoption, ordering, safety, checksum)
// on a synthetic zone of N records; prints one JSON line per N: the median of ROUNDS runs.
// The zone (the same in peer.mjs): N desired records, 95 % already held by the provider (one
// in twenty of those with an old value: updates), 5 % not yet held (creates), N/20 records
// marked absent (deletes), and N/10 records mailroom does not own.
//   dns_plan_bench ROUNDS N [N ...]
#include "dns.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace {

struct Zone {
  std::vector<mailroom::db::DnsRecordRow> desired;
  std::vector<mailroom::ProviderRecord> held;
};

Zone make_zone(int n) {
  Zone z;
  const int owned = n * 95 / 100;
  for (int i = 0; i < n; ++i) {
    mailroom::db::DnsRecordRow row;
    row.id = "row-" + std::to_string(i);
    row.record_type = "TXT";
    row.name = "r" + std::to_string(i) + ".example.test";
    row.value = "v" + std::to_string(i);
    row.status = "active";
    if (i < owned) {
      row.provider_record_id = "p" + std::to_string(i);
      mailroom::RecordSpec held{mailroom::RecordType::TXT, row.name, i % 20 == 0 ? row.value + "-old" : row.value, 3600, {}};
      z.held.push_back({row.provider_record_id, held});
    }
    z.desired.push_back(row);
  }
  for (int i = 0; i < n / 20; ++i) {
    mailroom::db::DnsRecordRow row;
    row.id = "gone-" + std::to_string(i);
    row.record_type = "TXT";
    row.name = "g" + std::to_string(i) + ".example.test";
    row.value = "old";
    row.desired = "absent";
    row.status = "active";
    row.provider_record_id = "g" + std::to_string(i);
    z.desired.push_back(row);
    z.held.push_back({row.provider_record_id, {mailroom::RecordType::TXT, row.name, "old", 3600, {}}});
  }
  for (int i = 0; i < n / 10; ++i)
    z.held.push_back({"f" + std::to_string(i),
                      {mailroom::RecordType::TXT, "foreign" + std::to_string(i) + ".example.test", "theirs", 3600, {}}});
  return z;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: dns_plan_bench ROUNDS N [N ...]\n");
    return 2;
  }
  const int rounds = std::stoi(argv[1]);
  mailroom::DnsCapabilities capabilities;
  capabilities.record_types = {mailroom::RecordType::TXT};
  for (int a = 2; a < argc; ++a) {
    const int n = std::stoi(argv[a]);
    const Zone zone = make_zone(n);
    std::vector<double> ms;
    std::size_t changes = 0;
    for (int r = 0; r < rounds; ++r) {
      const auto start = std::chrono::steady_clock::now();
      const auto plan = mailroom::dns::compute_plan("example.test", zone.desired, zone.held, capabilities, "bench");
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      changes = plan.creates + plan.updates + plan.removes;
    }
    std::sort(ms.begin(), ms.end());
    std::printf("{\"n\": %d, \"median_ms\": %.3f, \"changes\": %zu}\n", n, ms[ms.size() / 2], changes);
  }
  return 0;
}
