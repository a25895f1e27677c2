// Event webhooks without a server: the target rules (server-side request forgery) with a
// resolver that answers from a table, and Standard Webhooks signing against the reference
// vector.
#include "webhooks.hpp"

#include <gtest/gtest.h>

#include <map>

namespace {

using mailroom::webhooks::AddressClass;
using mailroom::webhooks::classify_address;
using mailroom::webhooks::resolve_target;
using mailroom::webhooks::TargetPolicy;

class TableResolver : public mailroom::resolver::Resolver {
 public:
  std::map<std::string, std::vector<std::string>> a, aaaa;
  int queries = 0;
  mailroom::resolver::Answer query(const std::string& name, mailroom::resolver::QueryType type) override {
    ++queries;
    const auto& table = type == mailroom::resolver::QueryType::A ? a : aaaa;
    mailroom::resolver::Answer answer;
    if (!a.count(name) && !aaaa.count(name)) {
      answer.status = mailroom::resolver::QueryStatus::no_such_name;
      return answer;
    }
    const auto it = table.find(name);
    answer.status = it == table.end() ? mailroom::resolver::QueryStatus::no_data : mailroom::resolver::QueryStatus::ok;
    if (it != table.end()) answer.values = it->second;
    return answer;
  }
};

TEST(WebhookTargets, EveryAddressClassIsNamed) {
  const std::vector<std::pair<std::string, AddressClass>> cases = {
      {"127.0.0.1", AddressClass::loopback},
      {"127.255.0.9", AddressClass::loopback},
      {"::1", AddressClass::loopback},
      {"::ffff:127.0.0.1", AddressClass::loopback},  // IPv4-mapped: judged by the IPv4 inside
      {"64:ff9b::7f00:1", AddressClass::loopback},   // NAT64 of 127.0.0.1
      {"10.1.2.3", AddressClass::private_network},
      {"172.16.0.1", AddressClass::private_network},
      {"172.31.255.255", AddressClass::private_network},
      {"192.168.1.1", AddressClass::private_network},
      {"100.64.0.1", AddressClass::private_network},  // shared address space (RFC 6598)
      {"fc00::1", AddressClass::private_network},
      {"fd12:3456::1", AddressClass::private_network},
      {"::ffff:10.0.0.1", AddressClass::private_network},
      {"169.254.1.1", AddressClass::link_local},
      {"fe80::1", AddressClass::link_local},
      {"169.254.169.254", AddressClass::metadata},  // AWS, GCP, Azure, OpenStack
      {"fd00:ec2::254", AddressClass::metadata},    // AWS over IPv6
      {"100.100.100.200", AddressClass::metadata},  // Alibaba Cloud
      {"::ffff:169.254.169.254", AddressClass::metadata},
      {"0.0.0.0", AddressClass::unspecified},
      {"::", AddressClass::unspecified},
      {"224.0.0.1", AddressClass::multicast},
      {"ff02::1", AddressClass::multicast},
      {"255.255.255.255", AddressClass::reserved},
      {"not an address", AddressClass::reserved},
      {"93.184.216.34", AddressClass::global},
      {"172.32.0.1", AddressClass::global},  // just outside 172.16/12
      {"2606:4700::6810:84e5", AddressClass::global},
  };
  for (const auto& [address, expected] : cases)
    EXPECT_EQ(classify_address(address), expected) << address << " is " << mailroom::webhooks::describe(classify_address(address));
}

TEST(WebhookTargets, UrlsOutsideTheRulesAreRefusedWithTheReason) {
  TableResolver dns;
  dns.a["hooks.example.com"] = {"93.184.216.34"};
  const TargetPolicy strict;
  EXPECT_NE(resolve_target("http://hooks.example.com/in", strict, dns).refusal.find("must use https://"), std::string::npos);
  EXPECT_NE(resolve_target("ftp://hooks.example.com/in", strict, dns).refusal.find("https://"), std::string::npos);
  EXPECT_NE(resolve_target("https://user:pw@hooks.example.com/in", strict, dns).refusal.find("user name or password"),
            std::string::npos);
  EXPECT_NE(resolve_target("not a url", strict, dns).refusal.find("absolute URL"), std::string::npos);
  EXPECT_EQ(dns.queries, 0) << "a URL refused by its syntax needs no lookup";

  const auto ok = resolve_target("https://hooks.example.com:8443/in", strict, dns);
  EXPECT_EQ(ok.refusal, "");
  EXPECT_EQ(ok.host, "hooks.example.com");
  EXPECT_EQ(ok.port, 8443);
  EXPECT_EQ(ok.addresses, std::vector<std::string>{"93.184.216.34"}) << "the connection is pinned to what was checked";
  EXPECT_EQ(resolve_target("http://hooks.example.com/in", {true, false}, dns).refusal, "") << "allow_http";
}

TEST(WebhookTargets, EveryPrivateTargetIsRefusedByLiteralOrByName) {
  TableResolver dns;
  dns.a["internal.example.com"] = {"10.0.0.5"};
  dns.a["rebind.example.com"] = {"127.0.0.1"};
  dns.a["mixed.example.com"] = {"93.184.216.34", "192.168.0.10"};  // one bad address is enough
  dns.aaaa["v6.example.com"] = {"fe80::1"};
  dns.a["metadata.example.com"] = {"169.254.169.254"};
  const TargetPolicy strict;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"https://127.0.0.1/", "127.0.0.1, a loopback address"},
      {"https://[::1]:8443/", "::1, a loopback address"},
      {"https://[::ffff:127.0.0.1]/", "a loopback address"},
      {"https://10.1.1.1/", "a private-network address"},
      {"https://169.254.169.254/latest/meta-data/", "a cloud metadata address"},
      {"https://[fe80::1]/", "a link-local address"},
      {"https://0.0.0.0/", "an unspecified address"},
      {"https://localhost:9000/", "localhost is a loopback address"},
      {"https://api.localhost/", "a loopback address"},
      {"https://internal.example.com/", "internal.example.com resolves to 10.0.0.5, a private-network address"},
      {"https://rebind.example.com/", "rebind.example.com resolves to 127.0.0.1, a loopback address"},
      {"https://mixed.example.com/", "resolves to 192.168.0.10"},
      {"https://v6.example.com/", "resolves to fe80::1, a link-local address"},
      {"https://metadata.example.com/", "a cloud metadata address"},
      {"https://nowhere.example.com/", "does not exist in DNS"},
  };
  for (const auto& [url, reason] : cases) {
    const auto target = resolve_target(url, strict, dns);
    EXPECT_NE(target.refusal.find(reason), std::string::npos) << url << ": " << target.refusal;
    EXPECT_TRUE(target.addresses.empty()) << url;
  }
  // Development: allowed, and a name is left to the HTTP client to resolve.
  const TargetPolicy development{true, true};
  EXPECT_EQ(resolve_target("http://127.0.0.1:8080/", development, dns).refusal, "");
  EXPECT_EQ(resolve_target("http://localhost:8080/", development, dns).refusal, "");
  EXPECT_EQ(resolve_target("https://internal.example.com/", development, dns).refusal, "");
}

TEST(WebhookSigning, MatchesTheStandardWebhooksReferenceVector) {
  // The vector of the Standard Webhooks specification's libraries' tests (the npm package
  // `standardwebhooks` gives the same; the end-to-end tests verify with it).
  EXPECT_EQ(mailroom::webhooks::signature_header({"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
                                                 "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, "{\"test\": 2432232314}"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  // During a rotation's grace period both secrets sign, the current one first.
  const std::string current = mailroom::webhooks::new_signing_secret();
  const auto both = mailroom::webhooks::signature_header({current, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
                                                         "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, "{\"test\": 2432232314}");
  EXPECT_TRUE(both.ends_with(" v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")) << both;
  EXPECT_TRUE(both.starts_with("v1,")) << both;
  EXPECT_TRUE(current.starts_with("whsec_"));
  EXPECT_EQ(current.size(), 6u + 44u) << "32 random bytes in base64";
  EXPECT_NE(current, mailroom::webhooks::new_signing_secret());
  EXPECT_THROW(mailroom::webhooks::signature_header({"not-a-secret"}, "id", 1, "{}"), mailroom::webhooks::InvalidRequest);
}

}  // namespace
