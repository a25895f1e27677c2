// Private to core/api: what the route handlers share. Each resource's file registers its
// routes; server.cpp matches a request to one, authenticates it, opens the caller's
// row-level-security scope (db::ActingAs) and calls the handler.
#pragma once

#include "api.hpp"

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace mailroom::api {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using nlohmann::json;

// An error a handler reports; becomes an application/problem+json response (RFC 9457).
struct Problem {
  http::status status;
  std::string title;
  std::string detail;
  json errors = json::array();  // [{pointer, message}]
};

Problem not_found(const std::string& what);
// 400 naming the field (a JSON pointer into the body) and what is wrong with it.
Problem bad_request(const std::string& pointer, const std::string& message);

// Whether text is well-formed UTF-8 (no overlong forms, no surrogates).
bool is_utf8(std::string_view text);
// Why text cannot be taken as a name or value from a path or query ("is not valid UTF-8",
// "contains a control character (0)"), or "" when it can.
std::string input_problem(std::string_view text);
// JSON text for an answer; invalid UTF-8 (echoed input) is replaced, never thrown on.
std::string dump(const json& value);

// The deepest nesting of objects and arrays a request body may have.
constexpr int kMaxJsonDepth = 32;

Response problem_response(const Problem& problem, unsigned version, bool keep_alive);
Response json_response(http::status status, const json& body, const Request& request);
Response no_content(const Request& request);

// The body as JSON, or 400: "Malformed JSON" (syntax, a number out of range, nesting deeper
// than kMaxJsonDepth), or the pointer of a string holding a NUL.
json parse_body(const Request& request);
// Checks `body` against components.schemas[schema] of the OpenAPI document: 400 naming
// each field at fault.
void check_body(const json& body, const std::string& schema);
// The query string's parameters (percent-decoded); a parameter not in `allowed` is a 400.
std::map<std::string, std::string> query(const Request& request, const std::vector<std::string>& allowed);

const json& openapi_document();

using db::text_or_null;
// A listing's page size from its query's "limit" (1-500, default 50), or a 400.
std::size_t page_limit(const std::map<std::string, std::string>& query);

struct Services {
  db::Pool& pool;
  const crypto::SecretBox* box;
  const plugin_host::PluginHost* plugins;
  std::string dns_resolver;
  std::string public_url;
  bool webhooks_allow_http = false;
  bool webhooks_allow_private_networks = false;
};

struct Call {
  const Request& request;
  Services& services;
  db::Authenticated who;            // unset for unauthenticated routes
  std::vector<std::string> params;  // the path's {parameters}, in order
};

// The server's plugins, or a 503 when it runs without any.
const plugin_host::PluginHost& plugins_of(Call& call);

using Handler = Response (*)(Call& call);

struct Route {
  http::verb method;
  std::string pattern;  // "/v1/emails/{id}/logs"
  Handler handler;
  bool authenticated = true;
  bool takes_query = false;  // false: any query parameter is refused (400 naming it)
};

void add_system_routes(std::vector<Route>& routes);
void add_email_routes(std::vector<Route>& routes);
void add_configuration_routes(std::vector<Route>& routes);
void add_template_routes(std::vector<Route>& routes);
void add_account_routes(std::vector<Route>& routes);  // suppressions, quota, audit log
void add_dns_routes(std::vector<Route>& routes);
void add_webhook_routes(std::vector<Route>& routes);
void add_unsubscribe_routes(std::vector<Route>& routes);  // one-click (RFC 8058), no token
void add_subscription_routes(std::vector<Route>& routes);  // event webhooks to applications

}  // namespace mailroom::api
