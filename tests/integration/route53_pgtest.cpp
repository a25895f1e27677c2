// route53 end to end: `mailroom dns email-setup`, `plan`, `apply` and `validate` on a Route 53
// zone (the fake that checks SigV4 with botocore and bodies against the botocore model, its
// records served to the validator by Knot), beside a TXT value mailroom does not own; then the
// engine's pace shared by two zones of one account, and throttling waited out.
#include "dns_cli.hpp"
#include "dns_engine_fixture.hpp"
#include "dns_server.hpp"
#include "harness.hpp"
#include "route53_mock.hpp"

#include <algorithm>
#include <thread>

namespace {

using mailroom::RecordSpec;
using mailroom::RecordType;
using mailroom::testing::CommandResult;
using mailroom::testing::EngineOn;
using mailroom::testing::quote;
using nlohmann::json;

class Route53EndToEnd : public ::testing::Test {
 protected:
  CommandResult mailroom(const std::string& args) {
    return mailroom::testing::dns_cli(url_, dns_.address(),
                                      "AWS_KEY=" + quote(mock_.access_key()) + " AWS_SECRET=" + quote(mock_.secret_key()), args);
  }
  void TearDown() override { EXPECT_EQ(mock_.violations(), "") << "requests at odds with SigV4 or Route 53's model"; }

  std::string url_ = mailroom::testing::fresh_database();
  mailroom::testing::Route53Mock mock_{{.zones = {"example.test", "other.test"}, .max_items = 3}};
  mailroom::testing::DnsServer dns_{"example.test", ""};
};

TEST_F(Route53EndToEnd, EmailSetupPlanApplyValidateKeepingAnotherToolsTxtValue) {
  mock_.seed("example.test", json::parse(R"([{"Name": "example.test", "Type": "TXT", "TTL": 3600,
                                              "ResourceRecords": ["\"google-site-verification=abc\""]}])"));
  ASSERT_EQ(mailroom("migrate up").status, 0);
  ASSERT_EQ(mailroom("users add ada@example.test").status, 0);
  const auto zone = mailroom("dns zones add example.test --user ada@example.test --provider route53 --setting base_url=" +
                             mock_.url() + " --setting change_poll_seconds=0.05 --secret access_key_id=env:AWS_KEY "
                             "--secret secret_access_key=env:AWS_SECRET");
  ASSERT_EQ(zone.status, 0) << zone.output;
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
  EXPECT_NE(applied.output.find("in sync after"), std::string::npos) << applied.output;
  json apex;
  for (const auto& s : mock_.sets("example.test"))
    if (s["Name"] == "example.test." && s["Type"] == "TXT") apex = s;
  EXPECT_EQ(apex["ResourceRecords"], json::parse(R"(["\"google-site-verification=abc\"", "\"v=spf1 ip4:192.0.2.25 ~all\""])"));

  EXPECT_EQ(mailroom("dns validate example.test --user ada@example.test").status, 1) << "nothing served yet";
  dns_.serve(mailroom::testing::Route53Mock::zone_file_lines(mock_.sets("example.test")));
  const auto validated = mailroom("dns validate example.test --user ada@example.test --json");
  ASSERT_EQ(validated.status, 0) << validated.output;
  const json results = json::parse(validated.output);
  ASSERT_EQ(results.size(), 4u);
  for (const auto& r : results) EXPECT_EQ(r["validation_status"], "valid") << r.dump();

  const auto again = mailroom("dns plan example.test --user ada@example.test");
  EXPECT_NE(again.output.find("Plan: 0 to create, 0 to update, 0 to delete, 4 unchanged."), std::string::npos) << again.output;
}

// Route 53 allows 5 requests a second per account: two zones of one account share the pace, and
// a throttled batch is sent again after the time Route 53 asks for.
TEST_F(Route53EndToEnd, TwoZonesOfOneAccountShareOnePaceAndThrottlingIsWaitedOut) {
  EngineOn db(url_);
  auto& engine = db.engine;
  const auto& user = db.user;
  std::vector<mailroom::db::DnsZoneRow> zones;
  for (const std::string name : {"example.test", "other.test"}) {
    mailroom::dns::ZoneInput input{user, name, "route53", "", mock_.settings(), mock_.secrets()};
    zones.push_back(engine.add_zone(input, user));
    for (int i = 0; i < 4; ++i)
      engine.add_record(zones.back(), RecordSpec{RecordType::TXT, "t" + std::to_string(i), "v", 300, std::nullopt}, user);
  }
  // Throttled: the read is sent again after the second Route 53 asks for, and the plan is made.
  mock_.fail("Throttling", 1);
  const auto planned = engine.plan(zones[0]);
  EXPECT_EQ(planned.creates, 4u);
  const json log = mock_.requests();
  const auto throttled = std::find_if(log.begin(), log.end(), [](const json& r) { return r.contains("failed"); });
  ASSERT_NE(throttled, log.end()) << "no request was throttled";
  ASSERT_NE(throttled + 1, log.end());
  EXPECT_EQ((throttled + 1)->at("path"), throttled->at("path")) << "the same request again";
  EXPECT_GE((throttled + 1)->at("at").get<double>() - throttled->at("at").get<double>(), 0.95)
      << "sent again before the second Route 53 asked to wait";

  const auto first = mock_.requests().size();
  std::vector<mailroom::dns::ApplyReport> reports(2);
  std::vector<std::string> thrown(2);
  std::vector<std::thread> appliers;
  for (std::size_t i = 0; i < 2; ++i)
    appliers.emplace_back([&, i] {
      try {
        reports[i] = engine.apply(zones[i], {}, user);
      } catch (const std::exception& e) {
        thrown[i] = e.what();
      }
    });
  for (auto& t : appliers) t.join();
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(thrown[i], "");
    EXPECT_EQ(reports[i].failed, 0u) << (reports[i].errors.empty() ? "" : reports[i].errors[0]);
    EXPECT_EQ(reports[i].applied, 4u);
  }

  // Every request of both zones, in order: never two closer than the pace allows.
  std::vector<double> at;
  for (const auto& r : mock_.requests()) at.push_back(r["at"].get<double>());
  ASSERT_GE(at.size(), first + 8) << "each zone: its zone, its records, one batch, one poll";
  std::sort(at.begin() + static_cast<long>(first), at.end());
  double closest = 1e9;
  for (std::size_t i = first + 1; i < at.size(); ++i) closest = std::min(closest, at[i] - at[i - 1]);
  const double rate = static_cast<double>(at.size() - first - 1) / (at.back() - at[first]);
  std::printf("route53 pace: %zu requests of 2 zones at %.2f/s, closest two %.0f ms apart\n", at.size() - first, rate,
              closest * 1000);
  EXPECT_GE(closest, 0.18) << "two requests of one account closer than 1/5 s";
  EXPECT_LE(rate, 5.2);
}

}  // namespace

namespace {

// Two hosted zones of one name (a public one made twice, or a private one listed too): which one
// to write is not mailroom's guess, so planning refuses naming both.
TEST(Route53Zones, TwoHostedZonesOfOneNameAreRefusedByName) {
  mailroom::testing::Route53Mock mock({.zones = {"example.test", "example.test"}});
  EngineOn db(mailroom::testing::fresh_database());
  auto& engine = db.engine;
  const auto& user = db.user;
  mailroom::dns::ZoneInput input{user, "example.test", "route53", "", mock.settings(), mock.secrets()};
  const auto zone = engine.add_zone(input, user);
  try {
    engine.plan(zone);
    FAIL() << "planned for a zone of an ambiguous name";
  } catch (const mailroom::dns::DnsError& e) {
    EXPECT_STREQ(e.what(), "the route53 account holds 2 zones named example.test (Z0000000000000000001, "
                           "Z0000000000000000002): delete the extra one, or keep it out of what the credentials can list");
  }
  EXPECT_EQ(mock.violations(), "");
}

}  // namespace
