// SendGrid Event Webhook requests through the host's plugin guard into the sendgrid plugin's
// parse_webhook. The first line of the input is the signature header, the rest the body; when
// the input's first byte is even the body is signed with the test key instead (the key of
// SendGrid's SDK tests), so the event parser behind the check is reached too. Whatever comes
// in, the host sees events or a ProviderError, never another exception.
#include "plugin_host.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <cstring>

namespace {

// shared/specs/sendgrid/event-webhook-signature-vectors.json, legacy_private_key.
constexpr const char* kPrivateKey =
    "MHcCAQEEIEQmZgBEh9DcU9zMl34czK3xov4AYvm9P3r7rNB2dNXtoAoGCCqGSM49AwEHoUQDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==";
constexpr const char* kPublicKey =
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==";
constexpr const char* kTimestamp = "1700000000";

class Fixed final : public mailroom::Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  }
};

std::shared_ptr<mailroom::EmailProvider> provider() {
  static mailroom::plugin_host::PluginHost host;
  static Fixed clock;
  static std::shared_ptr<mailroom::EmailProvider> p = [] {
    host.load_directory(MAILROOM_PLUGIN_DIR, {"sendgrid"});
    mailroom::plugin_host::ProviderSettings settings;
    settings.config = {{"webhook_public_key", kPublicKey}};
    settings.secrets = {{"api_key", "SG.fuzz"}};
    settings.clock = &clock;
    settings.log_sink = [](mailroom::LogLevel, std::string_view) {};
    return host.create_email_provider("sendgrid", settings);
  }();
  return p;
}

std::string sign(const std::string& body) {
  static EVP_PKEY* key = [] {
    unsigned char der[256];
    const int n = EVP_DecodeBlock(der, reinterpret_cast<const unsigned char*>(kPrivateKey), static_cast<int>(std::strlen(kPrivateKey)));
    const unsigned char* p = der;
    return d2i_PrivateKey(EVP_PKEY_EC, nullptr, &p, n - 2);  // two '=' of padding
  }();
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  const std::string message = kTimestamp + body;
  unsigned char signature[128];
  std::size_t length = sizeof signature;
  EVP_DigestSignInit(context, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(context, signature, &length, reinterpret_cast<const unsigned char*>(message.data()), message.size());
  EVP_MD_CTX_free(context);
  std::string out(4 * ((length + 2) / 3) + 1, '\0');
  out.resize(static_cast<std::size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), signature, static_cast<int>(length))));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto line = input.find('\n');
  mailroom::HttpRequest request;
  request.method = "POST";
  request.target = "/v1/webhooks/x";
  request.body = line == std::string::npos ? input : input.substr(line + 1);
  const std::string signature = size > 0 && data[0] % 2 == 0 ? sign(request.body) : input.substr(0, line);
  request.headers.add("X-Twilio-Email-Event-Webhook-Signature", signature);
  request.headers.add("X-Twilio-Email-Event-Webhook-Timestamp", kTimestamp);
  try {
    (void)provider()->parse_webhook(request);
  } catch (const mailroom::ProviderError&) {
  }
  return 0;
}
