// DKIM signing (RFC 6376), relaxed/relaxed canonicalisation, rsa-sha256 or ed25519-sha256
// (RFC 8463) chosen by the key. For plugins that send raw messages.
#pragma once

#include <mailroom/sdk_export.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace mailroom::dkim {

struct SigningKey {
  std::string domain;           // d=, e.g. "example.com"
  std::string selector;         // s=, e.g. "mail2026"
  std::string private_key_pem;  // RSA (2048 bits or more recommended) or Ed25519, PEM (PKCS#8 or PKCS#1)
  // h=: the fields signed when present (From always). Lower case.
  // List-Unsubscribe and List-Unsubscribe-Post: RFC 8058 3.3 wants one-click unsubscription signed.
  std::vector<std::string> headers = {"from", "to", "cc", "reply-to", "subject", "date", "message-id",
                                      "in-reply-to", "references", "list-unsubscribe", "list-unsubscribe-post",
                                      "mime-version", "content-type", "content-transfer-encoding"};
};

// The "DKIM-Signature: ..." header field (folded, CRLF-terminated) to put in front of
// `message` (headers, blank line, body; CRLF line ends). Throws ProviderError{invalid_request}
// when the key cannot be read, names an unsupported algorithm, or the message has no From.
MAILROOM_SDK_EXPORT std::string sign(std::string_view message, const SigningKey& key,
                                     std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// The relaxed body canonicalisation and its base64 SHA-256 (bh=), exposed for tests.
MAILROOM_SDK_EXPORT std::string relaxed_body(std::string_view body);
MAILROOM_SDK_EXPORT std::string body_hash(std::string_view body);

// The DNS TXT value that publishes the key's public half: "v=DKIM1; k=rsa; p=..." or
// "v=DKIM1; k=ed25519; p=...".
MAILROOM_SDK_EXPORT std::string dns_record(const std::string& private_key_pem);

}  // namespace mailroom::dkim
