#include <mailroom/log.hpp>

#include <algorithm>
#include <utility>

namespace mailroom {
namespace {
constexpr std::string_view kRedacted = "[redacted]";
}

Logger::~Logger() = default;

std::string redact(std::string_view text, const std::vector<std::string>& secrets) {
  std::string out(text);
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    for (auto at = out.find(secret); at != std::string::npos; at = out.find(secret, at)) {
      out.replace(at, secret.size(), kRedacted);
      at += kRedacted.size();
    }
  }
  return out;
}

namespace {
class RedactingLogger final : public Logger {
 public:
  RedactingLogger(std::vector<std::string> secrets, LogSink sink)
      : secrets_(std::move(secrets)), sink_(std::move(sink)) {
    // Longest first, so a secret that contains another is removed whole.
    std::erase_if(secrets_, [](const std::string& s) { return s.empty(); });
    std::sort(secrets_.begin(), secrets_.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  }
  void log(LogLevel level, std::string_view message) override {
    sink_(level, redact(message, secrets_));
  }

 private:
  std::vector<std::string> secrets_;
  LogSink sink_;
};
}  // namespace

std::unique_ptr<Logger> make_redacting_logger(std::vector<std::string> secrets, LogSink sink) {
  return std::make_unique<RedactingLogger>(std::move(secrets), std::move(sink));
}

}  // namespace mailroom
