// /v1/dns/zones...: zones, desired records, plan, apply, validate, email-setup (docs/dns.md).
#include "dns.hpp"
#include "routes.hpp"

namespace mailroom::api {
namespace {

struct DnsSession {
  std::unique_ptr<resolver::Resolver> resolver;
  std::unique_ptr<dns::Engine> engine;
};

// The engine for one request; with_resolver for the endpoints that query DNS (validate,
// email-setup), the others need none.
DnsSession session(Call& call, bool with_resolver = false) {
  const auto& plugins = plugins_of(call);
  DnsSession s;
  if (with_resolver) {
    resolver::ResolverOptions options;
    options.servers = call.services.dns_resolver;
    s.resolver = resolver::make_resolver(options);
  }
  s.engine = std::make_unique<dns::Engine>(call.services.pool, plugins, call.services.box, s.resolver.get());
  return s;
}

// Errors of the engine are the caller's: 422 naming what is wrong (404 for an unknown zone).
template <class F>
auto guarded(F&& f) {
  try {
    return f();
  } catch (const dns::NotFound& e) {
    throw Problem{http::status::not_found, "Not found", e.what()};
  } catch (const dns::DnsError& e) {
    throw Problem{http::status::unprocessable_entity, "DNS refused", e.what()};
  } catch (const ProviderError& e) {
    throw Problem{http::status::bad_gateway, "Provider error",
                  "the DNS provider answered: " + e.info().message};
  }
}

db::DnsZoneRow visible_zone(Call& call) {
  auto zone = db::DnsZones(call.services.pool).find(call.who.user_id, call.params.at(0));  // row-level security too
  if (!zone) throw not_found("zone " + call.params.at(0));
  return *zone;
}

Response list_zones(Call& call) {
  json out = json::array();
  for (const auto& z : db::DnsZones(call.services.pool).list(call.who.user_id)) out.push_back(dns::to_json(z));
  return json_response(http::status::ok, {{"zones", out}}, call.request);
}

Response add_zone(Call& call) {
  const json body = parse_body(call.request);
  check_body(body, "NewDnsZone");
  if (call.services.box == nullptr && body.contains("secrets"))
    throw Problem{http::status::service_unavailable, "No master key", "this server has no master key for secrets"};
  auto s = session(call);
  dns::ZoneInput input;
  input.user_id = call.who.user_id;
  input.name = body["name"];
  input.provider = body["provider"];
  input.plugin = body.value("plugin", "");
  input.settings = body.value("settings", json::object());
  if (body.contains("secrets")) input.secrets = body["secrets"].get<std::map<std::string, std::string>>();
  const auto zone = guarded([&] { return s.engine->add_zone(input, call.who.user_id); });
  return json_response(http::status::created, dns::to_json(*db::DnsZones(call.services.pool).find(zone.user_id, zone.name)),
                       call.request);
}

Response get_zone(Call& call) { return json_response(http::status::ok, dns::to_json(visible_zone(call)), call.request); }

Response remove_zone(Call& call) {
  db::DnsZones(call.services.pool).remove(visible_zone(call).id, call.who.user_id);
  return no_content(call.request);
}

Response list_records(Call& call) {
  json out = json::array();
  for (const auto& r : db::DnsRecords(call.services.pool).list(visible_zone(call).id)) out.push_back(dns::to_json(r));
  return json_response(http::status::ok, {{"records", out}}, call.request);
}

Response add_record(Call& call) {
  const json body = parse_body(call.request);
  check_body(body, "NewDnsRecord");
  const auto zone = visible_zone(call);
  auto s = session(call);
  RecordSpec record{*record_type_from_string(body["type"].get<std::string>()), body["name"], body["value"],
                    body.value("ttl", 3600), std::nullopt};
  if (body.contains("priority")) record.priority = body["priority"].get<int>();
  const auto id = guarded([&] { return s.engine->add_record(zone, record, call.who.user_id); });
  for (const auto& r : db::DnsRecords(call.services.pool).list(zone.id))
    if (r.id == id) return json_response(http::status::created, dns::to_json(r), call.request);
  throw not_found("record " + id);
}

Response remove_record(Call& call) {
  const auto zone = visible_zone(call);
  auto s = session(call);
  guarded([&] {
    s.engine->remove_record(zone, call.params.at(1), call.who.user_id);
    return 0;
  });
  return json_response(http::status::accepted, {{"id", call.params.at(1)}, {"desired", "absent"}}, call.request);
}

Response plan(Call& call) {
  const auto zone = visible_zone(call);
  auto s = session(call);
  return json_response(http::status::ok, guarded([&] { return s.engine->plan(zone); }).to_json(), call.request);
}

Response apply(Call& call) {
  const json body = call.request.body().empty() ? json::object() : parse_body(call.request);
  check_body(body, "DnsApply");
  const auto zone = visible_zone(call);
  auto s = session(call);
  dns::ApplyOptions options;
  options.force = body.value("force", false);
  options.plan_checksum = body.value("plan_checksum", "");
  return json_response(http::status::ok, dns::to_json(guarded([&] { return s.engine->apply(zone, options, call.who.user_id); })),
                       call.request);
}

Response validate(Call& call) {
  const auto zone = visible_zone(call);
  auto s = session(call, true);
  const auto results = guarded([&] { return s.engine->validate(zone, call.who.user_id); });
  return json_response(http::status::ok, {{"results", dns::to_json(results)}}, call.request);
}

Response email_setup(Call& call) {
  const json body = call.request.body().empty() ? json::object() : parse_body(call.request);
  check_body(body, "EmailSetup");
  const auto zone = visible_zone(call);
  auto s = session(call, true);
  dns::EmailSetupOptions options;
  options.dmarc_policy = body.value("dmarc_policy", options.dmarc_policy);
  options.dmarc_report_address = body.value("dmarc_report", "");
  options.spf_all = body.value("spf_all", options.spf_all);
  options.dkim_selector = body.value("dkim_selector", options.dkim_selector);
  options.dkim_algorithm = body.value("dkim_algorithm", options.dkim_algorithm);
  options.mx = body.value("mx", std::vector<std::string>{});
  options.ttl = body.value("ttl", options.ttl);
  return json_response(http::status::ok,
                       dns::to_json(guarded([&] { return s.engine->email_setup(zone, options, call.who.user_id); })),
                       call.request);
}

}  // namespace

void add_dns_routes(std::vector<Route>& routes) {
  routes.push_back({http::verb::get, "/v1/dns/zones", list_zones});
  routes.push_back({http::verb::post, "/v1/dns/zones", add_zone});
  routes.push_back({http::verb::get, "/v1/dns/zones/{zone}", get_zone});
  routes.push_back({http::verb::delete_, "/v1/dns/zones/{zone}", remove_zone});
  routes.push_back({http::verb::get, "/v1/dns/zones/{zone}/records", list_records});
  routes.push_back({http::verb::post, "/v1/dns/zones/{zone}/records", add_record});
  routes.push_back({http::verb::delete_, "/v1/dns/zones/{zone}/records/{id}", remove_record});
  routes.push_back({http::verb::get, "/v1/dns/zones/{zone}/plan", plan});
  routes.push_back({http::verb::post, "/v1/dns/zones/{zone}/apply", apply});
  routes.push_back({http::verb::post, "/v1/dns/zones/{zone}/validate", validate});
  routes.push_back({http::verb::post, "/v1/dns/zones/{zone}/email-setup", email_setup});
}

}  // namespace mailroom::api
