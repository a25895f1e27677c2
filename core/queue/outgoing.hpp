// The SDK's view of a queued email (envelope and message), built the same way when it is
// checked at enqueue and when it is sent.
#pragma once

#include <mailroom/email_provider.hpp>

namespace mailroom::queue {

// `Row` is db::NewQueuedEmail or db::ClaimedEmail: the same fields, before and after the insert.
template <class Row>
OutgoingEmail to_outgoing(const Row& e) {
  OutgoingEmail out;
  out.envelope.mail_from = e.from_address;
  out.envelope.rcpt_to.push_back(e.recipient_email);
  out.envelope.rcpt_to.insert(out.envelope.rcpt_to.end(), e.cc.begin(), e.cc.end());
  out.envelope.rcpt_to.insert(out.envelope.rcpt_to.end(), e.bcc.begin(), e.bcc.end());
  out.message.from = {e.from_address, e.from_name};
  out.message.to.push_back({e.recipient_email, e.recipient_name});
  for (const auto& a : e.cc) out.message.cc.push_back({a, ""});
  if (!e.reply_to_address.empty()) out.message.reply_to = Address{e.reply_to_address, ""};
  out.message.subject = e.subject;
  out.message.text_body = e.text_body;
  out.message.html_body = e.html_body;
  out.message.extra_headers = e.extras.headers;
  for (const auto& a : e.extras.attachments)
    out.message.attachments.push_back({a.filename, a.content_type, a.content, a.content_id});
  out.tags = e.extras.tags;
  out.metadata = e.extras.metadata;
  return out;
}

}  // namespace mailroom::queue
