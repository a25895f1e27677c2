// A test double for the queue: the subject picks the outcome, and every accepted email is
// appended to a record file, so tests can count what reached the "provider".
//   [transient]       always a transient failure
//   [transient-once]  a transient failure on the first attempt, then accepted
//   [rate-limit:N]    rate limited with Retry-After N seconds on the first attempt, then accepted
//   [permanent]       an invalid_request failure
//   [quota]           a quota failure (retry after 2 s) on the first attempt, then accepted
//   [hang:MS]         takes MS milliseconds, then accepted
// Config: record_file (path), state_dir (path, for the "first attempt" cases), delay_ms
// (every send takes that long). A record line is "ID IN_FLIGHT MESSAGE_ID MICROS": the
// email, how many sends of the same record file were in flight when it started (this one
// included), its Message-ID header, and when it was accepted (system clock, microseconds).
#include <mailroom/plugin.hpp>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

namespace {

class FakeEmail final : public mailroom::EmailProvider {
 public:
  explicit FakeEmail(mailroom::PluginContext& context)
      : record_file_(context.config.value("record_file", "")),
        state_dir_(context.config.value("state_dir", "")),
        delay_ms_(context.config.value("delay_ms", 0)),
        spf_(context.config.value("spf", "")),
        webhook_secret_(context.config.value("webhook_secret", "")) {}

  mailroom::SendReceipt send(const mailroom::OutgoingEmail& email) override {
    const InFlight counted(record_file_);
    return accept(email, counted.now);
  }

  // Counts the sends of one record file (one configuration, in tests) running at once.
  struct InFlight {
    explicit InFlight(std::string key) : key(std::move(key)) {
      std::lock_guard lock(mutex());
      now = ++counts()[this->key];
    }
    ~InFlight() {
      std::lock_guard lock(mutex());
      --counts()[key];
    }
    static std::mutex& mutex() {
      static std::mutex m;
      return m;
    }
    static std::map<std::string, int>& counts() {
      static std::map<std::string, int> c;
      return c;
    }
    std::string key;
    int now = 0;
  };

  mailroom::SendReceipt accept(const mailroom::OutgoingEmail& email, int in_flight) {
    using mailroom::ErrorKind;
    using mailroom::ProviderError;
    const auto& s = email.message.subject;
    if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
    std::smatch m;
    if (s.find("[transient]") != std::string::npos) throw ProviderError(ErrorKind::transient, "451", "try again later");
    if (s.find("[permanent]") != std::string::npos)
      throw ProviderError(ErrorKind::invalid_request, "550", "mailbox unavailable");
    if (s.find("[transient-once]") != std::string::npos && first_attempt(email.id))
      throw ProviderError(ErrorKind::transient, "421", "service not available");
    static const std::regex rate(R"(\[rate-limit:(\d+)\])");
    if (std::regex_search(s, m, rate) && first_attempt(email.id))
      throw ProviderError(ErrorKind::rate_limited, "429", "slow down", std::chrono::seconds(std::stoi(m[1])));
    if (s.find("[quota]") != std::string::npos && first_attempt(email.id))
      throw ProviderError(ErrorKind::quota, "dailyLimitExceeded", "quota used up", std::chrono::seconds(2));
    static const std::regex hang(R"(\[hang:(\d+)\])");
    if (std::regex_search(s, m, hang)) std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(m[1])));
    record(email.id + " " + std::to_string(in_flight) + " " +
           (email.message.message_id.empty() ? "-" : email.message.message_id) + " " +
           std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count()));
    return {"fake-" + email.id};
  }

  mailroom::VerifyReport verify() override { return {}; }

  // Events as {"events": [{type (DeliveryEventType's names), email_id, message_id, event_id,
  // recipient, bounce_type, reason, url, group}]},
  // signed with "X-Fake-Signature: sha256=<hex HMAC-SHA256(webhook_secret, body)>".
  std::vector<mailroom::DeliveryEvent> parse_webhook(const mailroom::HttpRequest& request) override {
    using mailroom::ErrorKind;
    using mailroom::ProviderError;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), webhook_secret_.data(), static_cast<int>(webhook_secret_.size()),
         reinterpret_cast<const unsigned char*>(request.body.data()), request.body.size(), mac, &length);
    std::string expected = "sha256=";
    static const char* hex = "0123456789abcdef";
    for (unsigned int i = 0; i < length; ++i) expected += {hex[mac[i] >> 4], hex[mac[i] & 15]};
    const auto given = request.headers.get("X-Fake-Signature").value_or("");
    if (webhook_secret_.empty() || given.size() != expected.size() ||
        CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0)
      throw ProviderError(ErrorKind::auth, "signature", "the webhook signature does not match");
    const auto body = nlohmann::json::parse(request.body, nullptr, false);
    if (!body.is_object() || !body.contains("events") || !body["events"].is_array())
      throw ProviderError(ErrorKind::invalid_request, "body", "expected {\"events\": [...]}");
    std::vector<mailroom::DeliveryEvent> out;
    for (const auto& e : body["events"]) {
      mailroom::DeliveryEvent event;
      const std::string type = e.value("type", "");
      using mailroom::DeliveryEventType;
      const auto known = {DeliveryEventType::accepted, DeliveryEventType::delivered,  DeliveryEventType::deferred,
                          DeliveryEventType::bounced,  DeliveryEventType::dropped,    DeliveryEventType::opened,
                          DeliveryEventType::clicked,  DeliveryEventType::complained, DeliveryEventType::unsubscribed};
      const auto found = std::find_if(known.begin(), known.end(), [&](auto t) { return mailroom::to_string(t) == type; });
      if (found == known.end()) throw ProviderError(ErrorKind::invalid_request, "type", "unknown event type '" + type + "'");
      event.type = *found;
      event.email_id = e.value("email_id", "");
      event.group = e.value("group", "");
      event.provider_message_id = e.value("message_id", "");
      event.provider_event_id = e.value("event_id", "");
      event.recipient = e.value("recipient", "");
      event.bounce_type = e.value("bounce_type", "");
      event.reason = e.value("reason", "");
      event.url = e.value("url", "");
      out.push_back(event);
    }
    return out;
  }

  std::vector<mailroom::RecordSpec> dns_requirements(const std::string& domain) override {
    if (spf_.empty()) return {};
    return {{mailroom::RecordType::SPF, domain, spf_, 3600, std::nullopt}};
  }

 private:
  // True the first time an email id is seen (a marker file per id in state_dir).
  bool first_attempt(const std::string& id) {
    if (state_dir_.empty()) return false;
    const int fd = ::open((std::filesystem::path(state_dir_) / id).c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    ::close(fd);
    return true;
  }

  void record(const std::string& entry) {
    if (record_file_.empty()) return;
    const int fd = ::open(record_file_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw mailroom::ProviderError(mailroom::ErrorKind::transient, "record", "cannot open the record file");
    const std::string line = entry + "\n";
    const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::close(fd);
    if (!ok) throw mailroom::ProviderError(mailroom::ErrorKind::transient, "record", "cannot write the record file");
  }

  std::string record_file_;
  std::string state_dir_;
  int delay_ms_;
  std::string spf_;
  std::string webhook_secret_;
};

}  // namespace

// Built three times (tests/plugins/CMakeLists.txt): fake_email, and variants that declare
// a quota model or a request rate, for the host's policies that follow a manifest.
#if defined(FAKE_EMAIL_QUOTA)
#define FAKE_EMAIL_NAME "fake_quota_email"
#define FAKE_EMAIL_SCHEME "fake+quota"
#define FAKE_EMAIL_EXTRA_CAPABILITIES ", \"quota\": \"daily_hourly\""
#elif defined(FAKE_EMAIL_PACED)
#define FAKE_EMAIL_NAME "fake_paced_email"
#define FAKE_EMAIL_SCHEME "fake+paced"
#define FAKE_EMAIL_EXTRA_CAPABILITIES ", \"requests_per_second\": 20"
#else
#define FAKE_EMAIL_NAME "fake_email"
#define FAKE_EMAIL_SCHEME "fake"
#define FAKE_EMAIL_EXTRA_CAPABILITIES ""
#endif

MAILROOM_EMAIL_PLUGIN(FakeEmail, R"json({
  "name": ")json" FAKE_EMAIL_NAME R"json(",
  "version": "1.0.0",
  "description": "Test double: outcome chosen by the subject, accepted emails recorded in a file",
  "config_schema": {
    "type": "object",
    "properties": {
      "record_file": { "type": "string" },
      "state_dir": { "type": "string" },
      "delay_ms": { "type": "integer", "minimum": 0 },
      "spf": { "type": "string", "description": "the SPF mechanism dns_requirements() states" },
      "webhook_secret": { "type": "string", "description": "the HMAC key of parse_webhook()" }
    }
  },
  "secrets": ["api_key"],
  "dsn": { ")json" FAKE_EMAIL_SCHEME R"json(": { "user": "api_key" } },
  "capabilities": { "max_recipients": 100, "max_message_bytes": 10485760, "webhooks": true,
                    "sends_in_flight": 8 )json"
  FAKE_EMAIL_EXTRA_CAPABILITIES R"json( }
})json")
