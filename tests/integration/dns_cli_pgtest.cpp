// `mailroom dns` as a user runs it: email-setup, then plan / apply / validate against the
// validating Cloudflare mock and Knot DNS serving what the mock holds; and a plan past the
// safety limit refused until --force.
#include "cloudflare_mock.hpp"
#include "dns_cli.hpp"
#include "dns_server.hpp"
#include "harness.hpp"

namespace {

using mailroom::testing::CommandResult;
using mailroom::testing::quote;
using nlohmann::json;


class DnsCli : public ::testing::Test {
 protected:
  CommandResult mailroom(const std::string& args, const std::string& input = "") {
    return mailroom::testing::dns_cli(url_, dns_.address(), "CF_TOKEN=" + mock_.token(), args, input);
  }
  void SetUp() override {
    ASSERT_EQ(mailroom("migrate up").status, 0);
    ASSERT_EQ(mailroom("users add ada@example.test").status, 0);
    const auto zone = mailroom("dns zones add example.test --user ada@example.test --provider cloudflare --setting base_url=" +
                               mock_.url() + " --secret-env CF_TOKEN");
    ASSERT_EQ(zone.status, 0) << zone.output;
  }
  void TearDown() override { EXPECT_EQ(mock_.violations(), "") << "requests or answers at odds with Cloudflare's schema"; }

  std::string url_ = mailroom::testing::fresh_database();
  mailroom::testing::CloudflareMock mock_{{.token = "cf-cli-token", .zones = {"example.test"}, .max_per_page = 5}};
  mailroom::testing::DnsServer dns_{"example.test", ""};
};

TEST_F(DnsCli, EmailSetupThenPlanApplyValidate) {
  const auto config = mailroom("email-config add --user ada@example.test --provider smtp_relay --setting host=192.0.2.25 --setting tls=none "
                               "--from ada@example.test");
  ASSERT_EQ(config.status, 0) << config.output;
  const auto setup = mailroom("dns email-setup example.test --user ada@example.test --mx '10 mx1.example.net' "
                              "--dmarc-policy quarantine --dmarc-report dmarc@example.test");
  ASSERT_EQ(setup.status, 0) << setup.output;
  EXPECT_NE(setup.output.find("got a new rsa DKIM key, selector mailroom"), std::string::npos) << setup.output;
  EXPECT_NE(setup.output.find("SPF  example.test  v=spf1 ip4:192.0.2.25 ~all"), std::string::npos) << setup.output;
  EXPECT_NE(setup.output.find("4 added, 0 changed, 0 kept"), std::string::npos) << setup.output;
  EXPECT_EQ(setup.output.find("PRIVATE KEY"), std::string::npos);

  const auto text_plan = mailroom("dns plan example.test --user ada@example.test");
  ASSERT_EQ(text_plan.status, 0) << text_plan.output;
  EXPECT_NE(text_plan.output.find("Plan: 4 to create, 0 to update, 0 to delete, 0 unchanged."), std::string::npos)
      << text_plan.output;
  const auto plan = mailroom("dns plan example.test --user ada@example.test --json");
  ASSERT_EQ(plan.status, 0) << plan.output;
  const std::string checksum = json::parse(plan.output)["checksum"];
  const auto applied = mailroom("dns apply example.test --user ada@example.test --plan-checksum " + checksum);
  ASSERT_EQ(applied.status, 0) << applied.output;
  EXPECT_NE(applied.output.find("Applied 4, failed 0."), std::string::npos) << applied.output;
  EXPECT_EQ(mock_.records("example.test").size(), 4u);

  const auto before = mailroom("dns validate example.test --user ada@example.test");
  EXPECT_EQ(before.status, 1) << "nothing is served yet: " << before.output;
  EXPECT_NE(before.output.find("missing  SPF  example.test"), std::string::npos) << before.output;

  dns_.serve(mailroom::testing::CloudflareMock::zone_file_lines(mock_.records("example.test")));
  const auto validated = mailroom("dns validate example.test --user ada@example.test --json");
  ASSERT_EQ(validated.status, 0) << validated.output;
  const json results = json::parse(validated.output);
  ASSERT_EQ(results.size(), 4u);
  for (const auto& r : results) EXPECT_EQ(r["validation_status"], "valid") << r.dump();
  const auto listed = mailroom("dns records list example.test --user ada@example.test --json");
  for (const auto& r : json::parse(listed.output)) EXPECT_EQ(r["status"], "active") << r.dump();

  const auto again = mailroom("dns plan example.test --user ada@example.test");
  EXPECT_NE(again.output.find("Plan: 0 to create, 0 to update, 0 to delete, 4 unchanged."), std::string::npos) << again.output;
}

TEST_F(DnsCli, APlanPastTheSafetyLimitIsRefusedUntilForced) {
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    const auto added = mailroom("dns records add example.test --user ada@example.test --type TXT --name t" +
                                std::to_string(i) + " --value v" + std::to_string(i));
    ASSERT_EQ(added.status, 0) << added.output;
    ids.push_back(added.output.substr(0, 36));
  }
  ASSERT_EQ(mailroom("dns apply example.test --user ada@example.test").status, 0);
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(mailroom("dns records remove example.test " + ids[static_cast<std::size_t>(i)] + " --user ada@example.test").status, 0);

  const auto plan = mailroom("dns plan example.test --user ada@example.test");
  EXPECT_NE(plan.output.find("REFUSED without --force: the plan updates or deletes 4 of the 10 records"), std::string::npos)
      << plan.output;
  const auto refused = mailroom("dns apply example.test --user ada@example.test");
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.output.find("mailroom: the plan updates or deletes 4 of the 10 records mailroom owns in example.test"),
            std::string::npos) << refused.output;
  EXPECT_EQ(mock_.records("example.test").size(), 10u) << "a refused plan deleted something";
  const auto forced = mailroom("dns apply example.test --user ada@example.test --force");
  EXPECT_EQ(forced.status, 0) << forced.output;
  EXPECT_EQ(mock_.records("example.test").size(), 6u);
}

TEST_F(DnsCli, ErrorsNameWhatIsWrong) {
  const auto no_zone = mailroom("dns plan nowhere.test --user ada@example.test");
  EXPECT_EQ(no_zone.status, 1);
  EXPECT_NE(no_zone.output.find("no zone nowhere.test"), std::string::npos) << no_zone.output;
  const auto bad_type = mailroom("dns records add example.test --user ada@example.test --type NS --name x --value y");
  EXPECT_NE(bad_type.output.find("--type must be one of"), std::string::npos) << bad_type.output;
  const auto no_user = mailroom("dns zones list --user nobody@example.test");
  EXPECT_NE(no_user.output.find("no user 'nobody@example.test'"), std::string::npos) << no_user.output;
  const auto listed = mailroom("dns zones list --user ada@example.test --json");
  EXPECT_EQ(listed.output.find(mock_.token()), std::string::npos) << "a secret was shown";
  EXPECT_NE(listed.output.find("\"(set)\""), std::string::npos) << listed.output;
}

}  // namespace
