// The one JSON form of an email and of its delivery log entries: the API's answers and the
// CLI's `queue show` both print these.
#include "queue.hpp"

namespace mailroom::queue {

using db::text_or_null;

nlohmann::json to_json(const db::QueueEmailRow& e) {
  return {{"id", e.id},
          {"status", e.status},
          {"to", e.recipient_email},
          {"subject", e.subject},
          {"configuration", text_or_null(e.configuration_id)},
          {"message_id", text_or_null(e.message_id)},
          {"retry_count", e.retry_count},
          {"max_retries", e.max_retries},
          {"last_error", text_or_null(e.last_error)},
          {"last_error_kind", text_or_null(e.last_error_kind)},
          {"idempotency_key", text_or_null(e.idempotency_key)},
          {"run_at", e.run_at},
          {"created_at", e.created_at},
          {"sent_at", text_or_null(e.sent_at)},
          {"delivered_at", text_or_null(e.delivered_at)},
          {"bounced_at", text_or_null(e.bounced_at)},
          {"bounce_type", text_or_null(e.bounce_type)},
          {"bounce_reason", text_or_null(e.bounce_reason)},
          {"headers", e.headers},
          {"tags", e.tags},
          {"metadata", e.metadata},
          {"attachments", e.attachments},
          {"list_unsubscribe", e.list_unsubscribe},
          {"unsubscribe_mailto", text_or_null(e.unsubscribe_mailto)}};
}

nlohmann::json to_json(const db::DeliveryLogRow& l) {
  return {{"event_type", l.event_type},
          {"event_status", text_or_null(l.event_status)},
          {"error_code", text_or_null(l.error_code)},
          {"error_message", text_or_null(l.error_message)},
          {"provider", text_or_null(l.provider)},
          {"created_at", l.created_at}};
}

}  // namespace mailroom::queue
