#include <mailroom/error.hpp>
#include <mailroom/mime.hpp>

#include <algorithm>
#include <array>
#include <ctime>
#include <random>

namespace mailroom::mime {
namespace {

constexpr std::string_view kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(data[i]) << 16) | (static_cast<unsigned char>(data[i + 1]) << 8) |
                       static_cast<unsigned char>(data[i + 2]);
    out += kBase64[v >> 18];
    out += kBase64[(v >> 12) & 63];
    out += kBase64[(v >> 6) & 63];
    out += kBase64[v & 63];
  }
  if (i < data.size()) {
    unsigned v = static_cast<unsigned char>(data[i]) << 16;
    if (i + 1 < data.size()) v |= static_cast<unsigned char>(data[i + 1]) << 8;
    out += kBase64[v >> 18];
    out += kBase64[(v >> 12) & 63];
    out += i + 1 < data.size() ? kBase64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool printable_ascii(std::string_view text) {
  for (unsigned char c : text)
    if (c < 32 || c > 126) return false;
  return true;
}

// Whether a header value can go out as it is: printable ASCII whose words each fit on a
// folded line (RFC 5322 2.1.1 recommends 78 characters). Anything else is sent as encoded
// words, which fold anywhere: a single long word would otherwise make a line no fold can
// shorten, refused by relays past 998 octets ("Line too long").
bool plain_foldable(std::string_view text) {
  if (!printable_ascii(text)) return false;
  std::size_t word = 0;
  for (const char c : text) {
    word = c == ' ' ? 0 : word + 1;
    if (word > 66) return false;  // with "Reply-To: " or a folding space, within 78
  }
  return true;
}

std::string random_token(std::size_t length) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr std::string_view alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string out;
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  for (std::size_t i = 0; i < length; ++i) out += alphabet[pick(rng)];
  return out;
}

void check_header_text(std::string_view what, std::string_view value) {
  if (value.find_first_of("\r\n") != std::string_view::npos)
    throw ProviderError(ErrorKind::invalid_request, "header_injection",
                        std::string(what) + " contains a line break");
}

// RFC 5322's msg-id as mailroom writes it: "<left@right>", printable ASCII, no spaces.
void check_message_id(std::string_view id) {
  const auto at = id.find('@');
  const bool printable = std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 127; });
  if (id.size() < 5 || id.front() != '<' || id.back() != '>' || at == std::string_view::npos || at < 2 ||
      at > id.size() - 3 || !printable || id.find_first_of("<>", 1) != id.size() - 1)
    throw ProviderError(ErrorKind::invalid_request, "message_id",
                        "the Message-ID '" + std::string(id) + "' is not of the form <left@right>");
}

std::string rfc5322_date(std::chrono::system_clock::time_point when) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm utc{};
  gmtime_r(&t, &utc);
  static constexpr std::array<const char*, 7> days = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char text[64];
  std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[utc.tm_wday], utc.tm_mday,
                months[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
  return text;
}

// "Name: value", folded at spaces (or after commas of address lists) near 78 characters.
std::string header(std::string_view name, std::string_view value) {
  std::string out(name);
  out += ':';
  std::size_t line = out.size();
  std::size_t start = 0;
  while (start < value.size()) {
    std::size_t space = value.find(' ', start + 1);
    if (space == std::string_view::npos) space = value.size();
    std::string_view word = value.substr(start, space - start);
    if (start == 0) {
      if (!word.empty() && word.front() == ' ') word.remove_prefix(1);
      out += ' ';
      ++line;
    } else if (line + word.size() > 78) {
      out += "\r\n";
      line = 0;
      if (!word.empty() && word.front() != ' ') {
        out += ' ';
        ++line;
      }
    }
    out += word;
    line += word.size();
    start = space;
  }
  return out + "\r\n";
}

std::string address_list(const std::vector<Address>& addresses) {
  std::string out;
  for (const auto& a : addresses) out += (out.empty() ? "" : ", ") + format_address(a);
  return out;
}

bool needs_quoting(std::string_view name) {
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == ' ' || std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos))
      return true;
  return false;
}

// A text part: 7bit when it is plain short-lined ASCII, else quoted-printable.
std::string text_part(std::string_view type, std::string_view body) {
  bool simple = true;
  std::size_t line = 0;
  for (unsigned char c : body) {
    if (c == '\n') {
      line = 0;
      continue;
    }
    if ((c < 32 && c != '\t' && c != '\r') || c > 126 || ++line > 76) {
      simple = false;
      break;
    }
  }
  std::string out = "Content-Type: " + std::string(type) + "; charset=utf-8\r\n";
  if (simple) {
    out += "Content-Transfer-Encoding: 7bit\r\n\r\n";
    for (std::size_t i = 0; i < body.size(); ++i) {
      if (body[i] == '\r') continue;
      if (body[i] == '\n') out += "\r\n";
      else out += body[i];
    }
    return out;
  }
  out += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
  out += quoted_printable(body);
  return out;
}

std::string filename_parameter(const std::string& filename) {
  check_header_text("attachment filename", filename);
  if (printable_ascii(filename) && filename.find_first_of("\"\\") == std::string::npos)
    return "filename=\"" + filename + "\"";
  // RFC 2231: filename*=utf-8''percent-encoded
  std::string out = "filename*=utf-8''";
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : filename) {
    if (std::isalnum(c) || std::string_view("!#$&+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string encode_words(std::string_view text) {
  if (plain_foldable(text)) return std::string(text);
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    // 39 raw bytes -> 52 base64 characters; with "=?UTF-8?B?" and "?=" 64, so that even
    // the first word after "Reply-To: " stays within 78 characters.
    std::size_t end = std::min(text.size(), i + 39);
    while (end < text.size() && end > i && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    // No character boundary in the window (invalid UTF-8: a run of continuation bytes): cut
    // anyway. Without this the loop made no progress and a worker hung on such a subject.
    if (end == i) end = std::min(text.size(), i + 39);
    if (!out.empty()) out += ' ';
    out += "=?UTF-8?B?" + base64(text.substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

std::string format_address(const Address& address) {
  check_header_text("an address", address.email);
  check_header_text("a display name", address.name);
  for (const unsigned char c : address.email)
    if (c <= ' ' || c == 0x7f || std::string_view("<>,;\"()[]\\").find(static_cast<char>(c)) != std::string_view::npos)
      throw ProviderError(ErrorKind::invalid_request, "bad_address",
                          "an address contains a character a plain address cannot have (" + std::to_string(c) + ")");
  if (address.name.empty()) return address.email;
  std::string name;
  if (!plain_foldable(address.name)) {
    name = encode_words(address.name);
  } else if (needs_quoting(address.name)) {
    name = "\"";
    for (char c : address.name) {
      if (c == '"' || c == '\\') name += '\\';
      name += c;
    }
    name += "\"";
  } else {
    name = address.name;
  }
  return name + " <" + address.email + ">";
}

std::string quoted_printable(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + text.size() / 16);
  std::string line;
  auto flush_line = [&](bool hard_break) {
    // Trailing white space must be encoded, or transports may strip it.
    if (!line.empty() && (line.back() == ' ' || line.back() == '\t')) {
      const char c = line.back();
      line.pop_back();
      line += '=';
      line += hex[static_cast<unsigned char>(c) >> 4];
      line += hex[static_cast<unsigned char>(c) & 15];
    }
    out += line;
    out += hard_break ? "\r\n" : "=\r\n";
    line.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    if (c == '\n') {
      flush_line(true);
      continue;
    }
    // A fixed buffer, not a std::string per byte: this loop runs for every body byte sent.
    char encoded[3];
    std::size_t length = 1;
    if ((c >= 33 && c <= 126 && c != '=') || c == ' ' || c == '\t') {
      encoded[0] = static_cast<char>(c);
    } else {
      encoded[0] = '=';
      encoded[1] = hex[c >> 4];
      encoded[2] = hex[c & 15];
      length = 3;
    }
    if (line.size() + length > 75) flush_line(false);
    line.append(encoded, length);
  }
  if (!line.empty()) {
    flush_line(true);
    out.resize(out.size() - 2);  // the text did not end in a line break
  }
  return out;
}

std::string base64_lines(std::string_view data) {
  const std::string encoded = base64(data);
  std::string out;
  for (std::size_t i = 0; i < encoded.size(); i += 76) out += encoded.substr(i, 76) + "\r\n";
  return out;
}

namespace {

// One attachment's MIME part: inline with its Content-ID, or an attachment.
std::string attachment_part(const Attachment& a) {
  check_header_text("attachment content type", a.content_type);
  std::string part = "Content-Type: " + (a.content_type.empty() ? std::string("application/octet-stream") : a.content_type) + "\r\n";
  part += "Content-Transfer-Encoding: base64\r\n";
  if (!a.content_id.empty()) {
    const bool bad_id = std::any_of(a.content_id.begin(), a.content_id.end(), [](char c) {
      return static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) >= 0x7f || c == '<' || c == '>';
    });
    if (bad_id)
      throw ProviderError(ErrorKind::invalid_request, "bad_content_id",
                          "an inline attachment's content_id is not printable ASCII without spaces or angle brackets");
    part += "Content-ID: <" + a.content_id + ">\r\n";
  }
  part += std::string("Content-Disposition: ") + (a.content_id.empty() ? "attachment; " : "inline; ") +
          filename_parameter(a.filename) + "\r\n\r\n";
  return part + base64_lines(a.content);
}

// A multipart entity of `subtype` around `parts` (each with its own header lines), the
// boundary named after `tag` and random.
std::string multipart(const char* subtype, const char* tag, const std::vector<std::string>& parts) {
  const std::string boundary = std::string("=_") + tag + "_" + random_token(24);
  std::string out = std::string("Content-Type: multipart/") + subtype + "; boundary=\"" + boundary + "\"\r\n\r\n";
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i == 0 ? "--" : "\r\n--") + boundary + "\r\n" + parts[i];
  return out + "\r\n--" + boundary + "--\r\n";
}

}  // namespace

BuiltMessage build(const Message& message, const BuildOptions& options) {
  BuiltMessage built;
  std::string domain = options.message_id_domain;
  if (domain.empty()) {
    const auto at = message.from.email.rfind('@');
    domain = at == std::string::npos ? "mailroom.invalid" : message.from.email.substr(at + 1);
  }
  built.message_id = message.message_id.empty() ? "<" + random_token(24) + "@" + domain + ">" : message.message_id;
  check_message_id(built.message_id);
  check_header_text("the subject", message.subject);

  std::string& m = built.data;
  m += header("Date", rfc5322_date(options.date));
  m += header("Message-ID", built.message_id);
  m += header("From", format_address(message.from));
  if (!message.to.empty()) m += header("To", address_list(message.to));
  if (!message.cc.empty()) m += header("Cc", address_list(message.cc));
  if (message.reply_to) m += header("Reply-To", format_address(*message.reply_to));
  m += header("Subject", encode_words(message.subject));
  for (const auto& [name, value] : message.extra_headers) {
    check_header_text("header " + name, name + value);
    // RFC 5322 2.2: a field name is printable ASCII other than the colon.
    const bool bad_name = name.empty() || std::any_of(name.begin(), name.end(), [](char c) {
      return static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) >= 0x7f || c == ':';
    });
    if (bad_name) throw ProviderError(ErrorKind::invalid_request, "bad_header", "a header name is not printable ASCII without a colon");
    m += header(name, encode_words(value));
  }
  m += "MIME-Version: 1.0\r\n";

  const bool text = !message.text_body.empty();
  const bool html = !message.html_body.empty();
  std::string body;
  if (text && html) {
    body = multipart("alternative", "alt", {text_part("text/plain", message.text_body), text_part("text/html", message.html_body)});
  } else {
    body = text_part(html ? "text/html" : "text/plain", html ? message.html_body : message.text_body);
  }
  // Inline parts (a Content-ID, for <img src="cid:...">) go in multipart/related around the
  // body they illustrate; the others in multipart/mixed around that (RFC 2387, RFC 2046).
  std::vector<std::string> related{body}, mixed;
  for (const auto& a : message.attachments) (a.content_id.empty() ? mixed : related).push_back(attachment_part(a));
  if (related.size() > 1) body = multipart("related", "related", related);
  if (mixed.empty()) {
    m += body;
    return built;
  }
  mixed.insert(mixed.begin(), body);
  m += multipart("mixed", "mixed", mixed);
  return built;
}

}  // namespace mailroom::mime
