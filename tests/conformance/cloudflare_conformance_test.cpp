// The cloudflare plugin passes the SDK's DNS conformance suite against Cloudflare's official
// API schema: a stateful fake behind Prism's validating proxy (tests/support/cloudflare_mock.hpp).
#include "cloudflare_mock.hpp"

#include <mailroom/testkit/dns_conformance.hpp>

namespace {

class CloudflareConformance : public mailroom::testkit::DnsConformance {
 protected:
  std::shared_ptr<mailroom::DnsProvider> make_provider() override {
    return plugin_.create(nlohmann::json::object(), {{"api_token", mock_.token()}}, mock_.url());
  }
  std::shared_ptr<mailroom::DnsProvider> make_provider_with_wrong_credentials() override {
    return plugin_.create(nlohmann::json::object(), {{"api_token", "not-the-token"}}, mock_.url());
  }
  std::string zone_name() override { return "example.test"; }
  void TearDown() override { EXPECT_EQ(mock_.violations(), "") << "requests or answers at odds with Cloudflare's schema"; }

  mailroom::testing::CloudflareMock mock_;
  mailroom::testkit::LoadedDnsPlugin plugin_{MAILROOM_PLUGIN_DIR "/cloudflare.so"};
};

MAILROOM_DNS_CONFORMANCE_TESTS(CloudflareConformance)

}  // namespace
