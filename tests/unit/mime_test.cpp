// Messages built by the SDK, read back by Python's standard `email` parser
// (tests/tools/parse_message.py): an independent reader, not our own.
#include <mailroom/mime.hpp>

#include "process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <unistd.h>

namespace {

using mailroom::Address;
using mailroom::Message;
using nlohmann::json;

json parse(const std::string& data) {
  const std::string file = "/tmp/mr-mime-" + std::to_string(::getpid()) + ".eml";
  std::ofstream(file, std::ios::binary) << data;
  const auto result = mailroom::testing::run_command(std::string("/usr/bin/python3 ") + MAILROOM_PARSE_MESSAGE + " " + file);
  EXPECT_EQ(result.status, 0) << result.output;
  std::remove(file.c_str());
  return json::parse(result.output);
}

Message sample() {
  Message m;
  m.from = {"ada@example.com", "Ada Lovelace"};
  m.to = {{"bob@example.com", "Bob \"the\" Builder"}, {"zoe@example.org", "Zoë Ünicode-Øst"}};
  m.cc = {{"carol@example.com", ""}};
  m.reply_to = Address{"replies@example.com", "Replies"};
  m.subject = "Grüße aus Köln — ein sehr langer Betreff, der über mehrere kodierte Wörter gehen muss 🚀";
  m.text_body = "Hello Bob,\nthis line has trailing spaces   \nand a very long line " + std::string(200, 'x') +
                "\nUmlaut: ä ö ü =equals=\n";
  m.html_body = "<p>Hello <b>Bob</b> &amp; Zoë</p>\n";
  return m;
}

TEST(Mime, BothAlternativesAndEncodedHeadersReadBack) {
  const auto built = mailroom::mime::build(sample());
  const auto p = parse(built.data);
  EXPECT_EQ(p["defects"], json::array());
  EXPECT_EQ(p["subject"], sample().subject);
  EXPECT_EQ(p["from"], json::parse(R"([["Ada Lovelace", "ada@example.com"]])"));
  EXPECT_EQ(p["to"], json::parse(R"([["Bob \"the\" Builder", "bob@example.com"], ["Zoë Ünicode-Øst", "zoe@example.org"]])"));
  EXPECT_EQ(p["cc"], json::parse(R"([["", "carol@example.com"]])"));
  EXPECT_EQ(p["reply_to"], json::parse(R"([["Replies", "replies@example.com"]])"));
  EXPECT_EQ(p["content_type"], "multipart/alternative");
  EXPECT_EQ(p["text"], sample().text_body);
  EXPECT_EQ(p["html"], sample().html_body);
  EXPECT_EQ(p["message_id"], built.message_id);
  EXPECT_EQ(built.message_id.find("@example.com>"), built.message_id.size() - 13);
  EXPECT_FALSE(p["has_bcc"]);
  EXPECT_LE(p["max_line"].get<int>(), 78);
  EXPECT_FALSE(p["bare_lf"]);
}

TEST(Mime, SinglePartsAndAttachments) {
  Message m;
  m.from = {"a@example.com", ""};
  m.to = {{"b@example.com", ""}};
  m.subject = "plain";
  m.text_body = "just text\r\nwith CRLF\r\n";
  auto p = parse(mailroom::mime::build(m).data);
  EXPECT_EQ(p["content_type"], "text/plain");
  EXPECT_EQ(p["text"], "just text\nwith CRLF\n");
  m.text_body.clear();
  m.html_body = "<p>only html</p>";
  m.attachments = {{"report ü.pdf", "application/pdf", std::string("%PDF-1.4\0\x01\x02binary", 17)},
                   {"notes.txt", "text/plain", "hello"}};
  p = parse(mailroom::mime::build(m).data);
  EXPECT_EQ(p["content_type"], "multipart/mixed");
  EXPECT_EQ(p["html"], "<p>only html</p>");
  EXPECT_EQ(p["attachments"], json::parse(R"([["report ü.pdf", "application/pdf", 17], ["notes.txt", "text/plain", 5]])"));
  EXPECT_EQ(p["defects"], json::array());
}

TEST(Mime, HeaderInjectionIsRefused) {
  Message m = sample();
  m.subject = "hi\r\nBcc: victim@example.com";
  EXPECT_THROW(mailroom::mime::build(m), mailroom::ProviderError);
  m = sample();
  m.to = {{"x@example.com", "Evil\nBcc: a@b.c"}};
  EXPECT_THROW(mailroom::mime::build(m), mailroom::ProviderError);
}

TEST(Mime, EncodedWordsNeverSplitACharacter) {
  const std::string text(60, 'a');
  const std::string emoji = "🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀🚀";  // 4-byte sequences across the 39-byte cut
  const auto words = mailroom::mime::encode_words(text + emoji);
  std::size_t start = 0;
  while (start < words.size()) {
    const auto end = words.find(' ', start);
    const auto word = words.substr(start, end == std::string::npos ? std::string::npos : end - start);
    EXPECT_LE(word.size(), 64u);
    start = end == std::string::npos ? words.size() : end + 1;
  }
  Message m = sample();
  m.subject = text + emoji;
  EXPECT_EQ(parse(mailroom::mime::build(m).data)["subject"], text + emoji);
}

TEST(Mime, LongHeaderValuesAreEncodedAndFoldedNeverOver78) {
  Message m = sample();
  m.subject = std::string(2000, 'a') + " tail";  // one word no fold at spaces can shorten
  m.from = {"ada@example.com", std::string(300, 'N')};
  m.to = {{"bob@example.com", "Bob " + std::string(120, 'b')}};
  const auto built = mailroom::mime::build(m);
  const auto headers = built.data.substr(0, built.data.find("\r\n\r\n"));
  for (std::size_t start = 0; start < headers.size();) {
    const auto end = std::min(headers.find("\r\n", start), headers.size());
    EXPECT_LE(end - start, 78u) << headers.substr(start, 100);
    start = end + 2;
  }
  const json read = parse(built.data);
  EXPECT_EQ(read["subject"], m.subject);
  // RFC 2047 6.2: white space between adjacent encoded words is not part of the text; Python
  // keeps it in display names (not in subjects), so the names are compared without it.
  auto unspaced = [](std::string text) {
    std::erase(text, ' ');
    return text;
  };
  EXPECT_EQ(unspaced(read["from"][0][0]), std::string(300, 'N'));
  EXPECT_EQ(unspaced(read["to"][0][0]), "Bob" + std::string(120, 'b'));
  EXPECT_EQ(read["defects"], json::array());
  // A short plain subject still goes out as it is.
  m.subject = "Plain subject";
  EXPECT_NE(mailroom::mime::build(m).data.find("\r\nSubject: Plain subject\r\n"), std::string::npos);
}

TEST(Mime, HeaderNamesAndAddressesCannotSmuggleFields) {
  Message m = sample();
  m.extra_headers = {{"X-Ok\x01", "v"}};
  EXPECT_THROW(mailroom::mime::build(m), mailroom::ProviderError);
  m = sample();
  m.to = {{"a@example.com>, Bcc <evil@example.com", ""}};
  EXPECT_THROW(mailroom::mime::build(m), mailroom::ProviderError);
  m = sample();
  m.extra_headers = {{"X-Fine", "value"}};
  EXPECT_NO_THROW(mailroom::mime::build(m));
}

// Found by tests/fuzz (mime): 39 or more UTF-8 continuation bytes in a row left
// encode_words() without a place to cut, and it looped for ever.
TEST(Mime, InvalidUtf8RunsAreEncodedNotLoopedOn) {
  const std::string text = "ab" + std::string(200, '\xb8') + "cd";
  const auto words = mailroom::mime::encode_words(text);
  EXPECT_EQ(words.rfind("=?UTF-8?B?", 0), 0u);
  std::size_t count = 0;
  for (std::size_t at = words.find("=?UTF-8?B?"); at != std::string::npos; at = words.find("=?UTF-8?B?", at + 1)) ++count;
  EXPECT_GE(count, 6u);  // 204 bytes in windows of at most 39 bytes
  EXPECT_LE(count, 7u);
  Message m = sample();
  m.subject = text;
  EXPECT_NO_THROW(mailroom::mime::build(m));
}

}  // namespace
