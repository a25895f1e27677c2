#include "json_schema.hpp"
#include "routes.hpp"

#include <boost/locale/utf.hpp>
#include <boost/url/parse.hpp>

#include <mutex>
#include <optional>
#include <regex>

namespace mailroom::api {

extern const char* const kOpenApiDocument;

Problem not_found(const std::string& what) { return {http::status::not_found, "Not found", "no " + what}; }

Problem bad_request(const std::string& pointer, const std::string& message) {
  return {http::status::bad_request, "Invalid request", "at " + (pointer.empty() ? std::string("(root)") : pointer) + ": " + message,
          json::array({{{"pointer", pointer}, {"message", message}}})};
}

bool is_utf8(std::string_view text) {
  namespace utf = boost::locale::utf;
  for (auto it = text.begin(); it != text.end();) {
    const auto c = utf::utf_traits<char>::decode(it, text.end());
    if (c == utf::illegal || c == utf::incomplete) return false;
  }
  return true;
}

std::string input_problem(std::string_view text) {
  if (!is_utf8(text)) return "is not valid UTF-8";
  for (const unsigned char c : text)
    if (c < 0x20 || c == 0x7f) return "contains a control character (" + std::to_string(c) + ")";
  return "";
}

std::string dump(const json& value) {
  // Text that came from a request or a provider may hold invalid UTF-8; it is replaced
  // (U+FFFD) rather than thrown on, so an answer can always be written.
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

Response problem_response(const Problem& p, unsigned version, bool keep_alive) {
  Response r(p.status, version);
  r.set(http::field::content_type, "application/problem+json");
  json body{{"type", "about:blank"}, {"title", p.title}, {"status", static_cast<int>(p.status)}};
  if (!p.detail.empty()) body["detail"] = p.detail;
  if (!p.errors.empty()) body["errors"] = p.errors;
  r.body() = dump(body);
  r.keep_alive(keep_alive);
  r.prepare_payload();
  return r;
}

Response json_response(http::status status, const json& body, const Request& request) {
  Response r(status, request.version());
  r.set(http::field::content_type, "application/json");
  r.body() = dump(body);
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

namespace {

// The first string (or member name) holding a NUL, as a JSON pointer: PostgreSQL's text
// cannot store one, and a C string would end there. Depth is bounded by parse_body.
std::optional<std::string> nul_at(const json& value, const std::string& pointer) {
  const auto escaped = [](std::string key) {
    for (std::size_t at = 0; (at = key.find_first_of("~/", at)) != std::string::npos; at += 2)
      key.replace(at, 1, key[at] == '~' ? "~0" : "~1");
    return key;
  };
  if (value.is_string()) {
    if (value.get_ref<const std::string&>().find('\0') != std::string::npos) return pointer;
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i)
      if (auto at = nul_at(value[i], pointer + "/" + std::to_string(i))) return at;
  } else if (value.is_object()) {
    for (const auto& [key, member] : value.items()) {
      const std::string here = pointer + "/" + escaped(key);
      if (key.find('\0') != std::string::npos) return here;
      if (auto at = nul_at(member, here)) return at;
    }
  }
  return std::nullopt;
}

}  // namespace

json parse_body(const Request& request) {
  json body;
  try {
    // Nesting is bounded while parsing: a deep document would otherwise exhaust the stack
    // of whatever walks it next (copies, the schema validator, templates).
    body = json::parse(request.body(), [](int depth, json::parse_event_t event, json&) {
      if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
          depth >= kMaxJsonDepth)
        throw Problem{http::status::bad_request, "Malformed JSON",
                      "the body nests objects and arrays deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
      return true;
    });
  } catch (const json::parse_error& e) {
    throw Problem{http::status::bad_request, "Malformed JSON",
                  "the body is not valid JSON (byte " + std::to_string(e.byte) + ")"};
  } catch (const json::out_of_range&) {
    throw Problem{http::status::bad_request, "Malformed JSON", "the body holds a number too large to represent"};
  }
  if (const auto at = nul_at(body, "")) throw bad_request(*at, "contains a NUL character (\\u0000)");
  return body;
}

const json& openapi_document() {
  static const json document = json::parse(kOpenApiDocument);
  return document;
}

namespace {

// components.schemas[name] of the OpenAPI document, compiled once. The validator takes no
// "$ref" and ignores "format": the schemas used here are self-contained, and handlers check
// addresses themselves.
const json_schema::Schema& schema_named(const std::string& schema_name) {
  static std::mutex mutex;
  static std::map<std::string, json_schema::Schema> schemas;
  std::lock_guard lock(mutex);
  auto it = schemas.find(schema_name);
  if (it == schemas.end())
    it = schemas.emplace(schema_name, json_schema::Schema(openapi_document()["components"]["schemas"][schema_name])).first;
  return it->second;
}

}  // namespace

std::string schema_problem(const json& body, const std::string& schema_name) {
  const auto violations = schema_named(schema_name).validate(body);
  return violations.empty() ? "" : json_schema::describe({violations[0]});
}

void check_body(const json& body, const std::string& schema_name) {
  const auto violations = schema_named(schema_name).validate(body);
  if (violations.empty()) return;
  json errors = json::array();
  for (const auto& v : violations) errors.push_back({{"pointer", v.instance_path}, {"message", v.message}});
  throw Problem{http::status::bad_request, "Invalid request", json_schema::describe({violations[0]}), errors};
}

const plugin_host::PluginHost& plugins_of(Call& call) {
  if (call.services.plugins == nullptr)
    throw Problem{http::status::service_unavailable, "No plugins", "this server has no plugins loaded"};
  return *call.services.plugins;
}

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
    if (const auto why = input_problem(param.key); !why.empty())
      throw Problem{http::status::bad_request, "Invalid request", "a query parameter's name " + why};
    if (const auto why = input_problem(param.value); !why.empty())
      throw Problem{http::status::bad_request, "Invalid request", "query parameter '" + param.key + "' " + why};
    if (std::find(allowed.begin(), allowed.end(), param.key) == allowed.end()) {
      std::string known;
      for (const auto& a : allowed) known += (known.empty() ? "" : ", ") + a;
      throw Problem{http::status::bad_request, "Invalid request",
                    "unknown query parameter '" + param.key + "'" + (known.empty() ? " (this endpoint takes none)" : " (known: " + known + ")")};
    }
    out[param.key] = param.value;
  }
  return out;
}

}  // namespace mailroom::api
