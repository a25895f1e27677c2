// The host's policies that follow what a plugin declares: the central capability check
// (each refusal names the capability and the plugin) and the pacing of requests_per_second.
#include "providers.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <thread>

namespace {

using mailroom::providers::email_refusal;

class Providers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    plugins_ = new mailroom::plugin_host::PluginHost;
    plugins_->load_directory(MAILROOM_TEST_PLUGIN_DIR);
  }
  static void TearDownTestSuite() { delete plugins_; }
  static const mailroom::plugin_host::Manifest& manifest(const char* name) { return plugins_->find(name)->manifest; }
  static mailroom::OutgoingEmail email(std::size_t recipients) {
    mailroom::OutgoingEmail e;
    e.envelope.mail_from = "a@example.com";
    for (std::size_t i = 0; i < recipients; ++i) e.envelope.rcpt_to.push_back("r" + std::to_string(i) + "@example.com");
    e.message.subject = "s";
    e.message.text_body = "b";
    return e;
  }
  static mailroom::plugin_host::PluginHost* plugins_;
  mailroom::crypto::SecretBox box_{mailroom::crypto::KeyRing::parse(mailroom::crypto::generate_key_entry("k1"), "t")};
};
mailroom::plugin_host::PluginHost* Providers::plugins_ = nullptr;

TEST_F(Providers, EachUndeclaredCapabilityIsRefusedByName) {
  EXPECT_EQ(email_refusal(email(50), 100, manifest("test_email")), "");
  EXPECT_EQ(email_refusal(email(51), 100, manifest("test_email")),
            "51 recipients (to, cc and bcc together), but plugin test_email declares max_recipients 50");
  auto attached = email(1);
  attached.message.attachments.push_back({"a.pdf", "application/pdf", "%PDF"});
  EXPECT_EQ(email_refusal(attached, 100, manifest("test_email")), "") << "test_email declares attachments";
  EXPECT_EQ(email_refusal(attached, 100, manifest("fake_email")),
            "attachments (a.pdf): plugin fake_email does not declare the capability attachments");
  EXPECT_EQ(email_refusal(email(1), 1048576, manifest("test_email")), "");
  EXPECT_EQ(email_refusal(email(1), 1048577, manifest("test_email")),
            "the encoded message is 1048577 bytes, but plugin test_email declares max_message_bytes 1048576");
  // Undeclared means unsupported: a plugin that declares nothing takes one recipient, and
  // the host's own size limit.
  const auto& bare = plugins_->load(MAILROOM_TEST_REFUSED_DIR "/throwing_factory.so", false).manifest;
  EXPECT_EQ(email_refusal(email(1), 100, bare), "");
  EXPECT_EQ(email_refusal(email(2), 100, bare),
            "2 recipients (to, cc and bcc together), but plugin throwing_factory declares max_recipients 1");
  EXPECT_EQ(email_refusal(attached, 100, bare),
            "attachments (a.pdf): plugin throwing_factory does not declare the capability attachments");
  EXPECT_EQ(email_refusal(email(1), mailroom::providers::kDefaultMaxMessageBytes + 1, bare),
            "the encoded message is 26214401 bytes, but plugin throwing_factory declares no max_message_bytes and the "
            "host's limit is 26214400");
}

TEST_F(Providers, CallsArePacedToRequestsPerSecondAcrossThreadsAndProviders) {
  // fake_paced_email declares requests_per_second 20: 41 sends from 4 threads, through two
  // provider objects of one configuration, take at least 2 s, whatever the threads do.
  mailroom::db::EmailConfiguration row;
  row.id = "00000000-0000-4000-8000-00000000000a";
  row.provider = "fake_paced_email";
  row.from_address = "a@example.com";
  auto first = mailroom::providers::make_email_provider(row, *plugins_, box_);
  auto second = mailroom::providers::make_email_provider(row, *plugins_, box_);
  constexpr int kCalls = 41;
  std::atomic<int> next{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      auto& provider = t % 2 == 0 ? first : second;
      while (next.fetch_add(1) < kCalls) {
        auto e = email(1);
        e.id = "e" + std::to_string(t);
        provider->send(e);
      }
    });
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("pacing: %d calls in %.3f s = %.1f calls/s (declared 20)\n", kCalls, seconds, kCalls / seconds);
  EXPECT_GE(seconds, (kCalls - 1) / 20.0) << "faster than the plugin declares";
  // verify() reaches the provider too and is paced with the same configuration's sends.
  const auto before = std::chrono::steady_clock::now();
  first->verify();
  second->verify();
  EXPECT_GE(std::chrono::duration<double>(std::chrono::steady_clock::now() - before).count(), 0.049);
}

TEST_F(Providers, APluginThatIsMissingDisabledOrOfTheOtherKindIsNamed) {
  mailroom::db::EmailConfiguration row;
  row.id = "00000000-0000-4000-8000-00000000000b";
  row.provider = "mailgun";
  try {
    mailroom::providers::make_email_provider(row, *plugins_, box_);
    FAIL();
  } catch (const mailroom::ProviderError& e) {
    EXPECT_EQ(e.info().message, "no email plugin 'mailgun' is installed (see `mailroom plugins list`)");
  }
  row.provider = "test_dns";
  try {
    mailroom::providers::make_email_provider(row, *plugins_, box_);
    FAIL();
  } catch (const mailroom::ProviderError& e) {
    EXPECT_EQ(e.info().message, "plugin 'test_dns' is a dns plugin, not an email plugin");
  }
}

}  // namespace
