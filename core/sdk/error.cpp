#include <mailroom/error.hpp>

#include <array>
#include <utility>

namespace mailroom {
namespace {
constexpr std::array<std::pair<ErrorKind, std::string_view>, 6> kKindNames{{
    {ErrorKind::transient, "transient"},
    {ErrorKind::rate_limited, "rate_limited"},
    {ErrorKind::quota, "quota"},
    {ErrorKind::auth, "auth"},
    {ErrorKind::invalid_request, "invalid_request"},
    {ErrorKind::permanent, "permanent"},
}};

std::string describe(const ErrorInfo& info) {
  std::string text(to_string(info.kind));
  if (!info.code.empty()) text += " (" + info.code + ")";
  if (!info.message.empty()) text += ": " + info.message;
  return text;
}
}  // namespace

std::string_view to_string(ErrorKind kind) {
  for (const auto& [k, name] : kKindNames)
    if (k == kind) return name;
  return "permanent";
}

std::optional<ErrorKind> error_kind_from_string(std::string_view name) {
  for (const auto& [k, n] : kKindNames)
    if (n == name) return k;
  return std::nullopt;
}

ProviderError::ProviderError(ErrorInfo info) : std::runtime_error(describe(info)), info_(std::move(info)) {}

ProviderError::ProviderError(ErrorKind kind, std::string code, std::string message,
                             std::optional<std::chrono::seconds> retry_after)
    : ProviderError(ErrorInfo{kind, std::move(code), std::move(message), retry_after}) {}

ProviderError::~ProviderError() = default;

}  // namespace mailroom
