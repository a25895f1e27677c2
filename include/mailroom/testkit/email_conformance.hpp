// The email provider conformance suite (header-only, GoogleTest): what every email plugin
// must do, whoever wrote it. A plugin's own CI runs it against the plugin's test backend:
//
//   #include <mailroom/testkit/email_conformance.hpp>
//   class MyProviderConformance : public mailroom::testkit::EmailConformance {
//    protected:
//     std::shared_ptr<mailroom::EmailProvider> make_provider() override {
//       return plugin_.create({{"host", "127.0.0.1"}, {"port", port_}}, {{"password", "pw"}});
//     }
//     mailroom::testkit::LoadedEmailPlugin plugin_{"build/my_provider.so"};
//   };
//   MAILROOM_EMAIL_CONFORMANCE_TESTS(MyProviderConformance)
//
// The plugin is loaded as the host loads it (Boost.DLL, RTLD_NOW | RTLD_LOCAL, the factory
// alias from the "mailroom" section); configuration is not validated here (the host does
// that against the manifest's schema before a real plugin ever sees it).
#pragma once

#include <mailroom/plugin.hpp>
#include <mailroom/testkit/loaded_plugin.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <memory>
#include <string>
#include <vector>

namespace mailroom::testkit {

class EmailConformance : public ::testing::Test {
 protected:
  // A provider that can deliver to the suite's test backend.
  virtual std::shared_ptr<EmailProvider> make_provider() = 0;

  // An email the backend accepts. Override to change addresses.
  virtual OutgoingEmail deliverable() {
    OutgoingEmail e;
    e.id = "conformance-1";
    e.envelope = {"sender@example.com", {"recipient@example.com", "hidden-bcc@example.com"}};
    e.message.from = {"sender@example.com", "Sender"};
    e.message.to = {{"recipient@example.com", "Récipient"}};
    e.message.subject = "Conformance — ünïcode subject";
    e.message.text_body = "plain text\n";
    e.message.html_body = "<p>html</p>\n";
    return e;
  }

  // Checks on the backend that `email` arrived (called after each accepted send).
  virtual void expect_delivered(const OutgoingEmail& email, const SendReceipt& receipt) {
    (void)email;
    (void)receipt;
  }
};

}  // namespace mailroom::testkit

// The suite's tests, for a fixture derived from mailroom::testkit::EmailConformance.
#define MAILROOM_EMAIL_CONFORMANCE_TESTS(Fixture)                                                      \
  TEST_F(Fixture, ConformanceAcceptsAValidEmail) {                                                     \
    auto provider = make_provider();                                                                   \
    const auto email = deliverable();                                                                  \
    const auto receipt = provider->send(email);                                                        \
    EXPECT_FALSE(receipt.provider_message_id.empty());                                                 \
    expect_delivered(email, receipt);                                                                  \
  }                                                                                                    \
  TEST_F(Fixture, ConformanceReceiptsAreDistinct) {                                                    \
    auto provider = make_provider();                                                                   \
    const auto first = provider->send(deliverable());                                                  \
    const auto second = provider->send(deliverable());                                                 \
    EXPECT_NE(first.provider_message_id, second.provider_message_id);                                  \
  }                                                                                                    \
  TEST_F(Fixture, ConformanceRefusesAnEmptyEnvelope) {                                                 \
    auto provider = make_provider();                                                                   \
    auto email = deliverable();                                                                        \
    email.envelope.rcpt_to.clear();                                                                    \
    EXPECT_EQ(mailroom::testkit::provider_error_kind([&] { provider->send(email); }), mailroom::ErrorKind::invalid_request); \
  }                                                                                                    \
  TEST_F(Fixture, ConformanceRefusesHeaderInjectionWithAProviderError) {                               \
    auto provider = make_provider();                                                                   \
    auto email = deliverable();                                                                        \
    email.message.subject = "hello\r\nBcc: victim@example.com";                                        \
    const auto kind = mailroom::testkit::provider_error_kind([&] { provider->send(email); });                             \
    EXPECT_TRUE(kind == mailroom::ErrorKind::invalid_request || kind == mailroom::ErrorKind::permanent); \
  }                                                                                                    \
  TEST_F(Fixture, ConformanceVerifiesWorkingCredentials) { EXPECT_NO_THROW(make_provider()->verify()); } \
  TEST_F(Fixture, ConformanceDnsRequirementsAreWellFormed) {                                           \
    for (const auto& record : make_provider()->dns_requirements("example.com")) {                      \
      EXPECT_TRUE(record.name == "example.com" || record.name.ends_with(".example.com")) << record.name; \
      EXPECT_FALSE(record.value.empty());                                                              \
      EXPECT_GT(record.ttl, 0);                                                                        \
    }                                                                                                  \
  }
