// Loads fine; its provider's constructor throws.
#include <mailroom/plugin.hpp>

#include <stdexcept>

class ThrowingEmail final : public mailroom::EmailProvider {
 public:
  explicit ThrowingEmail(mailroom::PluginContext&) {
    throw std::runtime_error("cannot reach the moon");
  }
  mailroom::SendReceipt send(const mailroom::OutgoingEmail&) override { return {}; }
  mailroom::VerifyReport verify() override { return {}; }
};

MAILROOM_EMAIL_PLUGIN(ThrowingEmail, R"json({"name": "throwing_factory", "version": "1",
  "description": "factory throws", "config_schema": true})json")
