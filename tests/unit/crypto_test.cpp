#include "crypto.hpp"

#include "error_of.hpp"

#include <gtest/gtest.h>

namespace {

using mailroom::crypto::associated_data;
using mailroom::crypto::CryptoError;
using mailroom::crypto::generate_key_entry;
using mailroom::crypto::KeyRing;
using mailroom::crypto::SecretBox;

const std::string kRowA = "6f1d1c4e-0000-4000-8000-00000000000a";
const std::string kRowB = "6f1d1c4e-0000-4000-8000-00000000000b";

TEST(SecretBox, SealsAndOpens) {
  SecretBox box(KeyRing::parse(generate_key_entry("k1"), "test"));
  const auto ad = associated_data("email_configurations", "smtp_password_encrypted", kRowA);
  const auto sealed = box.seal("hunter2", ad);
  EXPECT_EQ(sealed.rfind("v1:k1:", 0), 0u);
  EXPECT_EQ(sealed.find("hunter2"), std::string::npos);
  EXPECT_EQ(box.open(sealed, ad), "hunter2");
  EXPECT_NE(box.seal("hunter2", ad), sealed) << "each value needs a fresh nonce";
  EXPECT_EQ(box.open(box.seal("", ad), ad), "");
}

TEST(SecretBox, MovedToAnotherRowOrColumnFailsToOpen) {
  SecretBox box(KeyRing::parse(generate_key_entry("k1"), "test"));
  const auto sealed = box.seal("hunter2", associated_data("email_configurations", "smtp_password_encrypted", kRowA));
  const std::string expected =
      "an encrypted value under key 'k1' failed authentication: it was altered, or belongs to another row or column";
  EXPECT_EQ(error_of<CryptoError>([&] { box.open(sealed, associated_data("email_configurations", "smtp_password_encrypted", kRowB)); }),
            expected);
  EXPECT_EQ(error_of<CryptoError>([&] { box.open(sealed, associated_data("email_configurations", "secrets_encrypted", kRowA)); }),
            expected);
}

TEST(SecretBox, EveryFlippedByteFailsToOpen) {
  SecretBox box(KeyRing::parse(generate_key_entry("k1"), "test"));
  const auto ad = associated_data("t", "c", kRowA);
  const auto sealed = box.seal("a secret of some length", ad);
  const std::size_t body = std::string("v1:k1:").size();
  for (std::size_t i = body; i < sealed.size(); ++i) {
    std::string tampered = sealed;
    tampered[i] = tampered[i] == 'A' ? 'B' : 'A';
    EXPECT_THROW(box.open(tampered, ad), CryptoError) << "byte " << i;
  }
}

TEST(SecretBox, UnknownKeyAndMalformedValuesAreNamed) {
  SecretBox old_box(KeyRing::parse(generate_key_entry("old"), "test"));
  SecretBox box(KeyRing::parse(generate_key_entry("k1") + "\n" + generate_key_entry("k2"), "test"));
  const auto ad = associated_data("t", "c", kRowA);
  EXPECT_EQ(error_of<CryptoError>([&] { box.open(old_box.seal("x", ad), ad); }),
            "sealed under key 'old', which is not in the key ring (loaded: k1, k2)");
  EXPECT_EQ(error_of<CryptoError>([&] { box.open("plaintext", ad); }), "not an encrypted value (expected v1:<key id>:<base64>)");
  EXPECT_EQ(error_of<CryptoError>([&] { box.open("v1:k1:!!!!", ad); }), "malformed encrypted value under key 'k1'");
  EXPECT_EQ(box.seal("x", ad).rfind("v1:k2:", 0), 0u) << "new values use the newest key";
}

TEST(KeyRing, ParseErrorsNameTheEntryNeverTheKey) {
  EXPECT_EQ(error_of<CryptoError>([] { KeyRing::parse("", "MAILROOM_MASTER_KEY"); }), "MAILROOM_MASTER_KEY: no key");
  EXPECT_EQ(error_of<CryptoError>([] { KeyRing::parse("# only a comment, really\n", "f"); }), "f: no key");
  EXPECT_EQ(error_of<CryptoError>([] { KeyRing::parse("k1 c2VjcmV0", "MAILROOM_MASTER_KEY"); }),
            "MAILROOM_MASTER_KEY, key 1: expected <id>:<base64 of 32 bytes> (make one with `mailroom keys generate`)");
  EXPECT_EQ(error_of<CryptoError>([] { KeyRing::parse("k1:c2VjcmV0LXRvby1zaG9ydA==", "f"); }),
            "f, key 1 ('k1'): the key must be 32 bytes in canonical base64");
  const auto k = generate_key_entry("k1");
  EXPECT_EQ(error_of<CryptoError>([&] { KeyRing::parse(k + "," + k, "f"); }), "key id 'k1' appears twice");
  EXPECT_EQ(error_of<CryptoError>([&] { KeyRing::parse("bad id:" + k.substr(3), "f"); }), "f, key 1: key id must be 1-32 of A-Z a-z 0-9 _ -");
  EXPECT_EQ(KeyRing::parse("# keys, newest last\n" + generate_key_entry("a") + ", " + generate_key_entry("b") + "\n", "f").ids(),
            (std::vector<std::string>{"a", "b"}));
}

}  // namespace
