#include <mailroom/log.hpp>

#include <gtest/gtest.h>

namespace {

TEST(Redaction, ReplacesEveryOccurrenceOfEverySecret) {
  EXPECT_EQ(mailroom::redact("user=bob pass=pw1 again pw1, token tok", {"pw1", "tok", ""}),
            "user=bob pass=[redacted] again [redacted], [redacted]en [redacted]");
}

TEST(Redaction, LoggerRemovesLongerSecretWhole) {
  std::vector<std::string> lines;
  auto log = mailroom::make_redacting_logger(
      {"abc", "abcdef"}, [&](mailroom::LogLevel, std::string_view m) { lines.emplace_back(m); });
  log->warn("key abcdef and abc");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "key [redacted] and [redacted]");
}

}  // namespace
