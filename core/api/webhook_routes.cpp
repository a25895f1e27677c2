// POST /v1/webhooks/{configuration id}: a provider's delivery events. No bearer token: the
// configuration's plugin verifies the provider's signature (parse_webhook) before anything is
// read. Each event becomes a delivery log of its own type (migration 012) and may change its
// email (to_log below: the one place that says what an event does); an event id seen before
// is ignored, an event whose email is not found is kept as unmatched.
#include "metrics.hpp"
#include "providers.hpp"
#include "routes.hpp"

namespace mailroom::api {
namespace {

double unix_seconds(std::chrono::system_clock::time_point at) {
  return std::chrono::duration<double>(at.time_since_epoch()).count();
}

db::WebhookEvent to_log(const DeliveryEvent& e) {
  db::WebhookEvent w;
  w.email_id = e.email_id;
  w.message_id = e.provider_message_id;
  w.event_id = e.provider_event_id;
  w.error_message = e.reason;
  w.recipient = e.recipient;
  w.occurred_at = unix_seconds(e.occurred_at);
  switch (e.type) {
    case DeliveryEventType::accepted: w.event_type = db::LogEvent::sent, w.event_status = "accepted"; break;
    case DeliveryEventType::delivered:
      w.event_type = db::LogEvent::delivered;
      w.change = db::EmailChange::delivered;
      break;
    case DeliveryEventType::deferred: w.event_type = db::LogEvent::deferred; break;
    case DeliveryEventType::bounced:
      w.event_type = db::LogEvent::bounced;
      w.bounce_type = e.bounce_type == "hard" ? "hard" : "soft";
      w.event_status = w.bounce_type;
      // A soft bounce (blocked, mailbox full) is the provider's to retry: logged, nothing changes.
      if (w.bounce_type == "hard") w.change = db::EmailChange::bounced, w.suppress = "hard_bounce";
      break;
    case DeliveryEventType::dropped:
      w.event_type = db::LogEvent::dropped;
      w.change = db::EmailChange::dropped;
      break;
    case DeliveryEventType::opened: w.event_type = db::LogEvent::opened; break;
    case DeliveryEventType::clicked: w.event_type = db::LogEvent::clicked, w.event_status = e.url; break;
    case DeliveryEventType::complained:
      w.event_type = db::LogEvent::complained;
      w.change = db::EmailChange::spam;
      w.suppress = "complaint";
      break;
    case DeliveryEventType::unsubscribed:
      w.event_type = db::LogEvent::unsubscribed;
      w.event_status = e.group.empty() ? "all" : "group " + e.group;
      w.suppress = e.group.empty() ? "unsubscribe" : "group_unsubscribe";
      break;
  }
  return w;
}

Response receive(Call& call) {
  if (call.services.plugins == nullptr || call.services.box == nullptr)
    throw Problem{http::status::service_unavailable, "Not ready", "this server has no plugins or master key"};
  const auto config = db::EmailConfigurations(call.services.pool).find(call.params.at(0));
  if (!config) throw not_found("email configuration " + call.params.at(0));
  const std::string& plugin_name = config->plugin_name();
  const auto* plugin = call.services.plugins->find(plugin_name);
  if (!plugin || !std::get<EmailCapabilities>(plugin->manifest.parsed_capabilities).webhooks)
    throw not_found("webhook for configuration " + config->id + " (plugin " + plugin_name +
                    " does not declare the capability webhooks)");
  HttpRequest request;
  request.method = std::string(call.request.method_string());
  request.target = std::string(call.request.target());
  for (const auto& field : call.request) request.headers.add(std::string(field.name_string()), std::string(field.value()));
  request.body = call.request.body();
  std::vector<DeliveryEvent> events;
  try {
    events = providers::make_email_provider(*config, *call.services.plugins, *call.services.box)->parse_webhook(request);
  } catch (const ProviderError& e) {
    if (e.kind() == ErrorKind::auth) throw Problem{http::status::unauthorized, "Unauthorized", e.info().message};
    throw Problem{http::status::bad_request, "Invalid request", e.info().message};
  }
  std::vector<db::WebhookEvent> logs;
  for (const auto& e : events) logs.push_back(to_log(e));
  const auto outcome = db::EmailQueue(call.services.pool).record_events(*config, logs);
  auto& registry = metrics::Registry::global();
  for (const auto& [name, count] : {std::pair{"recorded", outcome.recorded}, std::pair{"duplicate", outcome.duplicates},
                                    std::pair{"unmatched", outcome.unmatched}})
    if (count > 0) registry.add("mailroom_webhook_events_total", {{"provider", config->provider}, {"outcome", name}},
                                static_cast<double>(count));
  return json_response(http::status::ok,
                       {{"recorded", outcome.recorded}, {"duplicates", outcome.duplicates}, {"unmatched", outcome.unmatched}},
                       call.request);
}

}  // namespace

void add_webhook_routes(std::vector<Route>& routes) {
  routes.push_back({http::verb::post, "/v1/webhooks/{configuration}", receive, false, true});
}

}  // namespace mailroom::api
