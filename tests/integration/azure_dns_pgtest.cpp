// azure_dns end to end: `mailroom dns email-setup`, `plan`, `apply` and `validate` on an Azure
// DNS zone (the fake behind Prism over dns.json, its record sets served to the validator by
// Knot), beside a TXT value and metadata mailroom does not own; then the engine waiting out
// Azure's Retry-After, with one Entra ID token for the account across plan and apply.
#include "azure_dns_mock.hpp"
#include "dns_cli.hpp"
#include "dns_engine_fixture.hpp"
#include "dns_server.hpp"
#include "harness.hpp"

#include <algorithm>

namespace {

using mailroom::RecordSpec;
using mailroom::RecordType;
using mailroom::testing::AzureDnsMock;
using mailroom::testing::CommandResult;
using mailroom::testing::EngineOn;
using mailroom::testing::quote;
using nlohmann::json;

class AzureDnsEndToEnd : public ::testing::Test {
 protected:
  CommandResult mailroom(const std::string& args) {
    return mailroom::testing::dns_cli(url_, dns_.address(), "AZURE_SECRET=" + quote(mock_.client_secret()), args);
  }
  void TearDown() override { EXPECT_EQ(mock_.violations(), "") << "requests or answers at odds with dns.json"; }

  std::string url_ = mailroom::testing::fresh_database();
  AzureDnsMock mock_{{.zones = {"rg-dns/example.test", "rg-dns/other.test"}, .max_per_page = 3}};
  mailroom::testing::DnsServer dns_{"example.test", ""};
};

TEST_F(AzureDnsEndToEnd, EmailSetupPlanApplyValidateKeepingAnotherToolsTxtValue) {
  mock_.seed("example.test", json::parse(R"([{"type": "TXT", "name": "@", "TTL": 3600, "metadata": {"owner": "web-team"},
                                              "TXTRecords": [{"value": ["google-site-verification=abc"]}]}])"));
  ASSERT_EQ(mailroom("migrate up").status, 0);
  ASSERT_EQ(mailroom("users add ada@example.test").status, 0);
  const auto zone = mailroom("dns zones add example.test --user ada@example.test --provider azure_dns --setting subscription_id=" +
                             AzureDnsMock::subscription() + " --setting tenant_id=" + AzureDnsMock::tenant() +
                             " --setting client_id=" + AzureDnsMock::client_id() + " --setting base_url=" + mock_.url() +
                             " --setting authority_url=" + mock_.fake_url() + " --secret client_secret=env:AZURE_SECRET");
  ASSERT_EQ(zone.status, 0) << zone.output;
  EXPECT_EQ(zone.output.find(AzureDnsMock::client_secret()), std::string::npos);
  ASSERT_EQ(mailroom("email-config add --user ada@example.test --provider smtp_relay --setting host=192.0.2.25 "
                     "--setting tls=none --from ada@example.test").status, 0);
  const auto setup = mailroom("dns email-setup example.test --user ada@example.test --mx '10 mx1.example.net'");
  ASSERT_EQ(setup.status, 0) << setup.output;

  const auto plan = mailroom("dns plan example.test --user ada@example.test");
  ASSERT_EQ(plan.status, 0) << plan.output;
  EXPECT_NE(plan.output.find("  ~ update  TXT example.test (record set, ttl 3600)\n"
                             "          \"google-site-verification=abc\"  (kept)\n"
                             "        + \"v=spf1 ip4:192.0.2.25 ~all\"\n"),
            std::string::npos) << plan.output;
  const std::string checksum = json::parse(mailroom("dns plan example.test --user ada@example.test --json").output)["checksum"];
  const auto applied = mailroom("dns apply example.test --user ada@example.test --plan-checksum " + checksum);
  ASSERT_EQ(applied.status, 0) << applied.output;
  EXPECT_NE(applied.output.find("Applied 4, failed 0."), std::string::npos) << applied.output;
  json apex;
  for (const auto& s : mock_.sets("example.test"))
    if (s["name"] == "@" && s["type"] == "Microsoft.Network/dnsZones/TXT") apex = s;
  EXPECT_EQ(apex["properties"]["TXTRecords"],
            json::parse(R"([{"value": ["google-site-verification=abc"]}, {"value": ["v=spf1 ip4:192.0.2.25 ~all"]}])"));
  EXPECT_EQ(apex["properties"]["metadata"], json::parse(R"({"owner": "web-team", "managed-by": "mailroom"})"));
  for (const auto& s : mock_.sets("example.test")) {
    const std::string type = s["type"];
    if (type.ends_with("/SOA") || type.ends_with("/NS")) continue;
    EXPECT_EQ(s["properties"]["metadata"].value("managed-by", ""), "mailroom") << s.dump();
  }

  EXPECT_EQ(mailroom("dns validate example.test --user ada@example.test").status, 1) << "nothing served yet";
  dns_.serve(AzureDnsMock::zone_file_lines("example.test", mock_.sets("example.test")));
  const auto validated = mailroom("dns validate example.test --user ada@example.test --json");
  ASSERT_EQ(validated.status, 0) << validated.output;
  const json results = json::parse(validated.output);
  ASSERT_EQ(results.size(), 4u);
  for (const auto& r : results) EXPECT_EQ(r["validation_status"], "valid") << r.dump();

  const auto again = mailroom("dns plan example.test --user ada@example.test");
  EXPECT_NE(again.output.find("Plan: 0 to create, 0 to update, 0 to delete, 4 unchanged."), std::string::npos) << again.output;
}

// Azure answers 429 with Retry-After: the engine sends the change again no sooner, and plan and
// apply (two provider objects) use one Entra ID token of the account.
TEST_F(AzureDnsEndToEnd, ThrottlingIsWaitedOutAndOneTokenServesTheAccount) {
  EngineOn db(url_);
  mailroom::dns::ZoneInput input{db.user, "example.test", "azure_dns", "", mock_.settings(), mock_.secrets()};
  const auto zone = db.engine.add_zone(input, db.user);
  for (int i = 0; i < 3; ++i)
    db.engine.add_record(zone, RecordSpec{RecordType::TXT, "t" + std::to_string(i), "v", 300, std::nullopt}, db.user);
  EXPECT_EQ(db.engine.plan(zone).creates, 3u);
  const auto before = mock_.requests().size();
  mock_.fail(429, "TooManyRequests", 2);  // the first write of the apply
  const auto report = db.engine.apply(zone, {}, db.user);
  EXPECT_EQ(report.failed, 0u) << (report.errors.empty() ? "" : report.errors[0]);
  EXPECT_EQ(report.applied, 3u);
  const json log = mock_.requests();
  const auto throttled = std::find_if(log.begin() + static_cast<long>(before), log.end(), [](const json& r) { return r.contains("failed"); });
  ASSERT_NE(throttled, log.end()) << "no request was throttled";
  const auto retried = std::find_if(throttled + 1, log.end(), [&](const json& r) { return r["path"] == throttled->at("path"); });
  ASSERT_NE(retried, log.end()) << "the throttled write was not sent again";
  EXPECT_GE(retried->at("at").get<double>() - throttled->at("at").get<double>(), 1.95) << "sent again before Retry-After";
  EXPECT_EQ(mock_.token_requests().size(), 1u) << "one token for plan and apply of one account";
}

}  // namespace
