// The c-ares resolver against a real authoritative server (Knot DNS, tests/support/dns_server.hpp).
#include "dns_server.hpp"
#include "resolver.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace {

using mailroom::resolver::QueryStatus;
using mailroom::resolver::QueryType;

class ResolverTest : public ::testing::Test {
 protected:
  mailroom::testing::DnsServer server_{"example.test",
                                       "@ TXT \"v=spf1 ip4:192.0.2.1 ~all\"\n"
                                       "@ MX 10 MX1.Example.NET.\n"
                                       "@ MX 20 mx2.example.net.\n"
                                       "long TXT \"" + std::string(255, 'a') + "\" \"bcd\"\n"
                                       "www A 192.0.2.7\n"
                                       "www AAAA 2001:db8::7\n"
                                       "alias CNAME www.example.test.\n"};
  std::unique_ptr<mailroom::resolver::Resolver> resolver_ =
      mailroom::resolver::make_resolver({server_.address(), std::chrono::milliseconds(1000), 2});
};

TEST_F(ResolverTest, JoinsTheCharacterStringsOfATxtRecord) {
  const auto a = resolver_->query("long.example.test", QueryType::TXT);
  ASSERT_EQ(a.status, QueryStatus::ok);
  ASSERT_EQ(a.values.size(), 1u);
  EXPECT_EQ(a.values[0], std::string(255, 'a') + "bcd");
}

TEST_F(ResolverTest, ReadsMxWithPreferenceAndLowerCasedHosts) {
  auto a = resolver_->query("example.test", QueryType::MX);
  ASSERT_EQ(a.status, QueryStatus::ok);
  ASSERT_EQ(a.mx.size(), 2u);
  std::sort(a.mx.begin(), a.mx.end(), [](auto& x, auto& y) { return x.preference < y.preference; });
  EXPECT_EQ(a.mx[0].preference, 10);
  EXPECT_EQ(a.mx[0].host, "mx1.example.net");
}

TEST_F(ResolverTest, ReadsAddressesAndCnames) {
  EXPECT_EQ(resolver_->query("www.example.test", QueryType::A).values, std::vector<std::string>{"192.0.2.7"});
  EXPECT_EQ(resolver_->query("www.example.test", QueryType::AAAA).values, std::vector<std::string>{"2001:db8::7"});
  EXPECT_EQ(resolver_->query("alias.example.test", QueryType::CNAME).values, std::vector<std::string>{"www.example.test"});
}

TEST_F(ResolverTest, TellsMissingNamesFromMissingData) {
  EXPECT_EQ(resolver_->query("nothing.example.test", QueryType::TXT).status, QueryStatus::no_such_name);
  EXPECT_EQ(resolver_->query("www.example.test", QueryType::TXT).status, QueryStatus::no_data);
}

// select() cannot watch a descriptor numbered 1,024 or more; a busy host has such numbers.
TEST_F(ResolverTest, AnswersWhenItsSocketIsNumberedPast1024) {
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  constexpr rlim_t kWanted = 1300;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < kWanted)
    GTEST_SKIP() << "the hard limit on open files is " << limit.rlim_max << ", below " << kWanted;
  rlimit raised = limit;
  raised.rlim_cur = std::max<rlim_t>(limit.rlim_cur, kWanted);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &raised), 0);
  std::vector<int> held;
  while (held.empty() || held.back() < 1100) held.push_back(::open("/dev/null", O_RDONLY));
  auto resolver = mailroom::resolver::make_resolver({server_.address(), std::chrono::milliseconds(1000), 2});
  const auto a = resolver->query("www.example.test", QueryType::A);
  for (const int fd : held) ::close(fd);
  ::setrlimit(RLIMIT_NOFILE, &limit);
  EXPECT_EQ(a.status, QueryStatus::ok) << a.error;
  EXPECT_EQ(a.values, std::vector<std::string>{"192.0.2.7"});
}

TEST(ResolverParser, MalformedRepliesAreRefusedNotRead) {
  using mailroom::resolver::parse_answer;
  mailroom::resolver::Answer answer;
  // Header: 1 question, 1 answer; then a question whose name runs past the end.
  const unsigned char truncated[] = {0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 3, 'w', 'w'};
  EXPECT_FALSE(parse_answer(truncated, sizeof truncated, QueryType::A, answer));
  // An A record whose rdata claims more bytes than the message has.
  const unsigned char overlong[] = {0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 200, 1, 2, 3, 4};
  EXPECT_FALSE(parse_answer(overlong, sizeof overlong, QueryType::A, answer));
  // The same record with its true length reads.
  const unsigned char fine[] = {0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};
  EXPECT_TRUE(parse_answer(fine, sizeof fine, QueryType::A, answer));
  EXPECT_EQ(answer.values, std::vector<std::string>{"192.0.2.1"});
}

TEST_F(ResolverTest, AServerThatDoesNotAnswerIsAFailure) {
  const auto port = mailroom::testing::free_port();
  auto dead = mailroom::resolver::make_resolver({"127.0.0.1:" + std::to_string(port), std::chrono::milliseconds(200), 1});
  const auto a = dead->query("example.test", QueryType::TXT);
  EXPECT_EQ(a.status, QueryStatus::failure);
  EXPECT_FALSE(a.error.empty());
}

TEST(ResolverOptions, ABadServerAddressIsRefusedByName) {
  try {
    mailroom::resolver::make_resolver({"not-an-address:53", std::chrono::milliseconds(100), 1});
    FAIL() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("not-an-address:53"), std::string::npos);
  }
}

}  // namespace
