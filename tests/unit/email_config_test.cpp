#include "email_config.hpp"

#include "error_of.hpp"

#include <gtest/gtest.h>

namespace {

using mailroom::email_config::apply;
using mailroom::email_config::Input;
using mailroom::email_config::InputError;
using mailroom::email_config::parse_dsn;

TEST(Dsn, Smtp) {
  const auto in = parse_dsn("smtp://ada:p%40ss@relay.example:2525");
  EXPECT_EQ(in.provider, "smtp_relay");
  EXPECT_EQ(in.host, "relay.example");
  EXPECT_EQ(in.port, 2525);
  EXPECT_EQ(in.username, "ada");
  EXPECT_EQ(in.secret, "p@ss");
  EXPECT_TRUE(in.secret_from_dsn);
  EXPECT_EQ(in.tls, "starttls");
  EXPECT_EQ(parse_dsn("smtp://relay.example").port, 587);
  const auto tls = parse_dsn("smtps://ada@relay.example");
  EXPECT_EQ(tls.port, 465);
  EXPECT_EQ(tls.tls, "implicit");
  EXPECT_FALSE(tls.secret.has_value());
}

TEST(Dsn, SendGrid) {
  const auto in = parse_dsn("sendgrid+api://SG.key@default");
  EXPECT_EQ(in.provider, "sendgrid");
  EXPECT_EQ(in.secret, "SG.key");
}

TEST(Dsn, ErrorsNeverQuoteTheDsn) {
  EXPECT_EQ(error_of<InputError>([] { parse_dsn("mailgun://secretkey@default"); }), "unknown DSN scheme 'mailgun' (smtp, smtps, sendgrid+api)");
  EXPECT_EQ(error_of<InputError>([] { parse_dsn("not a url secretkey"); }),
            "the DSN is not a URL of the form scheme://user:password@host:port");
  EXPECT_EQ(error_of<InputError>([] { parse_dsn("smtp://user:secretkey@"); }), "the DSN names no host (smtp://user@relay.example:587)");
  EXPECT_EQ(error_of<InputError>([] { parse_dsn("sendgrid+api://@default"); }), "the DSN carries no API key (sendgrid+api://KEY@default)");
}

class Apply : public ::testing::Test {
 protected:
  mailroom::crypto::SecretBox box_{mailroom::crypto::KeyRing::parse(mailroom::crypto::generate_key_entry("k1"), "t")};
  mailroom::db::EmailConfiguration row_;
  void SetUp() override { row_.id = "00000000-0000-4000-8000-000000000001"; }
};

TEST_F(Apply, ChecksEachProvidersNeeds) {
  Input in;
  in.provider = "smtp_relay";
  in.from_address = "a@example.com";
  EXPECT_EQ(error_of<InputError>([&] { apply(in, row_, box_, true); }), "smtp_relay needs a host (host, or a smtp:// DSN)");
  in.host = "relay.example";
  in.username = "ada";
  EXPECT_EQ(error_of<InputError>([&] { apply(in, row_, box_, true); }),
            "smtp_relay with a username needs a password (the secret)");
  in.secret = "pw";
  apply(in, row_, box_, true);
  EXPECT_EQ(row_.smtp_port, 587);
  EXPECT_EQ(row_.settings["tls"], "starttls");
  EXPECT_EQ(mailroom::email_config::open_secrets(row_, box_).at("password"), "pw");
  EXPECT_EQ(mailroom::email_config::view(row_).dump().find("pw\""), std::string::npos);

  Input sg;
  sg.provider = "sendgrid";
  sg.from_address = "nope";
  mailroom::db::EmailConfiguration other;
  other.id = row_.id;
  EXPECT_EQ(error_of<InputError>([&] { apply(sg, other, box_, true); }), "from: 'nope' is not an email address");
  sg.from_address = "a@example.com";
  EXPECT_EQ(error_of<InputError>([&] { apply(sg, other, box_, true); }),
            "sendgrid needs an API key (the secret, or a sendgrid+api:// DSN)");

  Input google;
  google.provider = "google_workspace";
  google.from_address = "a@example.com";
  google.google_auth = "service_account";
  google.secret = R"({"client_email": "x@y.iam.gserviceaccount.com"})";
  EXPECT_EQ(error_of<InputError>([&] { apply(google, other, box_, true); }), "the service account key lacks client_email or private_key");
}

TEST_F(Apply, UpdateKeepsWhatIsNotGivenAndProviderCannotChange) {
  Input in = parse_dsn("smtp://ada@relay.example:25");
  in.from_address = "a@example.com";
  in.secret = "pw";
  apply(in, row_, box_, true);
  Input change;
  change.port = 2525;
  apply(change, row_, box_, false);
  EXPECT_EQ(row_.smtp_host, "relay.example");
  EXPECT_EQ(row_.smtp_port, 2525);
  EXPECT_EQ(row_.from_address, "a@example.com");
  Input other;
  other.provider = "sendgrid";
  EXPECT_EQ(error_of<InputError>([&] { apply(other, row_, box_, false); }),
            "provider cannot change (smtp_relay); remove the configuration and add a new one");
}

}  // namespace

namespace {

TEST_F(Apply, HeaderAndCommandFieldsMustBeOneLine) {
  Input in = parse_dsn("smtp://relay.example:25");
  in.from_address = "a@example.com";
  in.from_name = "Ada\r\nBcc: victim@example.com";
  EXPECT_EQ(error_of<InputError>([&] { apply(in, row_, box_, true); }),
            "from_name contains a control character (13); it must be one line of text");
  in.from_name = "Ada";
  in.host = "relay.example\r\nRCPT TO:<x@example.com>";
  EXPECT_EQ(error_of<InputError>([&] { apply(in, row_, box_, true); }),
            "host contains a control character (13); it must be one line of text");
}

TEST(EmailAddress, LocalPartAndLabelsHaveTheirRfcLimits) {
  using mailroom::email_config::is_email_address;
  EXPECT_TRUE(is_email_address(std::string(64, 'a') + "@example.com"));
  EXPECT_FALSE(is_email_address(std::string(65, 'a') + "@example.com"));
  EXPECT_TRUE(is_email_address("a@" + std::string(63, 'b') + ".com"));
  EXPECT_FALSE(is_email_address("a@" + std::string(64, 'b') + ".com"));
  EXPECT_FALSE(is_email_address(std::string("a\0b@example.com", 15)));
  EXPECT_FALSE(is_email_address("a\x7f@example.com"));
}

}  // namespace
