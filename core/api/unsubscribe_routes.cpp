// /v1/unsubscribe/{token}: one-click unsubscription (RFC 8058). No bearer token: the token in the
// path is the proof (queue::unsubscribe_email_id checks its HMAC). A mailbox provider POSTs
// "List-Unsubscribe=One-Click" to it; a person who opens the link gets a page whose button POSTs.
// GET never unsubscribes (link scanners and previews open links). A POST adds the recipient to
// the email owner's suppressions (reason unsubscribe) and writes an `unsubscribed` delivery log,
// in one transaction, once however often it is repeated; a forged or altered token changes
// nothing and answers 404.
#include "queue.hpp"
#include "routes.hpp"

namespace mailroom::api {
namespace {

Response page(http::status status, const std::string& body, const Request& request) {
  Response r(status, request.version());
  r.set(http::field::content_type, "text/html; charset=utf-8");
  r.set(http::field::cache_control, "no-store");
  r.body() = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
             "content=\"width=device-width\"><meta name=\"robots\" content=\"noindex\"><title>Unsubscribe</title></head>"
             "<body style=\"font-family:sans-serif;max-width:32em;margin:4em auto\">" + body + "</body></html>\n";
  r.keep_alive(request.keep_alive());
  r.prepare_payload();
  return r;
}

// The email the token names; 404 when the token is not one this deployment made.
db::QueueEmailRow email_of(Call& call) {
  if (call.services.box == nullptr)
    throw Problem{http::status::service_unavailable, "Not ready", "this server has no master key"};
  const auto id = queue::unsubscribe_email_id(*call.services.box, call.params.at(0));
  const auto email = id ? db::EmailQueue(call.services.pool).find(*id) : std::nullopt;
  if (!email) throw not_found("unsubscribe link (it is not one this server made, or was altered)");
  return *email;
}

Response confirm(Call& call) {
  email_of(call);
  return page(http::status::ok,
              "<h1>Unsubscribe?</h1><p>You will receive no more of these emails.</p>"
              "<form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
              "<button type=\"submit\">Unsubscribe</button></form>",
              call.request);
}

Response unsubscribe(Call& call) {
  const auto email = email_of(call);
  db::WebhookEvent event;
  event.email_id = email.id;
  event.event_id = "one-click:" + email.id;  // repeated POSTs are recorded once
  event.event_type = db::LogEvent::unsubscribed;
  event.event_status = "one-click";
  event.suppress = "unsubscribe";
  const auto configuration = db::EmailConfigurations(call.services.pool).find(email.configuration_id);
  if (configuration) db::EmailQueue(call.services.pool).record_events(*configuration, {event});
  else db::Suppressions(call.services.pool).add(email.user_id, email.recipient_email, "unsubscribe");
  return page(http::status::ok, "<h1>Unsubscribed</h1><p>You will receive no more of these emails.</p>", call.request);
}

}  // namespace

void add_unsubscribe_routes(std::vector<Route>& routes) {
  routes.push_back({http::verb::get, "/v1/unsubscribe/{token}", confirm, false, false});
  routes.push_back({http::verb::post, "/v1/unsubscribe/{token}", unsubscribe, false, false});
}

}  // namespace mailroom::api
