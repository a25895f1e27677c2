// What the cloudflare plugin does beyond the conformance suite, against the same validating
// mock: how it pages, how it reads the v4 error envelope, 429 and Retry-After, long TXT.
#include "cloudflare_mock.hpp"

#include <mailroom/testkit/loaded_plugin.hpp>

#include <gtest/gtest.h>

namespace {

using mailroom::ChangeAction;
using mailroom::RecordType;

class CloudflareTest : public ::testing::Test {
 protected:
  std::shared_ptr<mailroom::DnsProvider> provider() {
    return plugin_.create(nlohmann::json::object(), {{"api_token", mock_.token()}}, mock_.url());
  }
  mailroom::Zone zone(mailroom::DnsProvider& p) { return p.list_zones().at(0); }
  static mailroom::RecordSpec txt(const std::string& name, const std::string& value) {
    mailroom::RecordSpec r;
    r.type = RecordType::TXT;
    r.name = name;
    r.value = value;
    return r;
  }
  void TearDown() override { EXPECT_EQ(mock_.violations(), "") << "requests or answers at odds with Cloudflare's schema"; }

  mailroom::testing::CloudflareMock mock_{{.token = "cf-token", .zones = {"example.test", "other.test"}, .max_per_page = 5}};
  mailroom::testkit::LoadedDnsPlugin plugin_{MAILROOM_PLUGIN_DIR "/cloudflare.so"};
};

TEST_F(CloudflareTest, ReadsEveryPageTheServerCuts) {
  auto p = provider();
  const auto z = zone(*p);
  mailroom::ChangeSet creates;
  for (int i = 0; i < 13; ++i) creates.push_back({ChangeAction::create, txt("r" + std::to_string(i) + ".example.test", "v"), ""});
  for (const auto& r : p->apply(z, creates)) ASSERT_FALSE(r.error.has_value()) << r.error->message;
  EXPECT_EQ(p->list_records(z).size(), 13u);
  int pages = 0;
  for (const auto& request : mock_.requests())
    if (request[0] == "GET" && request[1].get<std::string>().find("/dns_records?page=") != std::string::npos) ++pages;
  EXPECT_EQ(pages, 3) << "13 records in pages of 5 are 3 pages";
}

TEST_F(CloudflareTest, ListsEveryZone) {
  auto p = provider();
  const auto zones = p->list_zones();
  ASSERT_EQ(zones.size(), 2u);
  EXPECT_EQ(zones[0].name, "example.test");
  EXPECT_EQ(zones[1].name, "other.test");
  EXPECT_EQ(zones[0].id.size(), 32u);
}

TEST_F(CloudflareTest, SplitsLongTxtIntoCharacterStringsOnTheWire) {
  auto p = provider();
  const auto z = zone(*p);
  const std::string value(600, 'k');
  const auto results = p->apply(z, {{ChangeAction::create, txt("long.example.test", value), ""}});
  ASSERT_FALSE(results.at(0).error.has_value());
  const auto stored = mock_.records("example.test").at(0).at("content").get<std::string>();
  EXPECT_EQ(stored, "\"" + std::string(255, 'k') + "\" \"" + std::string(255, 'k') + "\" \"" + std::string(90, 'k') + "\"");
  EXPECT_EQ(p->list_records(z).at(0).record.value, value);
}

TEST_F(CloudflareTest, ErrorEnvelopeBecomesTheChangesError) {
  auto p = provider();
  const auto z = zone(*p);
  const auto first = p->apply(z, {{ChangeAction::create, txt("dup.example.test", "same"), ""}});
  ASSERT_FALSE(first.at(0).error.has_value());
  const auto second = p->apply(z, {{ChangeAction::create, txt("dup.example.test", "same"), ""}});
  ASSERT_TRUE(second.at(0).error.has_value());
  EXPECT_EQ(second[0].error->kind, mailroom::ErrorKind::invalid_request);
  EXPECT_EQ(second[0].error->code, "81058");
  EXPECT_EQ(second[0].error->message, "An identical record already exists.");
}

TEST_F(CloudflareTest, RateLimitStopsTheCallWithRetryAfter) {
  auto p = provider();
  const auto z = zone(*p);
  mock_.rate_limit(1, 7);
  const auto results = p->apply(z, {{ChangeAction::create, txt("a.example.test", "1"), ""},
                                    {ChangeAction::create, txt("b.example.test", "2"), ""}});
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) {
    ASSERT_TRUE(r.error.has_value());
    EXPECT_EQ(r.error->kind, mailroom::ErrorKind::rate_limited);
    EXPECT_EQ(r.error->retry_after, std::chrono::seconds(7));
  }
  EXPECT_TRUE(mock_.records("example.test").empty()) << "the change after a 429 was still sent";
}

TEST_F(CloudflareTest, MissingRecordIsAnInvalidRequestNamingIt) {
  auto p = provider();
  const auto z = zone(*p);
  const auto results = p->apply(z, {{ChangeAction::remove, txt("gone.example.test", "x"), "0123456789abcdef0123456789abcdef"}});
  ASSERT_TRUE(results.at(0).error.has_value());
  EXPECT_EQ(results[0].error->code, "81044");
  EXPECT_EQ(results[0].error->kind, mailroom::ErrorKind::invalid_request);
}

TEST_F(CloudflareTest, NoTokenIsRefusedAtCreation) {
  try {
    plugin_.create(nlohmann::json::object(), {}, mock_.url());
    FAIL() << "created without a token";
  } catch (const mailroom::plugin_host::PluginError& e) {  // as the host reports a refusing factory
    EXPECT_NE(std::string(e.what()).find("factory failed: auth (no_token): the secret 'api_token' is not set"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
