// The DNS engine's plans for record-set providers (capability record_sets), pure: one change
// per (type, name) set, values mailroom does not own kept, one value of a set removed or
// replaced, aliases and routing-policy sets untouched, a desired record colliding with one
// refused by name, and the plan as people and programs read it.
#include "dns.hpp"

#include <gtest/gtest.h>

namespace {

using mailroom::DnsCapabilities;
using mailroom::ProviderRecord;
using mailroom::RecordSpec;
using mailroom::RecordType;
using mailroom::dns::compute_plan;
using mailroom::dns::DnsError;
using mailroom::dns::PlanAction;
using mailroom::dns::record_value_key;

const std::string kZone = "example.test";

DnsCapabilities record_sets() {
  DnsCapabilities c;
  c.record_types = {RecordType::A, RecordType::AAAA, RecordType::CNAME, RecordType::MX, RecordType::TXT};
  c.record_sets = true;
  c.max_batch_size = 100;
  return c;
}

// A desired row; `owned`: it was applied, and owns the value `owned` names.
mailroom::db::DnsRecordRow row(const std::string& id, RecordType type, const std::string& name, const std::string& value,
                               const std::string& owned = "", std::optional<int> priority = {}) {
  mailroom::db::DnsRecordRow r;
  r.id = id;
  r.record_type = std::string(mailroom::to_string(type));
  r.name = name;
  r.value = value;
  r.ttl = 3600;
  r.priority = priority;
  r.desired = "present";
  r.status = owned.empty() ? "pending" : "active";
  if (!owned.empty()) r.provider_record_id = record_value_key({type, name, owned, 3600, priority});
  return r;
}

ProviderRecord held(RecordType type, const std::string& name, const std::string& value, int ttl = 3600,
                    std::string untouchable = "", std::optional<int> priority = {}) {
  return {std::string(mailroom::to_string(type)) + " " + name, {type, name, value, ttl, priority}, std::move(untouchable)};
}

std::vector<std::string> values(const std::vector<RecordSpec>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.value);
  return out;
}

TEST(RecordSets, ANewValueJoinsTheValuesMailroomDoesNotOwn) {
  const auto plan = compute_plan(kZone, {row("spf", RecordType::SPF, kZone, "v=spf1 include:_spf.example.net ~all")},
                                 {held(RecordType::TXT, kZone, "google-site-verification=abc")}, record_sets(), "sets");
  ASSERT_EQ(plan.changes.size(), 1u);
  const auto& c = plan.changes[0];
  EXPECT_TRUE(c.record_set);
  EXPECT_EQ(c.action, PlanAction::update);
  EXPECT_EQ(c.record.type, RecordType::TXT);
  EXPECT_EQ(c.provider_id, "TXT example.test") << "the set's id, as the plugin listed it";
  EXPECT_EQ(values(c.set_held), (std::vector<std::string>{"google-site-verification=abc"}));
  EXPECT_EQ(values(c.set_values),
            (std::vector<std::string>{"google-site-verification=abc", "v=spf1 include:_spf.example.net ~all"}));
  ASSERT_EQ(c.members.size(), 1u);
  EXPECT_EQ(c.members[0].record_id, "spf");
  EXPECT_EQ(c.members[0].value_key, "TXT example.test v=spf1 include:_spf.example.net ~all");
  EXPECT_EQ(plan.to_text(),
            "Plan for example.test (0 records owned by mailroom)\n"
            "  ~ update  TXT example.test (record set, ttl 3600)\n"
            "          \"google-site-verification=abc\"  (kept)\n"
            "        + \"v=spf1 include:_spf.example.net ~all\"\n"
            "Plan: 0 to create, 1 to update, 0 to delete, 0 unchanged.\n"
            "Checksum: " + plan.checksum + "  (mailroom dns apply example.test --plan-checksum " + plan.checksum + ")\n");
  const auto json = plan.to_json()["changes"][0];
  EXPECT_EQ(json["record_set"]["values"], nlohmann::json::parse(R"(["google-site-verification=abc", "v=spf1 include:_spf.example.net ~all"])"));
  EXPECT_EQ(json["record_set"]["held"], nlohmann::json::parse(R"(["google-site-verification=abc"])"));
  EXPECT_EQ(json["record_ids"], nlohmann::json::parse(R"(["spf"])"));

  // Once applied, the row owns its value and there is nothing left to do.
  const auto again = compute_plan(kZone, {row("spf", RecordType::SPF, kZone, "v=spf1 include:_spf.example.net ~all",
                                              "v=spf1 include:_spf.example.net ~all")},
                                  {held(RecordType::TXT, kZone, "google-site-verification=abc"),
                                   held(RecordType::TXT, kZone, "v=spf1 include:_spf.example.net ~all")},
                                  record_sets(), "sets");
  EXPECT_EQ(again.owned, 1u);
  EXPECT_EQ(again.unchanged, 1u);
  EXPECT_EQ(again.creates + again.updates + again.removes, 0u);
  EXPECT_FALSE(again.changes[0].adopt);
}

TEST(RecordSets, RemovingOrReplacingOneValueKeepsTheRestOfTheSet) {
  auto gone = row("b", RecordType::TXT, "t.example.test", "b", "b");
  gone.desired = "absent";
  auto replaced = row("c", RecordType::TXT, "t.example.test", "c2", "c");  // was "c", now "c2"
  const auto plan = compute_plan(kZone, {row("a", RecordType::TXT, "t.example.test", "a", "a"), gone, replaced},
                                 {held(RecordType::TXT, "t.example.test", "a"), held(RecordType::TXT, "t.example.test", "b"),
                                  held(RecordType::TXT, "t.example.test", "c"), held(RecordType::TXT, "t.example.test", "theirs")},
                                 record_sets(), "sets");
  ASSERT_EQ(plan.changes.size(), 1u);
  const auto& c = plan.changes[0];
  EXPECT_EQ(c.action, PlanAction::update);
  EXPECT_EQ(values(c.set_values), (std::vector<std::string>{"a", "theirs", "c2"}));
  EXPECT_EQ(plan.owned, 3u);
  ASSERT_EQ(c.members.size(), 3u);
  EXPECT_TRUE(c.members[1].removed) << "the absent row goes once the set is written";
  EXPECT_NE(plan.to_text().find("        - \"b\"\n        - \"c\"\n          \"a\"  (kept)\n          \"theirs\"  (kept)\n        + \"c2\"\n"),
            std::string::npos) << plan.to_text();

  // The last of mailroom's values leaves a set that holds another's: the set stays.
  auto last = row("a", RecordType::TXT, "t.example.test", "a", "a");
  last.desired = "absent";
  const auto kept = compute_plan(kZone, {last}, {held(RecordType::TXT, "t.example.test", "a"), held(RecordType::TXT, "t.example.test", "theirs")},
                                 record_sets(), "sets");
  ASSERT_EQ(kept.changes.size(), 1u);
  EXPECT_EQ(kept.changes[0].action, PlanAction::update);
  EXPECT_EQ(values(kept.changes[0].set_values), (std::vector<std::string>{"theirs"}));
  // ... and a set of mailroom's values only is deleted whole, with what it holds.
  const auto deleted = compute_plan(kZone, {last}, {held(RecordType::TXT, "t.example.test", "a")}, record_sets(), "sets");
  ASSERT_EQ(deleted.changes.size(), 1u);
  EXPECT_EQ(deleted.changes[0].action, PlanAction::remove);
  EXPECT_TRUE(deleted.changes[0].set_values.empty());
  EXPECT_EQ(values(deleted.changes[0].set_held), (std::vector<std::string>{"a"}));
  // A removed row whose value is already gone only forgets its row.
  const auto forgotten = compute_plan(kZone, {last}, {}, record_sets(), "sets");
  ASSERT_EQ(forgotten.changes.size(), 1u);
  EXPECT_TRUE(forgotten.changes[0].forget);
}

TEST(RecordSets, AliasesAndRoutingPolicySetsAreLeftAloneAndACollisionIsRefusedByName) {
  const std::vector<ProviderRecord> zone = {
      held(RecordType::A, "www.example.test", "dualstack.lb-1.eu-west-1.elb.amazonaws.com", 60,
           "an alias to dualstack.lb-1.eu-west-1.elb.amazonaws.com"),
      held(RecordType::TXT, "w.example.test", "blue", 60, "weighted routing, set identifier 'blue'"),
      held(RecordType::TXT, "w.example.test", "green", 60, "weighted routing, set identifier 'green'")};
  // Records elsewhere are planned, and the untouchable sets appear nowhere in the plan.
  const auto plan = compute_plan(kZone, {row("mx", RecordType::MX, kZone, "mx1.example.net", "", 10)}, zone, record_sets(), "sets");
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].action, PlanAction::create);
  EXPECT_EQ(plan.changes[0].record.name, kZone);

  try {
    compute_plan(kZone, {row("www", RecordType::A, "www.example.test", "192.0.2.1"), row("w", RecordType::TXT, "w.example.test", "x")},
                 zone, record_sets(), "route53");
    FAIL() << "planned a write into an alias or a weighted set";
  } catch (const DnsError& e) {
    EXPECT_STREQ(e.what(),
                 "zone example.test: plugin route53 cannot plan these records:\n"
                 "  A www.example.test: the provider holds this name and type as an alias to "
                 "dualstack.lb-1.eu-west-1.elb.amazonaws.com, which mailroom never changes; remove the record from mailroom "
                 "or that set from the provider\n"
                 "  TXT w.example.test: the provider holds this name and type as weighted routing, set identifier 'blue', "
                 "which mailroom never changes; remove the record from mailroom or that set from the provider");
  }
}

TEST(RecordSets, AValueAlreadyPublishedIsAdoptedAndASetHasOneTtl) {
  const auto plan = compute_plan(kZone, {row("mx", RecordType::MX, kZone, "mx1.example.net", "", 10)},
                                 {held(RecordType::MX, kZone, "mx1.example.net", 3600, "", 10)}, record_sets(), "sets");
  ASSERT_EQ(plan.changes.size(), 1u);
  EXPECT_EQ(plan.changes[0].action, PlanAction::unchanged);
  EXPECT_TRUE(plan.changes[0].adopt);
  EXPECT_EQ(plan.changes[0].provider_id, "MX example.test 10 mx1.example.net");

  auto short_lived = row("mx2", RecordType::MX, kZone, "mx2.example.net", "", 20);
  short_lived.ttl = 300;
  EXPECT_THROW(compute_plan(kZone, {row("mx", RecordType::MX, kZone, "mx1.example.net", "", 10), short_lived}, {},
                            record_sets(), "sets"),
               DnsError);
  // A new TTL for the set rewrites it whole.
  auto longer = row("mx", RecordType::MX, kZone, "mx1.example.net", "mx1.example.net", 10);
  longer.ttl = 7200;
  const auto retimed = compute_plan(kZone, {longer}, {held(RecordType::MX, kZone, "mx1.example.net", 3600, "", 10)},
                                    record_sets(), "sets");
  ASSERT_EQ(retimed.changes.size(), 1u);
  EXPECT_EQ(retimed.changes[0].action, PlanAction::update);
  EXPECT_NE(retimed.to_text().find("MX example.test (record set, ttl 3600 -> 7200)"), std::string::npos) << retimed.to_text();
}

}  // namespace
