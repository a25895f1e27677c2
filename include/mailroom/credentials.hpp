// Short-lived credentials a plugin obtains (an OAuth access token), kept by the host for
// every provider object of the same configuration: many workers, on many hosts, refresh a
// token once instead of each on its own.
#pragma once

#include <mailroom/sdk_export.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace mailroom {

struct Credential {
  std::string value;
  std::chrono::system_clock::time_point expires_at{};
};

class MAILROOM_SDK_EXPORT CredentialCache {
 public:
  virtual ~CredentialCache();

  // The kept credential when it is still valid at `valid_until`. Otherwise calls `obtain`, one
  // caller at a time for the configuration (on every host sharing the database), keeps what it
  // returns and returns it; a caller that waited while another obtained one gets that one
  // without calling `obtain`. What `obtain` throws passes through, and nothing is kept.
  virtual Credential get(std::chrono::system_clock::time_point valid_until,
                         const std::function<Credential()>& obtain) = 0;

  // Forgets `value` if it is still the kept credential: the provider refused it before its
  // expiry (revoked), so the next get() obtains a new one.
  virtual void discard(const std::string& value) = 0;
};

}  // namespace mailroom
