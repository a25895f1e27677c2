// /v1/emails: queue one or many (Idempotency-Key), list with filters and a cursor, read one
// with its delivery logs, retry a failed one, cancel a queued one.
#include "queue.hpp"
#include "routes.hpp"

#include <regex>

namespace mailroom::api {
namespace {

db::QueueEmailRow visible_email(Call& call) {
  auto email = db::EmailQueue(call.services.pool).find(call.params.at(0));  // row-level security decides
  if (!email) throw not_found("email " + call.params.at(0));
  return *email;
}

Response post_emails(Call& call) {
  const json body = parse_body(call.request);
  const bool many = body.is_object() && body.contains("emails");
  if (many) check_body(body, "NewEmails");
  const json items = many ? body["emails"] : json::array({body});
  json errors = json::array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    try {
      check_body(items[i], "NewEmail");
    } catch (const Problem& p) {
      for (auto e : p.errors) {
        if (many) e["pointer"] = "/emails/" + std::to_string(i) + e["pointer"].get<std::string>();
        errors.push_back(e);
      }
    }
  }
  if (!errors.empty()) {
    const std::string at = errors[0]["pointer"].get<std::string>();
    throw Problem{http::status::bad_request, "Invalid request",
                  "at " + (at.empty() ? std::string("(root)") : at) + ": " + errors[0]["message"].get<std::string>(), errors};
  }
  std::vector<queue::EmailRequest> requests;
  try {
    for (const auto& item : items) requests.push_back(queue::email_request_from_json(item));
  } catch (const queue::EnqueueError& e) {
    throw Problem{http::status::bad_request, "Invalid request", e.what()};
  }
  if (auto key = call.request["Idempotency-Key"]; !key.empty()) {
    if (many) throw Problem{http::status::bad_request, "Invalid request", "Idempotency-Key applies to a single email"};
    requests[0].idempotency_key = std::string(key);
  }
  // The configuration must be the caller's: enqueue reads it under row-level security, so
  // someone else's is reported as missing.
  std::vector<queue::EnqueueResult> results;
  try {
    results = queue::enqueue(call.services.pool, plugins_of(call), requests, call.who.user_id,
                             {call.services.public_url});
  } catch (const queue::UnknownConfiguration& e) {
    throw Problem{http::status::not_found, "Not found", e.what()};
  } catch (const queue::EnqueueError& e) {
    throw Problem{http::status::unprocessable_entity, "Cannot queue", e.what()};
  }
  json out = json::array();
  for (const auto& r : results) {
    json item{{"id", text_or_null(r.id)}, {"duplicate", r.duplicate}, {"suppressed", r.suppressed}};
    if (!r.not_queued.empty()) item["not_queued"] = r.not_queued;
    out.push_back(item);
  }
  return json_response(http::status::accepted, many ? json{{"emails", out}} : out[0], call.request);
}

Response list_emails(Call& call) {
  const auto q = query(call.request, {"status", "to", "configuration", "tag", "limit", "cursor"});
  db::EmailFilter filter;
  auto get = [&](const char* k) { return q.count(k) ? q.at(k) : std::string(); };
  filter.status = get("status");
  if (!filter.status.empty() && !db::email_status_from_string(filter.status))
    throw Problem{http::status::bad_request, "Invalid request", "status must be one of pending, queued, sending, sent, failed, bounced, spam"};
  filter.recipient = get("to");
  filter.configuration_id = get("configuration");
  filter.tag = get("tag");
  filter.limit = page_limit(q);
  if (const auto cursor = get("cursor"); !cursor.empty()) {
    static const std::regex shape("^([0-9]{1,19})\\.([0-9a-f-]{36})$");
    std::smatch m;
    if (!std::regex_match(cursor, m, shape))
      throw Problem{http::status::bad_request, "Invalid request", "cursor is not one this API gave (use next_cursor)"};
    filter.after_created_micros = m[1];
    filter.after_id = m[2];
  }
  const auto rows = db::EmailQueue(call.services.pool).list(filter);
  json emails = json::array();
  for (const auto& [row, micros] : rows) emails.push_back(queue::to_json(row));
  json next = nullptr;
  if (rows.size() == filter.limit) next = rows.back().second + "." + rows.back().first.id;
  return json_response(http::status::ok, {{"emails", emails}, {"next_cursor", next}}, call.request);
}

Response get_email(Call& call) { return json_response(http::status::ok, queue::to_json(visible_email(call)), call.request); }

Response email_logs(Call& call) {
  const auto email = visible_email(call);
  json logs = json::array();
  for (const auto& l : db::EmailQueue(call.services.pool).logs(email.id))
    logs.push_back(queue::to_json(l));
  return json_response(http::status::ok,
                       {{"email_id", email.id}, {"tags", email.tags}, {"metadata", email.metadata}, {"logs", logs}},
                       call.request);
}

Response retry_email(Call& call) {
  const auto email = visible_email(call);
  db::EmailQueue queue(call.services.pool);
  if (!queue.retry(email.id, call.who.user_id))
    throw Problem{http::status::conflict, "Conflict", "email " + email.id + " is " + email.status + "; only failed emails can be retried"};
  return json_response(http::status::ok, queue::to_json(*queue.find(email.id)), call.request);
}

Response cancel_email(Call& call) {
  const auto email = visible_email(call);
  db::EmailQueue queue(call.services.pool);
  if (!queue.cancel(email.id, call.who.user_id))
    throw Problem{http::status::conflict, "Conflict", "email " + email.id + " is " + email.status + "; only queued emails can be cancelled"};
  return json_response(http::status::ok, queue::to_json(*queue.find(email.id)), call.request);
}

}  // namespace

void add_email_routes(std::vector<Route>& routes) {
  routes.push_back({http::verb::post, "/v1/emails", post_emails});
  routes.push_back({http::verb::get, "/v1/emails", list_emails, true, true});
  routes.push_back({http::verb::get, "/v1/emails/{id}", get_email});
  routes.push_back({http::verb::get, "/v1/emails/{id}/logs", email_logs});
  routes.push_back({http::verb::post, "/v1/emails/{id}/retry", retry_email});
  routes.push_back({http::verb::post, "/v1/emails/{id}/cancel", cancel_email});
}

}  // namespace mailroom::api
