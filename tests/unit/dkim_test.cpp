// DKIM signatures made by the SDK, verified by dkimpy (tests/tools/verify_dkim.py), an
// independent verifier; body canonicalisation checked against RFC 8463's signed message.
#include <mailroom/dkim.hpp>
#include <mailroom/mime.hpp>

#include "process.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <unistd.h>

namespace {

using mailroom::testing::run;

std::string key_pem(const std::string& algorithm) {
  return run("openssl genpkey -algorithm " + algorithm + (algorithm == "RSA" ? " -pkeyopt rsa_keygen_bits:2048" : ""));
}

std::string verify(const std::string& message, const std::string& record) {
  const std::string file = "/tmp/mr-dkim-" + std::to_string(::getpid()) + ".eml";
  std::ofstream(file, std::ios::binary) << message;
  auto out = run(std::string("/usr/bin/python3 ") + MAILROOM_VERIFY_DKIM + " " + file + " " + mailroom::testing::shell_quote(record));
  std::remove(file.c_str());
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

mailroom::Message sample() {
  mailroom::Message m;
  m.from = {"ada@example.com", "Ada Lovelace"};
  m.to = {{"bob@example.com", "Bob"}};
  m.subject = "Grüße, signed";
  m.text_body = "Hello Bob,\n\nthis   message is   signed.  \n\n\n";
  m.html_body = "<p>Hello <b>Bob</b></p>";
  return m;
}

class Dkim : public ::testing::TestWithParam<const char*> {};

TEST_P(Dkim, DkimpyVerifiesOurSignature) {
  const std::string pem = key_pem(GetParam());
  ASSERT_NE(pem.find("PRIVATE KEY"), std::string::npos) << pem;
  const auto message = mailroom::mime::build(sample()).data;
  const auto signature = mailroom::dkim::sign(message, {"example.com", "sel1", pem});
  EXPECT_NE(signature.find(std::string("a=") + (std::string(GetParam()) == "RSA" ? "rsa-sha256" : "ed25519-sha256")),
            std::string::npos);
  const std::string record = mailroom::dkim::dns_record(pem);
  EXPECT_EQ(verify(signature + message, record), "pass");
  // Any change to a signed header or the body breaks it.
  std::string tampered = signature + message;
  tampered.replace(tampered.find("signed."), 7, "forged.");
  EXPECT_EQ(verify(tampered, record), "fail");
  std::string other_subject = signature + message;
  other_subject.replace(other_subject.find("Subject: "), 9, "Subject: X");
  EXPECT_EQ(verify(other_subject, record), "fail");
  for (const auto& line : {signature})
    for (std::size_t start = 0, end; (end = line.find("\r\n", start)) != std::string::npos; start = end + 2)
      EXPECT_LE(end - start, 78u);
}

INSTANTIATE_TEST_SUITE_P(Keys, Dkim, ::testing::Values("RSA", "ED25519"));

TEST(DkimBodyHash, MatchesRfc8463Appendix) {
  std::ifstream in(MAILROOM_RFC8463_MESSAGE, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string message = buffer.str();
  const auto split = message.find("\r\n\r\n");
  ASSERT_NE(split, std::string::npos);
  const std::regex bh(R"(bh=([A-Za-z0-9+/=]+))");
  std::smatch m;
  const std::string headers = message.substr(0, split);
  ASSERT_TRUE(std::regex_search(headers, m, bh));
  EXPECT_EQ(mailroom::dkim::body_hash(message.substr(split + 4)), m[1].str());
}

TEST(DkimBodyHash, RelaxedRules) {
  EXPECT_EQ(mailroom::dkim::relaxed_body(""), "");
  EXPECT_EQ(mailroom::dkim::relaxed_body("\r\n\r\n"), "");
  EXPECT_EQ(mailroom::dkim::relaxed_body("a  \t b \r\n\r\nc\t\r\n\r\n\r\n"), "a b\r\n\r\nc\r\n");
  EXPECT_EQ(mailroom::dkim::relaxed_body("no newline"), "no newline\r\n");
}

TEST(DkimErrors, BadKeyAndMissingFrom) {
  EXPECT_THROW(mailroom::dkim::sign("From: a@b.c\r\n\r\nx", {"example.com", "s", "not a key"}), mailroom::ProviderError);
  const auto pem = key_pem("ED25519");
  EXPECT_THROW(mailroom::dkim::sign("To: a@b.c\r\n\r\nx", {"example.com", "s", pem}), mailroom::ProviderError);
}

}  // namespace
