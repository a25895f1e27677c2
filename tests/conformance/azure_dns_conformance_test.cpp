// The azure_dns plugin against an Azure DNS fake behind Prism's validating proxy over the
// official Swagger 2.0 document (every request and answer checked): the SDK's DNS conformance
// suite, then what is Azure's own: etags and another writer (412), 429 with Retry-After, pages,
// TXT strings, alias sets, the managed-by mark, the Entra ID token kept for many calls and its
// AADSTS errors.
#include "azure_dns_mock.hpp"

#include <mailroom/testkit/dns_conformance.hpp>

namespace {

using mailroom::ChangeAction;
using mailroom::RecordSpec;
using mailroom::RecordType;
using nlohmann::json;

class AzureDnsConformance : public mailroom::testkit::DnsConformance {
 protected:
  std::shared_ptr<mailroom::DnsProvider> make_provider() override { return plugin_.create(mock_.settings(), mock_.secrets()); }
  std::shared_ptr<mailroom::DnsProvider> make_provider_with_wrong_credentials() override {
    return plugin_.create(mock_.settings(), {{"client_secret", "not-the-secret"}});
  }
  std::string zone_name() override { return "example.test"; }
  void TearDown() override { EXPECT_EQ(mock_.violations(), "") << "requests or answers at odds with dns.json"; }

  mailroom::testing::AzureDnsMock mock_{{.zones = {"rg-dns/example.test", "rg-other/other.test"}, .max_per_page = 5}};
  mailroom::testkit::LoadedDnsPlugin plugin_{MAILROOM_PLUGIN_DIR "/azure_dns.so"};
};

MAILROOM_DNS_CONFORMANCE_TESTS(AzureDnsConformance)

class AzureDnsTest : public AzureDnsConformance {
 protected:
  // A set change as the engine makes it; `id` is the set's provider id as listed.
  static mailroom::Change set_change(ChangeAction action, std::vector<RecordSpec> values, std::vector<RecordSpec> held = {},
                                     std::string id = "") {
    const RecordSpec& sample = values.empty() ? held.front() : values.front();
    return {action, sample, std::move(id), std::move(values), std::move(held)};
  }
  static RecordSpec txt(const std::string& name, const std::string& value, int ttl = 300) {
    return {RecordType::TXT, name, value, ttl, std::nullopt};
  }
  json set_named(const std::string& type, const std::string& name) {
    for (const auto& s : mock_.sets("example.test"))
      if (s["type"] == "Microsoft.Network/dnsZones/" + type && s["name"] == name) return s;
    return nullptr;
  }
  // The provider id of the set holding `name`'s `type` records, as list_records gives it.
  static std::string listed_id(mailroom::DnsProvider& provider, const mailroom::Zone& zone, const std::string& name) {
    for (const auto& r : provider.list_records(zone))
      if (r.record.name == name) return r.id;
    return "";
  }
  std::size_t requests(const std::string& method) {
    std::size_t n = 0;
    for (const auto& r : mock_.requests()) n += r["method"] == method;
    return n;
  }
};

TEST_F(AzureDnsTest, ASetIsWrittenWholeWithItsMarkAndKeepsValuesAndMetadataMailroomDoesNotOwn) {
  mock_.seed("example.test", json::parse(R"([{"type": "TXT", "name": "@", "TTL": 3600, "metadata": {"owner": "web-team"},
                                              "TXTRecords": [{"value": ["google-site-verification=abc"]}]}])"));
  auto provider = make_provider();
  const auto z = zone(*provider);
  const auto theirs = txt("example.test", "google-site-verification=abc", 3600);
  const auto ours = txt("example.test", "v=spf1 include:_spf.example.net ~all", 3600);
  const std::string id = listed_id(*provider, z, "example.test");
  ASSERT_NE(id.find("TXT/@|"), std::string::npos) << "the apex is @, the etag travels in the id: " << id;
  const auto results = provider->apply(z, {set_change(ChangeAction::update, {theirs, ours}, {theirs}, id)});
  ASSERT_FALSE(results.at(0).error) << results[0].error->message;
  const json apex = set_named("TXT", "@");
  EXPECT_EQ(apex["properties"]["TXTRecords"],
            json::parse(R"([{"value": ["google-site-verification=abc"]}, {"value": ["v=spf1 include:_spf.example.net ~all"]}])"));
  EXPECT_EQ(apex["properties"]["metadata"], json::parse(R"({"owner": "web-team", "managed-by": "mailroom"})"));
  EXPECT_EQ(results[0].provider_id, "TXT/@|" + apex["etag"].get<std::string>()) << "the new etag comes back";
  for (const auto& r : mock_.requests()) {
    if (r["method"] == "PUT") {
      EXPECT_EQ(r["if_match"], id.substr(id.rfind('|') + 1)) << "written only if unchanged since listed";
    }
  }
}

TEST_F(AzureDnsTest, AnotherWritersChangeIsNeverOverwrittenAndTheChangeFailsSayingWhatTheSetHolds) {
  auto provider = make_provider();
  const auto z = zone(*provider);
  const auto mine = txt("_dmarc.example.test", "v=DMARC1; p=none");
  ASSERT_FALSE(provider->apply(z, {set_change(ChangeAction::create, {mine})}).at(0).error);
  const std::string id = listed_id(*provider, z, "_dmarc.example.test");
  // Someone else writes the set after mailroom listed it.
  mock_.seed("example.test", json::parse(R"([{"type": "TXT", "name": "_dmarc", "TTL": 300,
                                              "TXTRecords": [{"value": ["v=DMARC1; p=reject"]}]}])"));
  auto wanted = mine;
  wanted.value = "v=DMARC1; p=quarantine";
  for (const auto action : {ChangeAction::update, ChangeAction::remove}) {
    const auto results = provider->apply(z, {action == ChangeAction::update ? set_change(action, {wanted}, {mine}, id)
                                                                            : set_change(action, {}, {mine}, id)});
    ASSERT_TRUE(results.at(0).error) << "the change must fail";
    EXPECT_EQ(results[0].error->code, "PreconditionFailed");
    EXPECT_NE(results[0].error->message.find("changed by someone else"), std::string::npos) << results[0].error->message;
    EXPECT_NE(results[0].error->message.find("it now holds \"v=DMARC1; p=reject\""), std::string::npos) << results[0].error->message;
    EXPECT_EQ(set_named("TXT", "_dmarc")["properties"]["TXTRecords"], json::parse(R"([{"value": ["v=DMARC1; p=reject"]}])"))
        << "the other writer's set is intact";
  }
  // A create finds the set there (If-None-Match: * does not hold): Azure's 412 itself.
  const auto created = provider->apply(z, {set_change(ChangeAction::create, {wanted})});
  ASSERT_TRUE(created.at(0).error);
  EXPECT_NE(created[0].error->message.find("it now holds \"v=DMARC1; p=reject\""), std::string::npos) << created[0].error->message;
  bool sent_if_none_match = false;
  for (const auto& r : mock_.requests()) sent_if_none_match = sent_if_none_match || r["if_none_match"] == "*";
  EXPECT_TRUE(sent_if_none_match);
  EXPECT_EQ(set_named("TXT", "_dmarc")["properties"]["TXTRecords"], json::parse(R"([{"value": ["v=DMARC1; p=reject"]}])"));
}

TEST_F(AzureDnsTest, ThrottlingIsRateLimitedWithAzuresRetryAfterAndTheRestIsNotSent) {
  auto provider = make_provider();
  const auto z = zone(*provider);
  mock_.fail(429, "TooManyRequests", 7);
  EXPECT_EQ(mailroom::testkit::provider_error_kind([&] { provider->list_records(z); }), mailroom::ErrorKind::rate_limited);
  mock_.fail(429, "TooManyRequests", 3);
  const auto before = requests("PUT");
  const auto results = provider->apply(z, {set_change(ChangeAction::create, {txt("one.example.test", "1")}),
                                           set_change(ChangeAction::create, {txt("two.example.test", "2")})});
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) {
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->kind, mailroom::ErrorKind::rate_limited);
    ASSERT_TRUE(r.error->retry_after);
    EXPECT_EQ(r.error->retry_after->count(), 3) << "Azure's Retry-After";
  }
  EXPECT_EQ(requests("PUT") - before, 1u) << "the second change waits for the host's retry";
  EXPECT_TRUE(set_named("TXT", "two").is_null());
}

TEST_F(AzureDnsTest, ZonesAndRecordSetsAreReadAcrossPages) {
  auto provider = make_provider();
  const auto z = zone(*provider);
  mailroom::ChangeSet creates;
  for (int i = 0; i < 12; ++i) creates.push_back(set_change(ChangeAction::create, {txt("p" + std::to_string(i) + ".example.test", "v")}));
  for (const auto& r : provider->apply(z, creates)) ASSERT_FALSE(r.error) << r.error->message;
  std::size_t listed = 0;
  for (const auto& r : provider->list_records(z)) listed += r.record.name.starts_with("p");
  EXPECT_EQ(listed, 12u);
  std::size_t pages = 0;
  for (const auto& r : mock_.requests())
    if (r["path"].get<std::string>().ends_with("/recordsets")) pages += 1;
  EXPECT_GE(pages, 3u) << "14 sets (with SOA and NS) in pages of 5";
  EXPECT_EQ(provider->list_zones().size(), 2u) << "zones of every resource group of the subscription";
  auto settings = mock_.settings();
  settings["resource_group"] = "rg-other";
  const auto only = plugin_.create(settings, mock_.secrets())->list_zones();
  ASSERT_EQ(only.size(), 1u);
  EXPECT_EQ(only[0].name, "other.test");
  EXPECT_EQ(only[0].id, "rg-other/other.test");
}

TEST_F(AzureDnsTest, A2048BitDkimKeyGoesAs255OctetStringsAndComesBackWhole) {
  auto provider = make_provider();
  const auto z = zone(*provider);
  std::string key = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA";
  while (key.size() < 410) key += "x\"q";
  const auto spec = RecordSpec{RecordType::DKIM, "mailroom._domainkey.example.test", key, 300, std::nullopt};
  ASSERT_FALSE(provider->apply(z, {set_change(ChangeAction::create, {spec})}).at(0).error);
  const json strings = set_named("TXT", "mailroom._domainkey")["properties"]["TXTRecords"][0]["value"];
  ASSERT_EQ(strings.size(), 2u) << strings.dump();
  EXPECT_EQ(strings[0].get<std::string>().size(), 255u);
  EXPECT_EQ(strings[0].get<std::string>() + strings[1].get<std::string>(), key);
  bool listed = false;
  for (const auto& r : provider->list_records(z))
    if (r.record.name == spec.name) listed = r.record.value == key;
  EXPECT_TRUE(listed);
}

TEST_F(AzureDnsTest, AliasSetsAreListedUntouchableAndOtherTypesIgnored) {
  mock_.seed("example.test", json::parse(R"([
    {"type": "A", "name": "www", "TTL": 60, "ARecords": [],
     "targetResource": {"id": "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-web/providers/Microsoft.Network/publicIPAddresses/web-ip"}},
    {"type": "CAA", "name": "@", "TTL": 3600, "caaRecords": [{"flags": 0, "tag": "issue", "value": "letsencrypt.org"}]}])"));
  auto provider = make_provider();
  std::map<std::string, std::string> untouchable;
  for (const auto& r : provider->list_records(zone(*provider))) {
    EXPECT_NE(r.record.type, RecordType::SPF);
    if (!r.untouchable.empty()) untouchable[r.record.name] = r.untouchable;
  }
  EXPECT_EQ(untouchable, (std::map<std::string, std::string>{
                             {"www.example.test", "an alias to the Azure resource /subscriptions/00000000-1111-2222-3333-444444444444/"
                                                  "resourceGroups/rg-web/providers/Microsoft.Network/publicIPAddresses/web-ip"}}));
}

TEST_F(AzureDnsTest, OneTokenServesManyCallsAndIsAskedForWithTheClientCredentialsForm) {
  auto provider = make_provider();
  const auto z = zone(*provider);
  for (int i = 0; i < 5; ++i) provider->list_records(z);
  ASSERT_FALSE(provider->apply(z, {set_change(ChangeAction::create, {txt("t.example.test", "x")})}).at(0).error);
  const json tokens = mock_.token_requests();
  ASSERT_EQ(tokens.size(), 1u) << tokens.dump();
  EXPECT_EQ(tokens[0], (json{{"grant_type", "client_credentials"}, {"client_id", mock_.client_id()},
                             {"scope", "https://management.azure.com/.default"}}));
  EXPECT_GE(mock_.requests().size(), 8u);
}

TEST(AzureDnsToken, ATokenWithinFiveMinutesOfExpiryIsRenewed) {
  mailroom::testing::AzureDnsMock mock({.token_lifetime = 240});  // expires within the margin: never reused
  mailroom::testkit::LoadedDnsPlugin plugin(MAILROOM_PLUGIN_DIR "/azure_dns.so");
  auto provider = plugin.create(mock.settings(), mock.secrets());
  provider->list_zones();
  provider->list_zones();
  EXPECT_EQ(mock.token_requests().size(), 2u);
  EXPECT_EQ(mock.violations(), "");
}

TEST(AzureDnsToken, EntraIdRefusalsAreAuthErrorsNamingTheAadstsCodeAndWhatToChange) {
  mailroom::testing::AzureDnsMock mock;
  mailroom::testkit::LoadedDnsPlugin plugin(MAILROOM_PLUGIN_DIR "/azure_dns.so");
  struct Case {
    std::string setting, value, secret, code, advice;
  };
  const auto before = mock.requests().size();
  const std::vector<Case> cases = {
      {"", "", "wrong-secret-value", "AADSTS7000215", "set the secret's Value (not its Secret ID)"},
      {"client_id", "11111111-2222-3333-4444-555555555555", mock.client_secret(), "AADSTS700016", "check client_id"},
      {"tenant_id", "contoso.example", mock.client_secret(), "AADSTS90002", "tenant_id contoso.example names no Entra ID tenant"}};
  for (const auto& c : cases) {
    auto settings = mock.settings();
    if (!c.setting.empty()) settings[c.setting] = c.value;
    auto provider = plugin.create(settings, {{"client_secret", c.secret}});
    try {
      provider->list_zones();
      ADD_FAILURE() << c.code << ": no error";
    } catch (const mailroom::ProviderError& e) {
      EXPECT_EQ(e.kind(), mailroom::ErrorKind::auth) << c.code;
      EXPECT_EQ(e.info().code, c.code);
      EXPECT_NE(e.info().message.find(c.advice), std::string::npos) << e.info().message;
      EXPECT_EQ(e.info().message.find(c.secret), std::string::npos) << "the secret must not appear";
      EXPECT_EQ(e.info().message.find("Trace ID"), std::string::npos) << "one line: " << e.info().message;
    }
  }
  EXPECT_EQ(mock.requests().size(), before) << "no Resource Manager call without a token";
}

TEST(AzureDnsSettings, TheSchemaNamesWhatIsMissing) {
  mailroom::testkit::LoadedDnsPlugin plugin(MAILROOM_PLUGIN_DIR "/azure_dns.so");
  try {
    plugin.create({{"tenant_id", "t"}, {"client_id", "c"}}, {{"client_secret", "s"}});
    ADD_FAILURE() << "created without subscription_id";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("subscription_id"), std::string::npos) << e.what();
  }
}

}  // namespace
