// Time as a plugin should read it: through the host's clock, so tests can move it
// (token expiry, quota windows, request signing dates).
#pragma once

#include <mailroom/sdk_export.hpp>

#include <chrono>

namespace mailroom {

class MAILROOM_SDK_EXPORT Clock {
 public:
  virtual ~Clock();
  virtual std::chrono::system_clock::time_point now() const = 0;
};

// The wall clock.
MAILROOM_SDK_EXPORT Clock& system_clock();

}  // namespace mailroom
