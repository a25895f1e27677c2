// MIME building from arbitrary message fields (what an application puts in an email). The
// properties: either the SDK refuses the message (ProviderError) or the result is a message
// whose header section is well formed: CRLF lines only, none over 998 octets, every line a
// "Name: value" field or a folded continuation, and exactly the header fields mailroom
// writes, each once: nothing a field's value carried became a header of its own.
#include <mailroom/error.hpp>
#include <mailroom/mime.hpp>

#include <fuzzer/FuzzedDataProvider.h>

#include <map>
#include <set>

namespace {

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "MIME property violated: %s\n", what);
  __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  mailroom::Message m;
  m.from = {in.ConsumeRandomLengthString(300), in.ConsumeRandomLengthString(300)};
  for (int i = in.ConsumeIntegralInRange(0, 3); i > 0; --i)
    m.to.push_back({in.ConsumeRandomLengthString(300), in.ConsumeRandomLengthString(300)});
  if (in.ConsumeBool()) m.cc.push_back({in.ConsumeRandomLengthString(100), in.ConsumeRandomLengthString(100)});
  if (in.ConsumeBool()) m.reply_to = mailroom::Address{in.ConsumeRandomLengthString(100), in.ConsumeRandomLengthString(100)};
  m.subject = in.ConsumeRandomLengthString(3000);
  const bool extra = in.ConsumeBool();
  if (extra) m.extra_headers.push_back({in.ConsumeRandomLengthString(40), in.ConsumeRandomLengthString(2000)});
  if (in.ConsumeBool()) {
    mailroom::Attachment a;
    a.filename = in.ConsumeRandomLengthString(200);
    a.content_type = in.ConsumeRandomLengthString(60);
    a.content = in.ConsumeRandomLengthString(500);
    if (in.ConsumeBool()) a.content_id = in.ConsumeRandomLengthString(40);  // an inline part
    m.attachments.push_back(a);
  }
  m.html_body = in.ConsumeBool() ? in.ConsumeRandomLengthString(2000) : "";
  m.text_body = in.ConsumeRemainingBytesAsString();

  mailroom::mime::BuiltMessage built;
  try {
    built = mailroom::mime::build(m);
  } catch (const mailroom::ProviderError&) {
    return 0;
  }
  const std::string& d = built.data;
  const auto end = d.find("\r\n\r\n");
  if (end == std::string::npos) violated("no blank line after the header section");
  std::map<std::string, int> names;
  for (std::size_t start = 0; start < end + 2;) {
    const auto eol = d.find("\r\n", start);
    const std::string_view line(d.data() + start, eol - start);
    if (line.size() > 998) violated("a header line over 998 octets");
    if (line.find('\n') != std::string_view::npos || line.find('\r') != std::string_view::npos)
      violated("a bare CR or LF in the header section");
    if (line.empty()) violated("an empty line inside the header section");
    if (line[0] != ' ' && line[0] != '\t') {
      const auto colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) violated("a header line that is neither a field nor folded");
      for (const char c : line.substr(0, colon))
        if (static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) >= 0x7f) violated("a field name that is not printable ASCII");
      ++names[std::string(line.substr(0, colon))];
    }
    start = eol + 2;
  }
  std::set<std::string> expected{"Date", "Message-ID", "From", "Subject", "MIME-Version", "Content-Type"};
  if (!m.to.empty()) expected.insert("To");
  if (!m.cc.empty()) expected.insert("Cc");
  if (m.reply_to) expected.insert("Reply-To");
  if (extra) expected.insert(m.extra_headers[0].first);
  if (m.attachments.empty()) expected.insert("Content-Transfer-Encoding");
  for (const auto& [name, count] : names) {
    if (!expected.count(name)) violated("a header field mailroom did not write (injected)");
    if (count > 1 && !(extra && name == m.extra_headers[0].first && count == 2)) violated("a header field written twice");
  }
  return 0;
}
