// /v1/email-configurations: create (secrets write-only), list, get, update, delete, verify.
#include "email_config.hpp"
#include "providers.hpp"
#include "routes.hpp"

namespace mailroom::api {
namespace {

const crypto::SecretBox& box_of(Call& call) {
  if (call.services.box == nullptr)
    throw Problem{http::status::service_unavailable, "No master key", "this server has no master key for secrets"};
  return *call.services.box;
}

db::EmailConfiguration visible_configuration(Call& call) {
  auto row = db::EmailConfigurations(call.services.pool).find(call.params.at(0));  // row-level security decides
  if (!row) throw not_found("email configuration " + call.params.at(0));
  return *row;
}

// The request's fields as email_config's input (a DSN first, explicit fields over it).
email_config::Input input_of(const json& body, const plugin_host::PluginHost& plugins) {
  email_config::Input in;
  if (body.contains("dsn")) in = email_config::parse_dsn(body["dsn"], plugins);
  if (body.contains("provider")) {
    if (body.contains("dsn") && body["provider"] != in.provider)
      throw email_config::InputError("provider contradicts the DSN (" + in.provider + ")");
    in.provider = body["provider"];
  }
  if (body.contains("from")) in.from_address = body["from"];
  if (body.contains("from_name")) in.from_name = body["from_name"];
  if (body.contains("reply_to")) in.reply_to_address = body["reply_to"];
  if (body.contains("plugin")) in.plugin = body["plugin"];
  // null: back to what the plugin declares (email_config takes 0 for that).
  if (body.contains("send_window"))
    in.send_window = body["send_window"].is_null() ? 0 : body["send_window"].get<long long>();
  if (body.contains("requests_per_second"))
    in.requests_per_second = body["requests_per_second"].is_null() ? 0.0 : body["requests_per_second"].get<double>();
  for (const auto& [name, field] : {std::pair{"daily_limit", &in.daily_limit}, std::pair{"hourly_limit", &in.hourly_limit}})
    if (body.contains(name)) *field = body[name].is_null() ? 0 : body[name].get<long long>();
  if (body.contains("list_unsubscribe")) in.list_unsubscribe = body["list_unsubscribe"].get<bool>();
  if (body.contains("unsubscribe_mailto"))
    in.unsubscribe_mailto = body["unsubscribe_mailto"].is_null() ? "" : body["unsubscribe_mailto"].get<std::string>();
  if (body.contains("settings")) in.settings.merge_patch(body["settings"]);
  if (body.contains("secrets")) {
    if (in.secret_from_dsn) throw email_config::InputError("the DSN already carries a secret; give secrets once");
    in.secrets = body["secrets"].get<std::map<std::string, std::string>>();
  }
  return in;
}

// What the worker would refuse at send time is refused now: the plugin must be loaded, and
// must take the settings and secrets (its schema, its factory's own checks).
void check_provider(const plugin_host::PluginHost& plugins, const db::EmailConfiguration& row,
                    const crypto::SecretBox& box) {
  try {
    providers::make_email_provider(row, plugins, box);
  } catch (const ProviderError& e) {
    throw Problem{http::status::unprocessable_entity, "Invalid configuration", e.info().message};
  }
}

json view(Call& call, const db::EmailConfiguration& row) {
  const auto* plugin = call.services.plugins ? call.services.plugins->find(row.plugin_name()) : nullptr;
  return email_config::view(row, plugin ? &plugin->manifest : nullptr, call.services.box);
}

Response list(Call& call) {
  json out = json::array();
  for (const auto& row : db::EmailConfigurations(call.services.pool).list(call.who.user_id)) out.push_back(view(call, row));
  return json_response(http::status::ok, {{"configurations", out}}, call.request);
}

Response create(Call& call) {
  const auto& box = box_of(call);
  const auto& plugins = plugins_of(call);
  const json body = parse_body(call.request);
  check_body(body, "NewEmailConfiguration");
  db::EmailConfigurations repo(call.services.pool);
  try {
    db::EmailConfiguration row;
    row.id = repo.new_id();
    row.user_id = call.who.user_id;  // from the token: a user creates only its own
    const auto input = input_of(body, plugins);
    email_config::apply(input, row, plugins, box, true);
    check_provider(plugins, row, box);
    repo.create(row, call.who.user_id);
    return json_response(http::status::created, view(call, *repo.find(row.id)), call.request);
  } catch (const email_config::InputError& e) {
    throw Problem{http::status::unprocessable_entity, "Invalid configuration", e.what()};
  } catch (const db::DbError& e) {
    throw Problem{http::status::unprocessable_entity, "Invalid configuration", e.what()};
  }
}

Response get(Call& call) { return json_response(http::status::ok, view(call, visible_configuration(call)), call.request); }

Response update(Call& call) {
  const auto& box = box_of(call);
  const auto& plugins = plugins_of(call);
  const json body = parse_body(call.request);
  check_body(body, "EmailConfigurationChange");
  auto row = visible_configuration(call);
  try {
    const auto input = input_of(body, plugins);
    email_config::apply(input, row, plugins, box, false);
    if (body.contains("is_active")) row.is_active = body["is_active"];
    check_provider(plugins, row, box);
    db::EmailConfigurations(call.services.pool).update(row, call.who.user_id);
  } catch (const email_config::InputError& e) {
    throw Problem{http::status::unprocessable_entity, "Invalid configuration", e.what()};
  } catch (const db::DbError& e) {
    throw Problem{http::status::unprocessable_entity, "Invalid configuration", e.what()};
  }
  return json_response(http::status::ok, view(call, *db::EmailConfigurations(call.services.pool).find(row.id)),
                       call.request);
}

Response remove(Call& call) {
  const auto row = visible_configuration(call);
  try {
    db::EmailConfigurations(call.services.pool).remove(row.id, row.user_id, call.who.user_id);
  } catch (const pqxx::foreign_key_violation&) {
    throw Problem{http::status::conflict, "In use", "emails still refer to configuration " + row.id};
  }
  return no_content(call.request);
}

Response verify(Call& call) {
  const auto& box = box_of(call);
  const auto& plugins = plugins_of(call);
  auto row = visible_configuration(call);
  db::EmailConfigurations repo(call.services.pool);
  try {
    row.verify_unchecked = providers::make_email_provider(row, plugins, box, &call.services.pool)->verify().unchecked;
  } catch (const ProviderError& e) {
    if (row.is_verified || !row.verify_unchecked.empty()) {
      row.is_verified = false;
      row.verify_unchecked.clear();
      repo.update(row, call.who.user_id);
    }
    throw Problem{http::status::unprocessable_entity, "Not verified", "the provider refused: " + e.info().message};
  }
  row.is_verified = true;
  repo.update(row, call.who.user_id);
  return json_response(http::status::ok, view(call, *repo.find(row.id)), call.request);
}

}  // namespace

void add_configuration_routes(std::vector<Route>& routes) {
  routes.push_back({http::verb::get, "/v1/email-configurations", list});
  routes.push_back({http::verb::post, "/v1/email-configurations", create});
  routes.push_back({http::verb::get, "/v1/email-configurations/{id}", get});
  routes.push_back({http::verb::patch, "/v1/email-configurations/{id}", update});
  routes.push_back({http::verb::delete_, "/v1/email-configurations/{id}", remove});
  routes.push_back({http::verb::post, "/v1/email-configurations/{id}/verify", verify});
}

}  // namespace mailroom::api
