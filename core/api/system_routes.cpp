// /healthz, /readyz, /metrics, /v1/openapi.json: no token needed.
#include "metrics.hpp"
#include "migrate.hpp"
#include "routes.hpp"

#include <sstream>

namespace mailroom::api {

extern const char* const kOpenApiDocument;

namespace {

Response healthz(Call& call) { return json_response(http::status::ok, {{"status", "ok"}}, call.request); }

Response readyz(Call& call) {
  std::ostringstream progress;
  try {
    migrate::Migrator migrator(call.services.pool.url(), migrate::embedded_migrations(), progress);
    for (const auto& s : migrator.status())
      if (!s.applied || !s.problem.empty())
        throw Problem{http::status::service_unavailable, "Not ready",
                      "migration " + s.version + " is " + (s.applied ? s.problem : "not applied (mailroom migrate up)")};
  } catch (const migrate::MigrationError& e) {
    throw Problem{http::status::service_unavailable, "Not ready", e.what()};
  } catch (const db::DbError& e) {
    throw Problem{http::status::service_unavailable, "Not ready", e.what()};
  }
  return json_response(http::status::ok, {{"status", "ready"}}, call.request);
}

// Queue depth comes from the database (shared by every host); the rest is this process's.
Response metrics_text(Call& call) {
  std::string text = "# HELP mailroom_emails Emails in the queue by status (all hosts).\n# TYPE mailroom_emails gauge\n";
  for (const auto& [status, count] : db::EmailQueue(call.services.pool).status_counts(""))
    text += "mailroom_emails{status=\"" + status + "\"} " + std::to_string(count) + "\n";
  text += metrics::Registry::global().render();
  Response r(http::status::ok, call.request.version());
  r.set(http::field::content_type, "text/plain; version=0.0.4");
  r.body() = std::move(text);
  r.keep_alive(call.request.keep_alive());
  r.prepare_payload();
  return r;
}

Response openapi(Call& call) {
  Response r(http::status::ok, call.request.version());
  r.set(http::field::content_type, "application/json");
  r.body() = kOpenApiDocument;
  r.keep_alive(call.request.keep_alive());
  r.prepare_payload();
  return r;
}

}  // namespace

void add_system_routes(std::vector<Route>& routes) {
  routes.push_back({http::verb::get, "/healthz", healthz, false});
  routes.push_back({http::verb::get, "/readyz", readyz, false});
  routes.push_back({http::verb::get, "/metrics", metrics_text, false});
  routes.push_back({http::verb::get, "/v1/openapi.json", openapi, false});
}

}  // namespace mailroom::api
