// The signature tests/plugins/fake_email.cpp checks on its webhooks:
// "sha256=<hex HMAC-SHA256(webhook_secret, body)>".
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

namespace mailroom::testing {

inline std::string fake_email_signature(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(body.data()),
       body.size(), mac, &n);
  std::string out = "sha256=";
  static const char* hex = "0123456789abcdef";
  for (unsigned int i = 0; i < n; ++i) out += {hex[mac[i] >> 4], hex[mac[i] & 15]};
  return out;
}

}  // namespace mailroom::testing
