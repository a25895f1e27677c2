// /v1/templates: list (the caller's and the system's), get, create or replace, delete,
// preview (a strict render with sample data).
#include "routes.hpp"
#include "templates.hpp"

namespace mailroom::api {
namespace {

json template_json(const db::TemplateRow& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"description", t.description},
          {"subject", t.subject},
          {"text_body", t.text_body},
          {"html_body", t.html_body},
          {"variables", t.variables},
          {"is_active", t.is_active},
          {"is_system_template", t.is_system_template}};
}

db::TemplateRow visible_template(Call& call) {
  auto t = db::Templates(call.services.pool).find(call.who.user_id, call.params.at(0));
  if (!t) throw not_found("template " + call.params.at(0));
  return *t;
}

Response list(Call& call) {
  json out = json::array();
  for (const auto& t : db::Templates(call.services.pool).list(call.who.user_id)) out.push_back(template_json(t));
  return json_response(http::status::ok, {{"templates", out}}, call.request);
}

Response get(Call& call) { return json_response(http::status::ok, template_json(visible_template(call)), call.request); }

Response put(Call& call) {
  const json body = parse_body(call.request);
  check_body(body, "TemplateContent");
  db::TemplateRow row;
  row.user_id = call.who.user_id;
  row.name = call.params.at(0);
  if (row.name.size() > 100 || row.name.find_first_of(" /\\") != std::string::npos)
    throw Problem{http::status::bad_request, "Invalid request", "a template name is 1-100 characters without spaces or slashes"};
  row.subject = body["subject"];
  row.text_body = body.value("text_body", "");
  row.html_body = body.value("html_body", "");
  row.description = body.value("description", "");
  row.is_active = body.value("is_active", true);
  if (row.text_body.empty() && row.html_body.empty())
    throw Problem{http::status::bad_request, "Invalid request", "a template needs text_body or html_body",
                  json::array({{{"pointer", "/text_body"}, {"message", "text_body or html_body is required"}}})};
  try {
    row.variables = templates::variables({row.subject, row.text_body, row.html_body});
  } catch (const templates::TemplateError& e) {
    throw Problem{http::status::unprocessable_entity, "Invalid template", e.what()};
  }
  // The answer is the row as written: find() sees active templates only, and this one may not be.
  row.id = db::Templates(call.services.pool).save(row, call.who.user_id);
  row.is_system_template = false;
  return json_response(http::status::ok, template_json(row), call.request);
}

Response remove(Call& call) {
  if (!db::Templates(call.services.pool).remove(call.who.user_id, call.params.at(0)))
    throw not_found("template " + call.params.at(0) + " of yours (system templates cannot be deleted)");
  return no_content(call.request);
}

Response preview(Call& call) {
  const json body = parse_body(call.request);
  check_body(body, "TemplatePreview");
  const auto t = visible_template(call);
  try {
    const auto out = templates::render_email({t.subject, t.text_body, t.html_body}, body.value("data", json::object()));
    return json_response(http::status::ok,
                         {{"subject", out.subject}, {"text_body", out.text_body}, {"html_body", out.html_body}},
                         call.request);
  } catch (const templates::TemplateError& e) {
    throw Problem{http::status::unprocessable_entity, "Cannot render", e.what()};
  }
}

}  // namespace

void add_template_routes(std::vector<Route>& routes) {
  routes.push_back({http::verb::get, "/v1/templates", list});
  routes.push_back({http::verb::get, "/v1/templates/{name}", get});
  routes.push_back({http::verb::put, "/v1/templates/{name}", put});
  routes.push_back({http::verb::delete_, "/v1/templates/{name}", remove});
  routes.push_back({http::verb::post, "/v1/templates/{name}/preview", preview});
}

}  // namespace mailroom::api
