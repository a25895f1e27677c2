// /v1/suppressions, /v1/quota, /v1/audit-logs: what belongs to the caller's account.
#include "email_config.hpp"
#include "providers.hpp"
#include "routes.hpp"

#include <set>

namespace mailroom::api {
namespace {

Response list_suppressions(Call& call) {
  json out = json::array();
  for (const auto& [email, reason] : db::Suppressions(call.services.pool).list(call.who.user_id))
    out.push_back({{"email", email}, {"reason", reason}});
  return json_response(http::status::ok, {{"suppressions", out}}, call.request);
}

Response add_suppression(Call& call) {
  const json body = parse_body(call.request);
  check_body(body, "NewSuppression");
  const std::string email = body["email"];
  if (!email_config::is_email_address(email))
    throw Problem{http::status::bad_request, "Invalid request", "at /email: '" + email + "' is not an email address",
                  json::array({{{"pointer", "/email"}, {"message", "not an email address"}}})};
  db::Suppressions(call.services.pool).add(call.who.user_id, email, body.value("reason", "manual"));
  return json_response(http::status::created, {{"email", email}, {"reason", body.value("reason", "manual")}}, call.request);
}

Response remove_suppression(Call& call) {
  if (!db::Suppressions(call.services.pool).remove(call.who.user_id, call.params.at(0)))
    throw not_found("suppression of " + call.params.at(0));
  return no_content(call.request);
}

// One entry per configuration of the caller whose plugin declares a sending quota: the limits
// in force (the configuration's, else the plugin's defaults) and the gate's counters.
Response quota(Call& call) {
  const auto& plugins = plugins_of(call);
  json quotas = json::array();
  for (const auto& row : db::EmailConfigurations(call.services.pool).list(call.who.user_id)) {
    const auto* plugin = plugins.find(row.plugin_name());
    const auto limits = plugin ? providers::quota_limits(row, plugin->manifest) : std::nullopt;
    if (!limits) continue;
    json entry{{"configuration_id", row.id}, {"provider", row.provider}};
    if (const auto q = db::quota_of(call.services.pool, row.id)) {
      entry.update({{"used", true}, {"daily_limit", q->daily_limit}, {"daily_used", q->daily_used},
                    {"hourly_limit", q->hourly_limit}, {"hourly_used", q->hourly_used},
                    {"daily_reset_at", text_or_null(q->daily_reset_at)}, {"hourly_reset_at", text_or_null(q->hourly_reset_at)},
                    {"is_quota_exceeded", q->exceeded}, {"quota_exceeded_at", text_or_null(q->exceeded_at)}});
    } else {
      entry.update({{"used", false}, {"daily_limit", limits->daily}, {"daily_used", 0}, {"hourly_limit", limits->hourly},
                    {"hourly_used", 0}, {"daily_reset_at", nullptr}, {"hourly_reset_at", nullptr},
                    {"is_quota_exceeded", false}, {"quota_exceeded_at", nullptr}});
    }
    quotas.push_back(entry);
  }
  return json_response(http::status::ok, {{"quotas", quotas}}, call.request);
}

Response audit_logs(Call& call) {
  const auto q = query(call.request, {"resource_type", "resource_id", "limit", "cursor"});
  db::AuditFilter filter;
  if (q.count("resource_type")) {
    filter.resource_type = q.at("resource_type");
    static const std::set<std::string> kinds = {"email_configuration", "dns_record", "dns_zone"};
    if (!kinds.contains(filter.resource_type))
      throw Problem{http::status::bad_request, "Invalid request",
                    "resource_type must be one of email_configuration, dns_record, dns_zone"};
  }
  if (q.count("resource_id")) {
    filter.resource_id = q.at("resource_id");
    if (!db::is_uuid(filter.resource_id))
      throw Problem{http::status::bad_request, "Invalid request", "resource_id is not a UUID"};
  }
  if (q.count("cursor")) {
    filter.before_id = q.at("cursor");
    // A cursor is the id of the last entry of a page this caller was given.
    if (!db::is_uuid(filter.before_id) || !db::audit_entry_visible(call.services.pool, filter.before_id))
      throw Problem{http::status::bad_request, "Invalid request", "cursor is not one this API gave (use next_cursor)"};
  }
  filter.limit = page_limit(q);
  const auto rows = db::audit_list(call.services.pool, filter);
  json entries = json::array();
  for (const auto& r : rows)
    entries.push_back({{"id", r.id},
                       {"created_at", r.created_at},
                       {"user_id", text_or_null(r.entry.user_id)},
                       {"action", r.entry.action},
                       {"resource_type", r.entry.resource_type},
                       {"resource_id", text_or_null(r.entry.resource_id)},
                       {"changed_fields", r.entry.changed_fields},
                       {"details", r.entry.details}});
  json next = rows.size() == filter.limit ? json(rows.back().id) : json(nullptr);
  return json_response(http::status::ok, {{"entries", entries}, {"next_cursor", next}}, call.request);
}

}  // namespace

void add_account_routes(std::vector<Route>& routes) {
  routes.push_back({http::verb::get, "/v1/suppressions", list_suppressions});
  routes.push_back({http::verb::post, "/v1/suppressions", add_suppression});
  routes.push_back({http::verb::delete_, "/v1/suppressions/{email}", remove_suppression});
  routes.push_back({http::verb::get, "/v1/quota", quota});
  routes.push_back({http::verb::get, "/v1/audit-logs", audit_logs, true, true});
}

}  // namespace mailroom::api
