// smtp_relay passes the SDK's email conformance suite against a real SMTP server.
#include "smtp_server.hpp"

#include <mailroom/testkit/email_conformance.hpp>

namespace {

class SmtpRelayConformance : public mailroom::testkit::EmailConformance {
 protected:
  std::shared_ptr<mailroom::EmailProvider> make_provider() override {
    return plugin_.create({{"host", "127.0.0.1"},
                           {"port", server_.port()},
                           {"username", "ada"},
                           {"ca_file", (mailroom::testing::certificate_dir() / "cert.pem").string()}},
                          {{"password", "conf-pw"}});
  }
  void expect_delivered(const mailroom::OutgoingEmail&, const mailroom::SendReceipt& receipt) override {
    bool found = false;
    for (const auto& m : server_.messages()) found = found || m.stem() == receipt.provider_message_id;
    EXPECT_TRUE(found) << "no message " << receipt.provider_message_id << " on the server";
  }

  mailroom::testing::SmtpServer server_{{"--cert", (mailroom::testing::certificate_dir() / "cert.pem").string(), "--key",
                                         (mailroom::testing::certificate_dir() / "key.pem").string(), "--require-tls",
                                         "--auth", "ada:conf-pw"}};
  mailroom::testkit::LoadedEmailPlugin plugin_{MAILROOM_PLUGIN_DIR "/smtp_relay.so"};
};

MAILROOM_EMAIL_CONFORMANCE_TESTS(SmtpRelayConformance)

}  // namespace
