// Out-of-line virtual destructors and defaults: the interfaces' vtables and typeinfo live
// here, in libmailroom_sdk, once for host and plugins alike.
#include <mailroom/clock.hpp>
#include <mailroom/credentials.hpp>
#include <mailroom/dns_provider.hpp>
#include <mailroom/email_provider.hpp>
#include <mailroom/record.hpp>

#include <algorithm>
#include <array>
#include <utility>

namespace mailroom {

EmailProvider::~EmailProvider() = default;
DnsProvider::~DnsProvider() = default;
Clock::~Clock() = default;

CredentialCache::~CredentialCache() = default;

std::vector<DeliveryEvent> EmailProvider::parse_webhook(const HttpRequest&) {
  throw ProviderError(ErrorKind::invalid_request, "webhooks_unsupported",
                      "this provider does not receive webhooks");
}

std::vector<RecordSpec> EmailProvider::dns_requirements(const std::string&) { return {}; }

namespace {
constexpr std::array<std::pair<RecordType, std::string_view>, 8> kRecordTypeNames{{
    {RecordType::A, "A"},
    {RecordType::AAAA, "AAAA"},
    {RecordType::CNAME, "CNAME"},
    {RecordType::MX, "MX"},
    {RecordType::TXT, "TXT"},
    {RecordType::SPF, "SPF"},
    {RecordType::DKIM, "DKIM"},
    {RecordType::DMARC, "DMARC"},
}};

constexpr std::array<std::pair<DeliveryEventType, std::string_view>, 9> kEventNames{{
    {DeliveryEventType::accepted, "accepted"},
    {DeliveryEventType::delivered, "delivered"},
    {DeliveryEventType::deferred, "deferred"},
    {DeliveryEventType::bounced, "bounced"},
    {DeliveryEventType::dropped, "dropped"},
    {DeliveryEventType::opened, "opened"},
    {DeliveryEventType::clicked, "clicked"},
    {DeliveryEventType::complained, "complained"},
    {DeliveryEventType::unsubscribed, "unsubscribed"},
}};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
};
}  // namespace

std::string_view to_string(RecordType type) {
  for (const auto& [t, name] : kRecordTypeNames)
    if (t == type) return name;
  return "TXT";
}

std::optional<RecordType> record_type_from_string(std::string_view name) {
  for (const auto& [t, n] : kRecordTypeNames)
    if (n == name) return t;
  return std::nullopt;
}

RecordType wire_type(RecordType type) {
  switch (type) {
    case RecordType::SPF:
    case RecordType::DKIM:
    case RecordType::DMARC: return RecordType::TXT;
    default: return type;
  }
}

std::string normal_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out(name);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view to_string(DeliveryEventType type) {
  for (const auto& [t, name] : kEventNames)
    if (t == type) return name;
  return "delivered";
}

Clock& system_clock() {
  static SystemClock clock;
  return clock;
}

}  // namespace mailroom
