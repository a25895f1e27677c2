#include "json_schema.hpp"
#include "routes.hpp"

#include <boost/url/parse.hpp>

#include <mutex>
#include <regex>

namespace mailroom::api {

extern const char* const kOpenApiDocument;

Problem not_found(const std::string& what) { return {http::status::not_found, "Not found", "no " + what}; }

Response problem_response(const Problem& p, unsigned version, bool keep_alive) {
  Response r(p.status, version);
  r.set(http::field::content_type, "application/problem+json");
  json body{{"type", "about:blank"}, {"title", p.title}, {"status", static_cast<int>(p.status)}};
  if (!p.detail.empty()) body["detail"] = p.detail;
  if (!p.errors.empty()) body["errors"] = p.errors;
  r.body() = body.dump();
  r.keep_alive(keep_alive);
  r.prepare_payload();
  return r;
}

Response json_response(http::status status, const json& body, const Request& request) {
  Response r(status, request.version());
  r.set(http::field::content_type, "application/json");
  r.body() = body.dump();
  r.keep_alive(request.keep_alive());
  r.prepare_payload();
  return r;
}

Response no_content(const Request& request) {
  Response r(http::status::no_content, request.version());
  r.keep_alive(request.keep_alive());
  r.prepare_payload();
  return r;
}

json parse_body(const Request& request) {
  try {
    return json::parse(request.body());
  } catch (const json::parse_error& e) {
    throw Problem{http::status::bad_request, "Malformed JSON",
                  "the body is not valid JSON (byte " + std::to_string(e.byte) + ")"};
  }
}

const json& openapi_document() {
  static const json document = json::parse(kOpenApiDocument);
  return document;
}

void check_body(const json& body, const std::string& schema_name) {
  // Compiled once per schema. The validator takes no "$ref" and ignores "format": the
  // schemas used here are self-contained, and handlers check addresses themselves.
  static std::mutex mutex;
  static std::map<std::string, json_schema::Schema> schemas;
  const json_schema::Schema* schema;
  {
    std::lock_guard lock(mutex);
    auto it = schemas.find(schema_name);
    if (it == schemas.end())
      it = schemas.emplace(schema_name, json_schema::Schema(openapi_document()["components"]["schemas"][schema_name])).first;
    schema = &it->second;
  }
  const auto violations = schema->validate(body);
  if (violations.empty()) return;
  json errors = json::array();
  for (const auto& v : violations) errors.push_back({{"pointer", v.instance_path}, {"message", v.message}});
  throw Problem{http::status::bad_request, "Invalid request", json_schema::describe({violations[0]}), errors};
}

json text_or_null(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

std::size_t page_limit(const std::map<std::string, std::string>& query) {
  const auto limit = query.find("limit");
  if (limit == query.end()) return 50;
  static const std::regex number("^[0-9]{1,4}$");
  if (!std::regex_match(limit->second, number) || std::stoi(limit->second) < 1 || std::stoi(limit->second) > 500)
    throw Problem{http::status::bad_request, "Invalid request", "limit must be 1-500"};
  return static_cast<std::size_t>(std::stoi(limit->second));
}

std::map<std::string, std::string> query(const Request& request, const std::vector<std::string>& allowed) {
  std::map<std::string, std::string> out;
  const auto target = boost::urls::parse_origin_form(std::string_view(request.target().data(), request.target().size()));
  if (!target) throw Problem{http::status::bad_request, "Invalid request", "the request target is not a valid URL path"};
  for (const auto& param : target->params()) {
    if (std::find(allowed.begin(), allowed.end(), param.key) == allowed.end()) {
      std::string known;
      for (const auto& a : allowed) known += (known.empty() ? "" : ", ") + a;
      throw Problem{http::status::bad_request, "Invalid request",
                    "unknown query parameter '" + param.key + "'" + (known.empty() ? "" : " (known: " + known + ")")};
    }
    out[param.key] = param.value;
  }
  return out;
}

}  // namespace mailroom::api
