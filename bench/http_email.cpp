// The benchmark's HTTP email plugin: one JSON request per email to an API (the benchmark's
// own server, which answers after the provider's latency), through the SDK's HttpClient,
// as an HTTP provider plugin sends. It declares the window of an HTTP API (64 requests in
// flight) and no request rate, so what is measured is the host's window.
#include <mailroom/plugin.hpp>

#include <nlohmann/json.hpp>

namespace {

class HttpEmail final : public mailroom::EmailProvider {
 public:
  explicit HttpEmail(mailroom::PluginContext& context) : context_(context) {}

  mailroom::SendReceipt send(const mailroom::OutgoingEmail& email) override {
    mailroom::HttpRequest request;
    request.method = "POST";
    request.target = "/v1/send";
    request.headers.add("Content-Type", "application/json");
    request.body = nlohmann::json{{"id", email.id},
                                  {"from", email.envelope.mail_from},
                                  {"to", email.envelope.rcpt_to},
                                  {"subject", email.message.subject},
                                  {"text", email.message.text_body}}
                       .dump();
    const auto response = context_.http.send(request);
    if (response.status != 202)
      throw mailroom::ProviderError(mailroom::ErrorKind::transient, std::to_string(response.status), response.body);
    return {"http-" + email.id};
  }
  mailroom::VerifyReport verify() override { return {}; }

 private:
  mailroom::PluginContext& context_;
};

}  // namespace

MAILROOM_EMAIL_PLUGIN(HttpEmail, R"json({
  "name": "http_email",
  "version": "1.0.0",
  "description": "Benchmark plugin: one JSON POST per email to base_url",
  "config_schema": { "type": "object", "required": ["base_url"],
                     "properties": { "base_url": { "type": "string" } } },
  "capabilities": { "max_recipients": 1000, "sends_in_flight": 64 }
})json")
