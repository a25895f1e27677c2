// SendGrid's Signed Event Webhook: the signature check and the events' mapping, apart from
// the sending side so that each can be read (and tested) on its own.
#pragma once

#include <mailroom/email_provider.hpp>

#include <openssl/evp.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sendgrid {

// The custom argument that carries mailroom's email id through SendGrid into every event.
inline constexpr std::string_view kEmailIdArgument = "mailroom_email_id";

inline constexpr std::string_view kSignatureHeader = "X-Twilio-Email-Event-Webhook-Signature";
inline constexpr std::string_view kTimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp";

// Strict base64 (RFC 4648 section 4, padded, nothing after the padding, no whitespace).
// Returns false on anything else. Written here because OpenSSL's decoders are lenient in the
// way that matters: EVP_DecodeBlock ignores what follows the padding, and SendGrid's own SDK
// tests carry a signature with junk after it that must not verify.
bool decode_base64_strict(std::string_view text, std::string& out);

// The webhook's public key: base64 of a DER SubjectPublicKeyInfo holding a P-256 key, as
// SendGrid shows it. Throws ProviderError{invalid_request} naming what is wrong.
class PublicKey {
 public:
  explicit PublicKey(const std::string& base64_der);
  // ECDSA P-256 / SHA-256 over timestamp + body, the raw bytes as received; the signature is
  // base64 (strict) of an ASN.1 DER SEQUENCE{r, s}.
  bool verifies(std::string_view signature_base64, std::string_view timestamp, std::string_view body) const;

 private:
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_{nullptr, EVP_PKEY_free};
};

// The events of one verified request body: a JSON array of events (or, as SendGrid's test
// button and older deliveries send, a single event object). Events of types mailroom does not
// map (group_resubscribe, anything new) are skipped. Throws ProviderError{invalid_request}
// when the body is not JSON of that shape.
std::vector<mailroom::DeliveryEvent> parse_events(std::string_view body);

}  // namespace sendgrid
