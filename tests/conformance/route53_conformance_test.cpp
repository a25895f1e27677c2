// The route53 plugin against a Route 53 fake that checks every request's SigV4 signature (with
// botocore's signer) and every query and XML body against the botocore service model: the SDK's
// DNS conformance suite, then what is Route 53's own: record sets with values mailroom does not
// own, TXT strings, paging, batches cut at Route 53's limits, InvalidChangeBatch, throttling,
// the INSYNC wait, session tokens and aliases.
#include "route53_mock.hpp"

#include <mailroom/testkit/dns_conformance.hpp>

namespace {

using mailroom::ChangeAction;
using mailroom::RecordSpec;
using mailroom::RecordType;
using nlohmann::json;

class Route53Conformance : public mailroom::testkit::DnsConformance {
 protected:
  std::shared_ptr<mailroom::DnsProvider> make_provider() override { return plugin_.create(mock_.settings(), mock_.secrets()); }
  std::shared_ptr<mailroom::DnsProvider> make_provider_with_wrong_credentials() override {
    auto secrets = mock_.secrets();
    secrets["access_key_id"] = "AKIAUNKNOWNKEY000000";
    return plugin_.create(mock_.settings(), secrets);
  }
  std::string zone_name() override { return "example.test"; }
  void TearDown() override { EXPECT_EQ(mock_.violations(), "") << "requests at odds with SigV4 or Route 53's model"; }

  mailroom::testing::Route53Mock mock_{{.zones = {"example.test", "other.test", "a.test"}, .max_items = 5}};
  mailroom::testkit::LoadedDnsPlugin plugin_{MAILROOM_PLUGIN_DIR "/route53.so"};
};

MAILROOM_DNS_CONFORMANCE_TESTS(Route53Conformance)

class Route53Test : public Route53Conformance {
 protected:
  mailroom::Zone example(mailroom::DnsProvider& provider) { return zone(provider); }
  // A set change as the engine makes it.
  static mailroom::Change set_change(ChangeAction action, std::vector<RecordSpec> values, std::vector<RecordSpec> held = {}) {
    const RecordSpec& sample = values.empty() ? held.front() : values.front();
    return {action, sample, "", std::move(values), std::move(held)};
  }
  static RecordSpec txt(const std::string& name, const std::string& value, int ttl = 300) {
    return {RecordType::TXT, name, value, ttl, std::nullopt};
  }
  std::size_t change_requests() {
    std::size_t n = 0;
    for (const auto& r : mock_.requests()) n += r["operation"] == "ChangeResourceRecordSets";
    return n;
  }
  static std::vector<std::string> values_of(const json& set) {
    std::vector<std::string> out;
    for (const auto& v : set["ResourceRecords"]) out.push_back(v.get<std::string>());
    return out;
  }
  json set_named(const std::string& name, const std::string& type) {
    for (const auto& s : mock_.sets("example.test"))
      if (s["Name"] == name + "." && s["Type"] == type) return s;
    return nullptr;
  }
};

TEST_F(Route53Test, A2048BitDkimKeyGoesAsQuotedStringsAndComesBackWhole) {
  auto provider = make_provider();
  const auto z = example(*provider);
  std::string key = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA";
  while (key.size() < 410) key += "x\"q";  // a 2048-bit key's length, with characters TXT escapes
  const auto spec = txt("mailroom._domainkey.example.test", key);
  const auto results = provider->apply(z, {set_change(ChangeAction::create, {spec})});
  ASSERT_FALSE(results.at(0).error) << results[0].error->message;
  const auto wire = values_of(set_named(spec.name, "TXT"));
  ASSERT_EQ(wire.size(), 1u);
  EXPECT_EQ(wire[0].substr(0, 20), "\"v=DKIM1; k=rsa; p=M");
  EXPECT_NE(wire[0].find("\" \""), std::string::npos) << "one value, two quoted strings: " << wire[0];
  EXPECT_NE(wire[0].find("x\\\"q"), std::string::npos) << "quote and backslash escaped: " << wire[0];
  bool listed = false;
  for (const auto& r : provider->list_records(z)) {
    if (r.record.name != spec.name) continue;
    listed = true;
    EXPECT_EQ(r.record.value, key);
  }
  EXPECT_TRUE(listed);
}

TEST_F(Route53Test, ASetIsWrittenWholeKeepingValuesMailroomDoesNotOwn) {
  auto provider = make_provider();
  const auto z = example(*provider);
  const auto theirs = txt("example.test", "google-site-verification=abc");
  ASSERT_FALSE(provider->apply(z, {set_change(ChangeAction::create, {theirs})}).at(0).error);
  const auto ours = txt("example.test", "v=spf1 include:_spf.example.net ~all");
  const auto results = provider->apply(z, {set_change(ChangeAction::update, {theirs, ours}, {theirs})});
  ASSERT_FALSE(results.at(0).error) << results[0].error->message;
  EXPECT_EQ(values_of(set_named("example.test", "TXT")),
            (std::vector<std::string>{"\"google-site-verification=abc\"", "\"v=spf1 include:_spf.example.net ~all\""}));
  EXPECT_NE(results[0].note.find("in sync after"), std::string::npos) << results[0].note;
}

TEST_F(Route53Test, ABigApplyIsCutIntoBatchesWithinBothLimits) {
  auto provider = make_provider();
  const auto z = example(*provider);
  mailroom::ChangeSet many;
  for (int i = 0; i < 2500; ++i) many.push_back(set_change(ChangeAction::create, {txt("r" + std::to_string(i) + ".example.test", "v")}));
  auto before = change_requests();
  for (const auto& r : provider->apply(z, many)) ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(change_requests() - before, 3u) << "1,000 + 1,000 + 500 records";
  // Long values: the 32,000-character limit bites first (an UPSERT counts twice).
  mailroom::ChangeSet long_values;
  for (int i = 0; i < 100; ++i)
    long_values.push_back(set_change(ChangeAction::update, {txt("r" + std::to_string(i) + ".example.test", std::string(400, 'k'))},
                                     {txt("r" + std::to_string(i) + ".example.test", "v")}));
  before = change_requests();
  for (const auto& r : provider->apply(z, long_values)) ASSERT_FALSE(r.error) << r.error->message;
  EXPECT_EQ(change_requests() - before, 3u) << "100 UPSERTs of 402 characters: 80,400 counted, 39 per batch";
}

TEST_F(Route53Test, AnInvalidChangeFailsWithRoute53sMessageAndTheRestApply) {
  auto provider = make_provider();
  const auto z = example(*provider);
  ASSERT_FALSE(provider->apply(z, {set_change(ChangeAction::create, {txt("taken.example.test", "first")})}).at(0).error);
  const auto results = provider->apply(z, {set_change(ChangeAction::create, {txt("one.example.test", "1")}),
                                           set_change(ChangeAction::create, {txt("taken.example.test", "again")}),
                                           set_change(ChangeAction::create, {txt("two.example.test", "2")})});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_FALSE(results[0].error);
  ASSERT_TRUE(results[1].error);
  EXPECT_EQ(results[1].error->kind, mailroom::ErrorKind::invalid_request);
  EXPECT_EQ(results[1].error->message,
            "Route 53: Tried to create resource record set [name='taken.example.test.', type='TXT'] but it already exists");
  EXPECT_FALSE(results[2].error);
  EXPECT_FALSE(set_named("one.example.test", "TXT").is_null());
  EXPECT_FALSE(set_named("two.example.test", "TXT").is_null());
  EXPECT_EQ(values_of(set_named("taken.example.test", "TXT")), (std::vector<std::string>{"\"first\""}));
}

TEST_F(Route53Test, ThrottlingAndAPriorRequestAreRateLimited) {
  auto provider = make_provider();
  const auto z = example(*provider);
  mock_.fail("Throttling");
  EXPECT_EQ(mailroom::testkit::provider_error_kind([&] { provider->list_records(z); }), mailroom::ErrorKind::rate_limited);
  mock_.fail("PriorRequestNotComplete");
  const auto results = provider->apply(z, {set_change(ChangeAction::create, {txt("later.example.test", "x")})});
  ASSERT_TRUE(results.at(0).error);
  EXPECT_EQ(results[0].error->kind, mailroom::ErrorKind::rate_limited);
  EXPECT_TRUE(results[0].error->retry_after);
  EXPECT_TRUE(set_named("later.example.test", "TXT").is_null());
}

TEST_F(Route53Test, ApplyWaitsForInsyncWithinItsBound) {
  mock_.insync_after(3);
  auto provider = make_provider();
  const auto z = example(*provider);
  auto results = provider->apply(z, {set_change(ChangeAction::create, {txt("sync.example.test", "x")})});
  ASSERT_FALSE(results.at(0).error);
  EXPECT_NE(results[0].note.find("in sync after"), std::string::npos) << results[0].note;
  std::size_t polls = 0;
  for (const auto& r : mock_.requests()) polls += r["operation"] == "GetChange";
  EXPECT_EQ(polls, 3u);
  mock_.insync_after(1000);
  auto settings = mock_.settings();
  settings["change_wait_seconds"] = 0.2;
  auto impatient = plugin_.create(settings, mock_.secrets());
  results = impatient->apply(z, {set_change(ChangeAction::create, {txt("slow.example.test", "x")})});
  ASSERT_FALSE(results.at(0).error) << "Route 53 took it: not a failure";
  EXPECT_NE(results[0].note.find("still PENDING"), std::string::npos) << results[0].note;
}

TEST_F(Route53Test, AliasesAndRoutingPoliciesAreListedUntouchableAcrossPagesWithEscapesDecoded) {
  mock_.seed("example.test", json::parse(R"([
    {"Name": "www.example.test", "Type": "A",
     "AliasTarget": {"HostedZoneId": "Z2FDTNDATAQYW2", "DNSName": "d111111abcdef8.cloudfront.net.", "EvaluateTargetHealth": false}},
    {"Name": "w.example.test", "Type": "TXT", "SetIdentifier": "blue", "Weight": 10, "TTL": 60, "ResourceRecords": ["\"b\""]},
    {"Name": "w.example.test", "Type": "TXT", "SetIdentifier": "green", "Weight": 90, "TTL": 60, "ResourceRecords": ["\"g\""]},
    {"Name": "*.example.test", "Type": "TXT", "TTL": 60, "ResourceRecords": ["\"wild\""]}])"));
  auto provider = make_provider();
  const auto records = provider->list_records(example(*provider));  // pages of 5 sets
  std::map<std::string, std::string> untouchable;
  bool wildcard = false;
  for (const auto& r : records) {
    if (!r.untouchable.empty()) untouchable[r.record.name + " " + r.record.value] = r.untouchable;
    wildcard = wildcard || (r.record.name == "*.example.test" && r.record.value == "wild");
  }
  EXPECT_EQ(untouchable, (std::map<std::string, std::string>{
                             {"w.example.test b", "weighted routing, set identifier 'blue'"},
                             {"w.example.test g", "weighted routing, set identifier 'green'"},
                             {"www.example.test d111111abcdef8.cloudfront.net", "an alias to d111111abcdef8.cloudfront.net"}}));
  EXPECT_TRUE(wildcard) << "\\052 decoded to *";
  std::size_t pages = 0;
  for (const auto& r : mock_.requests()) pages += r["operation"] == "ListResourceRecordSets";
  EXPECT_GE(pages, 2u);
}

TEST(Route53SessionToken, TemporaryCredentialsSignTheirToken) {
  mailroom::testing::Route53Mock mock({.zones = {"example.test"}, .max_items = 100, .session_token = "FwoGZXIvYXdzEBYaDH+token/="});
  mailroom::testkit::LoadedDnsPlugin plugin(MAILROOM_PLUGIN_DIR "/route53.so");
  auto provider = plugin.create(mock.settings(), mock.secrets());
  ASSERT_EQ(provider->list_zones().size(), 1u);
  EXPECT_EQ(mock.violations(), "");
  auto secrets = mock.secrets();
  secrets.erase("session_token");
  EXPECT_EQ(mailroom::testkit::provider_error_kind([&] { plugin.create(mock.settings(), secrets)->list_zones(); }),
            mailroom::ErrorKind::invalid_request);
  EXPECT_NE(mock.violations().find("does not cover x-amz-security-token"), std::string::npos) << "the fake checks the token";
}

}  // namespace
