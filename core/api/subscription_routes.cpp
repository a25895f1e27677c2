// /v1/webhook-subscriptions...: event webhooks to applications (docs/webhooks.md): create
// (the secret shown once), list, get, change, pause / resume, delete, rotate the secret,
// list attempts, replay.
#include "routes.hpp"
#include "webhooks.hpp"

namespace mailroom::api {
namespace {

constexpr long kDefaultGraceSeconds = 86400;

json subscription_json(const db::WebhookSubscription& s) {
  return {{"id", s.id},
          {"url", s.url},
          {"event_types", s.event_types},
          {"description", text_or_null(s.description)},
          {"status", s.status},
          {"paused_reason", text_or_null(s.paused_reason)},
          {"failing_since", text_or_null(s.failing_since)},
          {"previous_secret_expires_at", s.previous_secret_valid ? json(s.previous_secret_expires_at) : json(nullptr)},
          {"created_at", s.created_at},
          {"updated_at", s.updated_at}};
}

// The service for one request: the configured URL rules and a resolver for the SSRF check.
struct Session {
  std::unique_ptr<resolver::Resolver> resolver;
  std::unique_ptr<webhooks::Subscriptions> subscriptions;
};

Session session(Call& call) {
  if (call.services.box == nullptr)
    throw Problem{http::status::service_unavailable, "Not ready",
                  "this server has no master key (MAILROOM_MASTER_KEY): signing secrets cannot be sealed"};
  Session s;
  resolver::ResolverOptions options;
  options.servers = call.services.dns_resolver;
  s.resolver = resolver::make_resolver(options);
  webhooks::TargetPolicy policy{call.services.webhooks_allow_http, call.services.webhooks_allow_private_networks};
  s.subscriptions = std::make_unique<webhooks::Subscriptions>(call.services.pool, *call.services.box, policy, *s.resolver);
  return s;
}

template <class F>
auto guarded(F&& f) {
  try {
    return f();
  } catch (const webhooks::InvalidRequest& e) {
    throw Problem{http::status::unprocessable_entity, "Invalid subscription", e.what(),
                  json::array({{{"pointer", "/" + e.field()}, {"message", e.what()}}})};
  } catch (const db::DbError& e) {
    throw Problem{http::status::unprocessable_entity, "Invalid subscription", e.what()};
  }
}

db::WebhookSubscription visible(Call& call) {
  auto s = db::WebhookSubscriptions(call.services.pool).find(call.params.at(0));
  if (!s || (s->user_id != call.who.user_id && !call.who.is_admin)) throw not_found("webhook subscription " + call.params.at(0));
  return *s;
}

Response list(Call& call) {
  json out = json::array();
  for (const auto& s : db::WebhookSubscriptions(call.services.pool).list(call.who.user_id))
    out.push_back(subscription_json(s));
  return json_response(http::status::ok, {{"subscriptions", out}}, call.request);
}

Response get(Call& call) { return json_response(http::status::ok, subscription_json(visible(call)), call.request); }

Response create(Call& call) {
  const json body = parse_body(call.request);
  check_body(body, "NewWebhookSubscription");
  webhooks::SubscriptionInput input;
  input.url = body["url"];
  input.event_types = body.value("event_types", std::vector<std::string>{});
  input.description = body.value("description", "");
  auto s = session(call);
  const auto created = guarded([&] { return s.subscriptions->create(call.who.user_id, input, call.who.user_id); });
  json out = subscription_json(created.row);
  out["secret"] = created.secret;
  return json_response(http::status::created, out, call.request);
}

Response update(Call& call) {
  const json body = parse_body(call.request);
  check_body(body, "WebhookSubscriptionChange");
  auto row = visible(call);
  if (body.contains("url")) row.url = body["url"];
  if (body.contains("event_types")) row.event_types = body["event_types"].get<std::vector<std::string>>();
  if (body.contains("description")) row.description = body["description"];
  if (body.contains("status")) {
    row.status = body["status"];
    row.paused_reason.clear();
  }
  auto s = session(call);
  guarded([&] {
    s.subscriptions->update(row, call.who.user_id);
    return 0;
  });
  return json_response(http::status::ok, subscription_json(row), call.request);
}

Response remove(Call& call) {
  const auto row = visible(call);
  db::WebhookSubscriptions(call.services.pool).remove(row.id, call.who.user_id);
  return no_content(call.request);
}

Response rotate(Call& call) {
  json body = call.request.body().empty() ? json::object() : parse_body(call.request);
  check_body(body, "WebhookSecretRotation");
  const auto row = visible(call);
  auto s = session(call);
  const std::string secret = s.subscriptions->rotate(row, body.value("grace_seconds", kDefaultGraceSeconds), call.who.user_id);
  json out = subscription_json(db::WebhookSubscriptions(call.services.pool).find(row.id).value_or(row));
  out["secret"] = secret;
  return json_response(http::status::ok, out, call.request);
}

Response attempts(Call& call) {
  const auto limit = page_limit(query(call.request, {"limit"}));
  const auto row = visible(call);
  json out = json::array();
  for (const auto& a : db::WebhookSubscriptions(call.services.pool).attempts(row.id, limit))
    out.push_back({{"id", a.id},
                   {"webhook_id", a.message_id},
                   {"event_type", a.event_type},
                   {"attempt", a.attempt},
                   {"attempted_at", a.attempted_at},
                   {"status_code", a.status_code ? json(*a.status_code) : json(nullptr)},
                   {"latency_ms", a.latency_ms},
                   {"outcome", a.outcome},
                   {"error", text_or_null(a.error)},
                   {"response", text_or_null(a.response)}});
  return json_response(http::status::ok, {{"attempts", out}}, call.request);
}

Response replay(Call& call) {
  const json body = parse_body(call.request);
  check_body(body, "WebhookReplay");
  const auto row = visible(call);
  std::size_t requeued = 0;
  try {
    requeued = db::WebhookSubscriptions(call.services.pool).replay(row.id, body["since"], call.who.user_id);
  } catch (const pqxx::data_exception&) {
    throw bad_request("/since", "since must be a date-time such as 2026-12-01T00:00:00Z");
  }
  return json_response(http::status::ok, {{"requeued", requeued}}, call.request);
}

}  // namespace

void add_subscription_routes(std::vector<Route>& routes) {
  routes.push_back({http::verb::get, "/v1/webhook-subscriptions", list});
  routes.push_back({http::verb::post, "/v1/webhook-subscriptions", create});
  routes.push_back({http::verb::get, "/v1/webhook-subscriptions/{id}", get});
  routes.push_back({http::verb::patch, "/v1/webhook-subscriptions/{id}", update});
  routes.push_back({http::verb::delete_, "/v1/webhook-subscriptions/{id}", remove});
  routes.push_back({http::verb::post, "/v1/webhook-subscriptions/{id}/rotate-secret", rotate});
  routes.push_back({http::verb::get, "/v1/webhook-subscriptions/{id}/attempts", attempts, true, true});
  routes.push_back({http::verb::post, "/v1/webhook-subscriptions/{id}/replay", replay});
}

}  // namespace mailroom::api
