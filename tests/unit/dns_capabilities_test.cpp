// What a DNS plugin declares, as the engine enforces it: record_types, min_ttl / max_ttl and
// record_sets (planned per set), each refusal naming the capability and the plugin.
#include "dns.hpp"

#include <gtest/gtest.h>

namespace {

using mailroom::DnsCapabilities;
using mailroom::RecordType;
using mailroom::dns::capability_refusal;

DnsCapabilities txt_only() {
  DnsCapabilities c;
  c.record_types = {RecordType::TXT};
  c.min_ttl = 60;
  c.max_ttl = 86400;
  return c;
}

mailroom::db::DnsRecordRow row(const std::string& type, int ttl) {
  mailroom::db::DnsRecordRow r;
  r.record_type = type;
  r.name = "x.example.test";
  r.value = "v";
  r.ttl = ttl;
  return r;
}

TEST(DnsCapabilities, RecordTypesAndTtlsAreRefusedByCapabilityAndPlugin) {
  EXPECT_EQ(capability_refusal(RecordType::TXT, 300, txt_only(), "p"), "");
  EXPECT_EQ(capability_refusal(RecordType::MX, 300, txt_only(), "p"),
            "plugin p does not declare the record type MX (record_types)");
  EXPECT_EQ(capability_refusal(RecordType::TXT, 30, txt_only(), "p"),
            "ttl 30 is outside what plugin p declares (min_ttl 60, max_ttl 86400)");
  EXPECT_EQ(capability_refusal(RecordType::TXT, 86401, txt_only(), "p"),
            "ttl 86401 is outside what plugin p declares (min_ttl 60, max_ttl 86400)");
  try {
    mailroom::dns::compute_plan("example.test", {row("TXT", 300), row("MX", 300), row("TXT", 5)}, {}, txt_only(), "p");
    FAIL() << "planned what the plugin cannot hold";
  } catch (const mailroom::dns::DnsError& e) {
    EXPECT_STREQ(e.what(),
                 "zone example.test has records plugin p cannot take:\n"
                 "  MX x.example.test: plugin p does not declare the record type MX (record_types)\n"
                 "  TXT x.example.test: ttl 5 is outside what plugin p declares (min_ttl 60, max_ttl 86400)");
  }
  EXPECT_EQ(mailroom::dns::compute_plan("example.test", {row("TXT", 300)}, {}, txt_only(), "p").creates, 1u);
}

TEST(DnsCapabilities, APluginDeclaringRecordSetsIsPlannedPerSet) {
  auto sets = txt_only();
  sets.record_sets = true;
  const auto plan = mailroom::dns::compute_plan("example.test", {row("TXT", 300)}, {}, sets, "p");
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_TRUE(plan.changes[0].record_set);
  EXPECT_EQ(plan.creates, 1u);
}

}  // namespace
