// The one error type a provider plugin reports.
//
// A plugin throws mailroom::ProviderError (or returns an ErrorInfo inside a result) when the
// provider refuses or fails. The host's queue and DNS engine decide what to do from `kind`
// alone, so choose it carefully:
//   transient        the same request may succeed later (network error, 5xx, SMTP 4xx)
//   rate_limited     the provider asks us to slow down; set retry_after when it says how long
//   quota            a daily/hourly allowance is used up; the host reschedules, never fails
//   auth             credentials are missing, wrong or expired; retrying will not help
//   invalid_request  the request itself is wrong (bad address, bad record); never retried
//   permanent        any other failure that retrying cannot fix
// `code` and `message` are the provider's own (e.g. "550", "rateLimitExceeded") and are shown
// to users: never put a secret in them.
#pragma once

#include <mailroom/sdk_export.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mailroom {

enum class ErrorKind { transient, rate_limited, quota, auth, invalid_request, permanent };

MAILROOM_SDK_EXPORT std::string_view to_string(ErrorKind kind);
// Parses the names that to_string gives; std::nullopt for anything else.
MAILROOM_SDK_EXPORT std::optional<ErrorKind> error_kind_from_string(std::string_view name);

struct ErrorInfo {
  ErrorKind kind = ErrorKind::permanent;
  std::string code;     // the provider's code, e.g. "550" or "rateLimitExceeded"
  std::string message;  // the provider's message, free of secrets
  std::optional<std::chrono::seconds> retry_after;  // the provider's Retry-After, if any
};

class MAILROOM_SDK_EXPORT ProviderError : public std::runtime_error {
 public:
  explicit ProviderError(ErrorInfo info);
  ProviderError(ErrorKind kind, std::string code, std::string message,
                std::optional<std::chrono::seconds> retry_after = std::nullopt);
  ~ProviderError() override;

  const ErrorInfo& info() const noexcept { return info_; }
  ErrorKind kind() const noexcept { return info_.kind; }

 private:
  ErrorInfo info_;
};

}  // namespace mailroom
