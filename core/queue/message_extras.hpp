// What an application may add to a message beyond addresses and bodies (attachments, header
// fields, tags, metadata), and the one place their rules live: the API, `mailroom send` and
// `send --file` all reach them through enqueue.
#pragma once

#include "db.hpp"

#include <string>

namespace mailroom::queue {

// The most an email may carry of each.
inline constexpr std::size_t kMaxAttachments = 100;
inline constexpr std::size_t kMaxHeaders = 50;
inline constexpr std::size_t kMaxTags = 10;
inline constexpr std::size_t kMaxMetadata = 20;
inline constexpr std::size_t kMaxMetadataValue = 512;

// Why the application may not set the header field `name` to `value`, naming it, or "". Refused:
// names that are not RFC 5322 field names, the fields mailroom writes itself (From, To, Cc, Bcc,
// Subject, Date, Message-ID, MIME-Version, Content-*, DKIM-Signature, Received, Return-Path,
// Sender, Reply-To), any other name outside X-*, List-* and a few of RFC 5322's and RFC 3834's
// (In-Reply-To, References, Auto-Submitted, Precedence, ...), and a value with a line break.
std::string header_refusal(const std::string& name, const std::string& value);

// Why the extras cannot go out as given, naming the field ("attachments[1].filename: ..."), or
// "". Fills in each attachment's content type from its file name when it has none.
std::string extras_problem(db::MessageExtras& extras);

}  // namespace mailroom::queue
