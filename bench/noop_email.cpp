// The benchmark's email plugin: accepts every email at once, so a drain measures the
// queue (claims, outcome writes, delivery logs) and not a provider.
#include <mailroom/plugin.hpp>

namespace {

class NoopEmail final : public mailroom::EmailProvider {
 public:
  explicit NoopEmail(mailroom::PluginContext&) {}
  mailroom::SendReceipt send(const mailroom::OutgoingEmail& email) override { return {"noop-" + email.id}; }
  mailroom::VerifyReport verify() override { return {}; }
};

}  // namespace

MAILROOM_EMAIL_PLUGIN(NoopEmail, R"json({
  "name": "noop_email",
  "version": "1.0.0",
  "description": "Benchmark plugin: accepts every email immediately",
  "config_schema": true,
  "capabilities": { "max_recipients": 1000 }
})json")
