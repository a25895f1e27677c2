// hello_email: the smallest useful email plugin. It "delivers" each email by writing one
// line to the host's log, and shows every part a real plugin has: a provider class, its
// manifest (configuration schema, secrets, capabilities) and the export macro.
#include <mailroom/plugin.hpp>

#include <atomic>

namespace {

class HelloEmail final : public mailroom::EmailProvider {
 public:
  // The context outlives this object; keep a reference to what you need.
  explicit HelloEmail(mailroom::PluginContext& context)
      : context_(context), prefix_(context.config.value("prefix", std::string("hello"))) {}

  mailroom::SendReceipt send(const mailroom::OutgoingEmail& email) override {
    if (email.envelope.rcpt_to.empty())
      throw mailroom::ProviderError(mailroom::ErrorKind::invalid_request, "no_recipients",
                                    "the envelope has no recipients");
    // What reaches a header must not start another one (the conformance suite checks this).
    if (email.message.subject.find_first_of("\r\n") != std::string::npos)
      throw mailroom::ProviderError(mailroom::ErrorKind::invalid_request, "bad_subject",
                                    "the subject contains a line break");
    const std::string id = prefix_ + "-" + std::to_string(++sent_);
    context_.log.info(id + ": '" + email.message.subject + "' from " + email.envelope.mail_from +
                      " to " + std::to_string(email.envelope.rcpt_to.size()) + " recipient(s)");
    return {id};
  }

  mailroom::VerifyReport verify() override {
    // A real plugin calls its provider here; hello_email needs its token to be set.
    if (context_.secrets.count("token") == 0)
      throw mailroom::ProviderError(mailroom::ErrorKind::auth, "missing_token", "secret 'token' is not set");
    return {};
  }

 private:
  mailroom::PluginContext& context_;
  std::string prefix_;
  std::atomic<unsigned> sent_{0};
};

}  // namespace

MAILROOM_EMAIL_PLUGIN(HelloEmail, R"json({
  "name": "hello_email",
  "version": "1.0.0",
  "description": "Example plugin: writes each email to the log",
  "config_schema": {
    "type": "object",
    "additionalProperties": false,
    "properties": {
      "prefix": { "type": "string", "pattern": "^[a-z]+$", "description": "message id prefix" }
    }
  },
  "secrets": ["token"],
  "capabilities": { "max_recipients": 100, "max_message_bytes": 1048576 }
})json")
