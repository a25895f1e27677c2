#include "event_webhook.hpp"

#include <mailroom/error.hpp>

#include <nlohmann/json.hpp>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>

namespace sendgrid {
namespace {

using mailroom::DeliveryEvent;
using mailroom::DeliveryEventType;
using mailroom::ErrorKind;
using mailroom::ProviderError;
using nlohmann::json;

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// A field SendGrid sends as a string, or as a number in some events ("attempt", "asm_group_id").
std::string text_of(const json& event, const char* key) {
  const auto it = event.find(key);
  if (it == event.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

// "timestamp" is Unix seconds, a number in real deliveries and a string in some documented
// examples; anything else, or a time past 2100 (which a time_point in nanoseconds cannot hold
// for long: found by tests/fuzz), is "not given".
std::chrono::system_clock::time_point time_of(const json& event) {
  const auto it = event.find("timestamp");
  long long seconds = 0;
  if (it != event.end() && it->is_number_integer()) {
    seconds = it->get<long long>();
  } else if (it != event.end() && it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    if (std::from_chars(s.data(), s.data() + s.size(), seconds).ec != std::errc()) seconds = 0;
  }
  constexpr long long kYear2100 = 4102444800;
  if (seconds < 0 || seconds > kYear2100) seconds = 0;
  return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
}

// sg_message_id is the X-Message-Id the send returned, then ".filter..." / ".recvd-..." and
// more: the part before the first dot is what mailroom stored. (Ids of SendGrid's older format
// held dots themselves; those emails are still found by the mailroom_email_id argument.)
std::string message_id_of(const json& event) {
  const std::string id = text_of(event, "sg_message_id");
  return id.substr(0, id.find('.'));
}

}  // namespace

bool decode_base64_strict(std::string_view text, std::string& out) {
  out.clear();
  if (text.empty() || text.size() % 4 != 0) return false;
  const std::size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  std::uint32_t bits = 0;
  for (std::size_t i = 0; i < text.size() - padding; ++i) {
    const int v = base64_value(text[i]);
    if (v < 0) return false;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    if (i % 4 == 3) {
      out += static_cast<char>((bits >> 16) & 0xff);
      out += static_cast<char>((bits >> 8) & 0xff);
      out += static_cast<char>(bits & 0xff);
      bits = 0;
    }
  }
  // The last group: 2 or 3 characters before the padding, and the bits past the last whole
  // byte must be zero (a canonical encoding).
  if (padding == 2) {
    if (bits & 0xf) return false;
    out += static_cast<char>((bits >> 4) & 0xff);
  } else if (padding == 1) {
    if (bits & 0x3) return false;
    out += static_cast<char>((bits >> 10) & 0xff);
    out += static_cast<char>((bits >> 2) & 0xff);
  }
  return true;
}

PublicKey::PublicKey(const std::string& base64_der) {
  std::string der;
  if (!decode_base64_strict(base64_der, der))
    throw ProviderError(ErrorKind::invalid_request, "webhook_public_key",
                        "webhook_public_key is not base64: paste the key SendGrid shows under Settings > Mail Settings > "
                        "Event Webhook > Signature Verification");
  const auto* bytes = reinterpret_cast<const unsigned char*>(der.data());
  key_.reset(d2i_PUBKEY(nullptr, &bytes, static_cast<long>(der.size())));
  char group[64] = {};
  std::size_t group_length = 0;
  if (!key_ || bytes != reinterpret_cast<const unsigned char*>(der.data()) + der.size() ||
      EVP_PKEY_get_base_id(key_.get()) != EVP_PKEY_EC ||
      EVP_PKEY_get_utf8_string_param(key_.get(), "group", group, sizeof group, &group_length) != 1 ||
      std::string_view(group, group_length) != "prime256v1")
    throw ProviderError(ErrorKind::invalid_request, "webhook_public_key",
                        "webhook_public_key is not a P-256 (ECDSA) public key in DER SubjectPublicKeyInfo form, as "
                        "SendGrid shows it");
}

bool PublicKey::verifies(std::string_view signature_base64, std::string_view timestamp, std::string_view body) const {
  std::string signature;
  if (!decode_base64_strict(signature_base64, signature)) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  return context && EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key_.get()) == 1 &&
         EVP_DigestVerifyUpdate(context.get(), timestamp.data(), timestamp.size()) == 1 &&
         EVP_DigestVerifyUpdate(context.get(), body.data(), body.size()) == 1 &&
         EVP_DigestVerifyFinal(context.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                               signature.size()) == 1;
}

std::vector<DeliveryEvent> parse_events(std::string_view body) {
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_object()) parsed = json::array({std::move(parsed)});
  if (!parsed.is_array())
    throw ProviderError(ErrorKind::invalid_request, "body", "the Event Webhook body is not a JSON array of events");
  std::vector<DeliveryEvent> out;
  for (const auto& e : parsed) {
    if (!e.is_object()) throw ProviderError(ErrorKind::invalid_request, "body", "an event of the batch is not an object");
    std::string name = text_of(e, "event");
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    DeliveryEvent event;
    if (name == "processed") {
      event.type = DeliveryEventType::accepted;
    } else if (name == "delivered") {
      event.type = DeliveryEventType::delivered;
    } else if (name == "deferred") {
      event.type = DeliveryEventType::deferred;
      event.reason = text_of(e, "response");
    } else if (name == "bounce") {
      event.type = DeliveryEventType::bounced;
      // type "bounce": the receiving server refused for good; "blocked": for now.
      event.bounce_type = text_of(e, "type") == "blocked" ? "soft" : "hard";
      event.reason = text_of(e, "reason");
    } else if (name == "dropped") {
      event.type = DeliveryEventType::dropped;
      event.reason = text_of(e, "reason");
    } else if (name == "open") {
      event.type = DeliveryEventType::opened;
    } else if (name == "click") {
      event.type = DeliveryEventType::clicked;
      event.url = text_of(e, "url");
    } else if (name == "spamreport") {
      event.type = DeliveryEventType::complained;
    } else if (name == "unsubscribe") {
      event.type = DeliveryEventType::unsubscribed;
    } else if (name == "group_unsubscribe") {
      event.type = DeliveryEventType::unsubscribed;
      event.group = text_of(e, "asm_group_id");
      if (event.group.empty()) event.group = "unknown";
    } else {
      continue;  // group_resubscribe, test events, types SendGrid adds later
    }
    event.email_id = text_of(e, kEmailIdArgument.data());
    event.provider_message_id = message_id_of(e);
    event.provider_event_id = text_of(e, "sg_event_id");
    event.recipient = text_of(e, "email");
    event.occurred_at = time_of(e);
    out.push_back(std::move(event));
  }
  return out;
}

}  // namespace sendgrid
