// Webhook bodies through the host's plugin guard into a plugin's parse_webhook (fake_email,
// the in-tree plugin that receives them): signed with the right key when the input's first
// byte is even, so the parser behind the signature check is reached too. Whatever the body,
// the host sees events or a ProviderError, never another exception.
#include "plugin_host.hpp"

#include <openssl/hmac.h>

#include <cstdlib>

namespace {

std::shared_ptr<mailroom::EmailProvider> provider() {
  static mailroom::plugin_host::PluginHost host;
  static std::shared_ptr<mailroom::EmailProvider> p = [] {
    host.load_directory(MAILROOM_PLUGIN_DIR, {"fake_email"});
    mailroom::plugin_host::ProviderSettings settings;
    settings.config = {{"webhook_secret", "fuzz-secret"}};
    settings.log_sink = [](mailroom::LogLevel, std::string_view) {};
    return host.create_email_provider("fake_email", settings);
  }();
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mailroom::HttpRequest request;
  request.method = "POST";
  request.target = "/v1/webhooks/x";
  request.body.assign(reinterpret_cast<const char*>(data), size);
  if (size > 0 && data[0] % 2 == 0) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), "fuzz-secret", 11, data, size, mac, &length);
    std::string signature = "sha256=";
    static const char* hex = "0123456789abcdef";
    for (unsigned int i = 0; i < length; ++i) signature += {hex[mac[i] >> 4], hex[mac[i] & 15]};
    request.headers.add("X-Fake-Signature", signature);
  }
  try {
    (void)provider()->parse_webhook(request);
  } catch (const mailroom::ProviderError&) {
  }
  return 0;
}
