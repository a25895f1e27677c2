// RFC 5322 / 2045 / 2047 message building, for plugins that send raw messages (smtp_relay,
// the Gmail API). Lines end in CRLF; no line exceeds 998 octets and header lines are
// folded near 78; Bcc is never written.
#pragma once

#include <mailroom/email_provider.hpp>
#include <mailroom/sdk_export.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace mailroom::mime {

struct BuildOptions {
  // Right-hand side of the Message-ID; empty: the From address's domain.
  std::string message_id_domain;
  // The Date header; default: now.
  std::chrono::system_clock::time_point date = std::chrono::system_clock::now();
};

struct BuiltMessage {
  std::string message_id;  // "<random@domain>"
  std::string data;        // the whole message, CRLF line ends
};

// Builds the message: text only, HTML only, multipart/alternative (text, then HTML), and
// multipart/mixed around it when there are attachments. Throws ProviderError{invalid_request}
// for a header name or value that would break the message (CR or LF in it, a header name
// that is not printable ASCII without a colon, an address with spaces, brackets, commas,
// quotes or control characters).
MAILROOM_SDK_EXPORT BuiltMessage build(const Message& message, const BuildOptions& options = {});

// "Name <a@b>" with the name quoted or RFC 2047-encoded as needed; "a@b" without a name.
MAILROOM_SDK_EXPORT std::string format_address(const Address& address);

// The text as is when it is printable ASCII whose words fit a folded line, else RFC 2047
// encoded words (UTF-8, base64), each at most 64 characters, never splitting a UTF-8
// sequence: a value of any length then folds within 78 characters a line.
MAILROOM_SDK_EXPORT std::string encode_words(std::string_view text);

// RFC 2045 quoted-printable with CRLF line ends and soft breaks before 76 characters.
MAILROOM_SDK_EXPORT std::string quoted_printable(std::string_view text);

// Base64 in lines of 76 characters, CRLF-terminated.
MAILROOM_SDK_EXPORT std::string base64_lines(std::string_view data);

}  // namespace mailroom::mime
