// The logger a plugin writes to. The host's logger removes every secret of the plugin's
// configuration from each message before it is written, but a plugin should still never
// log request bodies or credentials.
#pragma once

#include <mailroom/sdk_export.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mailroom {

enum class LogLevel { debug, info, warn, error };

class MAILROOM_SDK_EXPORT Logger {
 public:
  virtual ~Logger();
  virtual void log(LogLevel level, std::string_view message) = 0;

  void debug(std::string_view message) { log(LogLevel::debug, message); }
  void info(std::string_view message) { log(LogLevel::info, message); }
  void warn(std::string_view message) { log(LogLevel::warn, message); }
  void error(std::string_view message) { log(LogLevel::error, message); }
};

using LogSink = std::function<void(LogLevel, std::string_view)>;

// A logger that replaces each occurrence of any of `secrets` by "[redacted]" and passes
// the result to `sink`. Empty secrets are ignored.
MAILROOM_SDK_EXPORT std::unique_ptr<Logger> make_redacting_logger(std::vector<std::string> secrets,
                                                                  LogSink sink);

// Replaces each occurrence of any of `secrets` in `text` by "[redacted]".
MAILROOM_SDK_EXPORT std::string redact(std::string_view text,
                                       const std::vector<std::string>& secrets);

}  // namespace mailroom
