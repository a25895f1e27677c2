// The out-of-tree third-party example docs/examples/postbox_email passes the SDK's email
// conformance suite against the Postbox fake behind Prism (its own OpenAPI document), as a
// third party would run it in its own CI.
#include "postbox_mock.hpp"

#include <mailroom/testkit/email_conformance.hpp>

#include <cstdlib>

namespace {

std::string plugin_file() {
  const char* file = std::getenv("MAILROOM_POSTBOX_PLUGIN");
  return file != nullptr ? file : "postbox_email.so";
}

mailroom::testing::PostboxMock& postbox() {
  static mailroom::testing::PostboxMock mock;
  return mock;
}

class PostboxConformance : public mailroom::testkit::EmailConformance {
 protected:
  std::shared_ptr<mailroom::EmailProvider> make_provider() override {
    return plugin_.create({{"base_url", postbox().url()}}, {{"token", postbox().token()}}, postbox().url());
  }
  void TearDown() override { EXPECT_EQ(postbox().violations(), "") << "requests Prism found at odds with postbox.openapi.json"; }
  mailroom::testkit::LoadedEmailPlugin plugin_{plugin_file()};
};

MAILROOM_EMAIL_CONFORMANCE_TESTS(PostboxConformance)

TEST_F(PostboxConformance, ErrorsMapToTheirKinds) {
  auto provider = make_provider();
  auto email = deliverable();
  email.message.subject = "[429] busy";
  try {
    provider->send(email);
    FAIL() << "a 429 was accepted";
  } catch (const mailroom::ProviderError& e) {
    EXPECT_EQ(e.kind(), mailroom::ErrorKind::rate_limited);
    EXPECT_EQ(e.info().retry_after, std::chrono::seconds(1));
  }
  email.message.subject = "[500] down";
  EXPECT_EQ(mailroom::testkit::provider_error_kind([&] { provider->send(email); }), mailroom::ErrorKind::transient);
  auto wrong = plugin_.create({{"base_url", postbox().url()}}, {{"token", "wrong"}}, postbox().url());
  EXPECT_EQ(mailroom::testkit::provider_error_kind([&] { wrong->verify(); }), mailroom::ErrorKind::auth);
}

}  // namespace
