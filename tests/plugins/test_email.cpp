// A well-behaved email plugin for the host's tests. What send() does depends on the
// subject, so one plugin can show every outcome the host must handle.
#include <mailroom/plugin.hpp>

#include <stdexcept>

namespace {

class TestEmail final : public mailroom::EmailProvider {
 public:
  explicit TestEmail(mailroom::PluginContext& context) : context_(context) {
    context_.log.info("created with api_key " + secret());
  }

  mailroom::SendReceipt send(const mailroom::OutgoingEmail& email) override {
    const auto& subject = email.message.subject;
    if (subject == "throw logic_error")
      throw std::logic_error("bug while holding " + secret());
    if (subject == "throw int") throw 42;
    if (subject == "rate limit")
      throw mailroom::ProviderError(mailroom::ErrorKind::rate_limited, "429",
                                    "slow down, key " + secret(), std::chrono::seconds(7));
    context_.log.info("sending " + email.id + " with key " + secret());
    return {context_.config.at("greeting").get<std::string>() + ":" + email.id + ":" +
            std::to_string(email.envelope.rcpt_to.size())};
  }

  mailroom::VerifyReport verify() override {
    if (secret().empty())
      throw mailroom::ProviderError(mailroom::ErrorKind::auth, "no_key", "api_key is not set");
    return {};
  }

  std::vector<mailroom::RecordSpec> dns_requirements(const std::string& domain) override {
    return {{mailroom::RecordType::SPF, domain, "include:_spf.test.example", 3600, std::nullopt}};
  }

 private:
  std::string secret() const {
    auto it = context_.secrets.find("api_key");
    return it == context_.secrets.end() ? std::string() : it->second;
  }
  mailroom::PluginContext& context_;
};

}  // namespace

MAILROOM_EMAIL_PLUGIN(TestEmail, R"json({
  "name": "test_email",
  "version": "1.2.3",
  "description": "Test email provider: outcome chosen by the subject",
  "config_schema": {
    "type": "object",
    "required": ["greeting"],
    "additionalProperties": false,
    "properties": {
      "greeting": { "type": "string", "minLength": 1 },
      "port": { "type": "integer", "minimum": 1, "maximum": 65535 },
      "base_url": { "type": "string" }
    }
  },
  "secrets": ["api_key"],
  "endpoint": "https://api.test.example",
  "capabilities": { "max_recipients": 50, "max_message_bytes": 1048576, "attachments": true,
                    "webhooks": false, "quota": "none" }
})json")
