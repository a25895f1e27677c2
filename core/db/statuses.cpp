#include "db.hpp"

namespace mailroom::db {

std::string_view to_string(EmailStatus status) {
  switch (status) {
    case EmailStatus::pending: return "pending";
    case EmailStatus::queued: return "queued";
    case EmailStatus::sending: return "sending";
    case EmailStatus::sent: return "sent";
    case EmailStatus::failed: return "failed";
    case EmailStatus::bounced: return "bounced";
    case EmailStatus::spam: return "spam";
  }
  return "pending";
}

std::optional<EmailStatus> email_status_from_string(std::string_view text) {
  for (const auto status : kEmailStatuses)
    if (to_string(status) == text) return status;
  return std::nullopt;
}

std::string_view to_string(LogEvent event) {
  switch (event) {
    case LogEvent::queued: return "queued";
    case LogEvent::sending: return "sending";
    case LogEvent::sent: return "sent";
    case LogEvent::failed: return "failed";
    case LogEvent::bounced: return "bounced";
    case LogEvent::opened: return "opened";
    case LogEvent::clicked: return "clicked";
    case LogEvent::complained: return "complained";
    case LogEvent::delivered: return "delivered";
    case LogEvent::deferred: return "deferred";
    case LogEvent::dropped: return "dropped";
    case LogEvent::unsubscribed: return "unsubscribed";
  }
  return "queued";
}

}  // namespace mailroom::db
