#include "message_extras.hpp"

#include "queue.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <regex>
#include <set>
#include <string_view>

namespace mailroom::queue {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

bool has_line_break(std::string_view text) { return text.find_first_of("\r\n") != std::string_view::npos; }

// Header fields mailroom writes from the email's own fields or the MIME structure.
constexpr std::array<std::string_view, 13> kStructural = {
    "from", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version", "dkim-signature", "received",
    "return-path", "sender", "reply-to"};

// Beyond X-* and List-*: fields with a meaning a relay's user legitimately sets (RFC 5322 3.6.4
// and 3.6.5, RFC 3834, RFC 2156's and Outlook's priority fields, Gmail's Feedback-ID).
constexpr std::array<std::string_view, 10> kAllowed = {
    "in-reply-to", "references", "keywords", "comments", "auto-submitted", "precedence",
    "importance", "priority", "sensitivity", "feedback-id"};

bool is_label(const std::string& text) {
  static const std::regex label("^[A-Za-z0-9_.:-]{1,64}$");
  return std::regex_match(text, label);
}

}  // namespace

std::string header_refusal(const std::string& name, const std::string& value) {
  const bool field_name = !name.empty() && name.size() <= 76 && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return c > ' ' && c < 0x7f && c != ':';
  });
  if (!field_name)
    return "headers: '" + name + "' is not a header field name (printable ASCII without a colon or space, at most 76 characters)";
  const std::string key = lower(name);
  if (std::find(kStructural.begin(), kStructural.end(), key) != kStructural.end() || key.starts_with("content-"))
    return "headers: " + name + " is written by mailroom from the email's fields and its parts; set those instead";
  if (!key.starts_with("x-") && !key.starts_with("list-") && std::find(kAllowed.begin(), kAllowed.end(), key) == kAllowed.end())
    return "headers: " + name + " is not a field an application may set (X-*, List-*, In-Reply-To, References, Keywords, "
           "Comments, Auto-Submitted, Precedence, Importance, Priority, Sensitivity, Feedback-ID)";
  if (has_line_break(value)) return "headers: " + name + " contains a line break";
  if (has_control(value)) return "headers: " + name + " contains a control character";
  if (value.size() > 998) return "headers: " + name + " is longer than 998 characters";
  return "";
}

std::string extras_problem(db::MessageExtras& extras) {
  if (extras.headers.size() > kMaxHeaders) return "headers: more than " + std::to_string(kMaxHeaders) + " fields";
  std::set<std::string> seen;
  for (const auto& [name, value] : extras.headers) {
    if (const auto why = header_refusal(name, value); !why.empty()) return why;
    if (!seen.insert(lower(name)).second) return "headers: " + name + " is given twice";
  }

  if (extras.attachments.size() > kMaxAttachments)
    return "attachments: more than " + std::to_string(kMaxAttachments) + " files";
  static const std::regex media_type(R"(^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$)");
  std::set<std::string> content_ids;
  for (std::size_t i = 0; i < extras.attachments.size(); ++i) {
    auto& a = extras.attachments[i];
    const std::string at = "attachments[" + std::to_string(i) + "]";
    if (a.filename.empty() || a.filename.size() > 255) return at + ".filename: must be 1 to 255 characters";
    if (has_line_break(a.filename)) return at + ".filename '" + a.filename + "' contains a line break";
    if (has_control(a.filename)) return at + ".filename '" + a.filename + "' contains a control character";
    if (a.content_type.empty()) a.content_type = content_type_for(a.filename);
    if (has_line_break(a.content_type)) return at + ".content_type (" + a.filename + ") contains a line break";
    if (!std::regex_match(a.content_type, media_type))
      return at + ".content_type '" + a.content_type + "' (" + a.filename + ") is not a media type such as application/pdf";
    if (!a.content_id.empty()) {
      if (has_line_break(a.content_id)) return at + ".content_id (" + a.filename + ") contains a line break";
      const bool bad = a.content_id.size() > 255 || std::any_of(a.content_id.begin(), a.content_id.end(), [](unsigned char c) {
                         return c <= ' ' || c >= 0x7f || c == '<' || c == '>';
                       });
      if (bad)
        return at + ".content_id '" + a.content_id + "' (" + a.filename +
               ") must be printable ASCII without spaces or angle brackets, at most 255 characters";
      if (!content_ids.insert(a.content_id).second) return at + ".content_id '" + a.content_id + "' is given twice";
    }
  }

  if (extras.tags.size() > kMaxTags) return "tags: more than " + std::to_string(kMaxTags);
  std::set<std::string> tags;
  for (const auto& tag : extras.tags) {
    if (!is_label(tag)) return "tags: '" + tag + "' must be 1 to 64 letters, digits, '_', '.', ':' or '-'";
    if (!tags.insert(tag).second) return "tags: '" + tag + "' is given twice";
  }
  if (extras.metadata.size() > kMaxMetadata) return "metadata: more than " + std::to_string(kMaxMetadata) + " keys";
  for (const auto& [key, value] : extras.metadata) {
    if (!is_label(key)) return "metadata: the key '" + key + "' must be 1 to 64 letters, digits, '_', '.', ':' or '-'";
    if (value.size() > kMaxMetadataValue)
      return "metadata: the value of " + key + " is longer than " + std::to_string(kMaxMetadataValue) + " characters";
  }
  return "";
}

std::string content_type_for(const std::string& filename) {
  // The types people attach, by extension. A table, not libmagic or /etc/mime.types: the type
  // must not depend on what the host has installed, and a file's name is what the receiver's
  // client goes by too.
  static const std::array<std::pair<std::string_view, std::string_view>, 24> kTypes = {{
      {"pdf", "application/pdf"}, {"png", "image/png"}, {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"},
      {"gif", "image/gif"}, {"webp", "image/webp"}, {"svg", "image/svg+xml"}, {"txt", "text/plain"},
      {"csv", "text/csv"}, {"html", "text/html"}, {"htm", "text/html"}, {"ics", "text/calendar"},
      {"json", "application/json"}, {"xml", "application/xml"}, {"zip", "application/zip"},
      {"gz", "application/gzip"}, {"doc", "application/msword"},
      {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {"xls", "application/vnd.ms-excel"},
      {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
      {"ppt", "application/vnd.ms-powerpoint"},
      {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
      {"odt", "application/vnd.oasis.opendocument.text"}, {"eml", "message/rfc822"}}};
  const auto dot = filename.rfind('.');
  if (dot != std::string::npos) {
    const std::string extension = lower(filename.substr(dot + 1));
    for (const auto& [ext, type] : kTypes)
      if (ext == extension) return std::string(type);
  }
  return "application/octet-stream";
}

}  // namespace mailroom::queue
