// A property-based client driven by the server's own /v1/openapi.json: for every operation it
// sends valid requests (bodies, path and query parameters generated from the schemas, seeded
// with ids that exist) and mutated ones (wrong types, missing and unknown fields, hostile
// strings, numbers out of range, deep nesting, broken JSON, bad ids, unknown parameters,
// missing or foreign tokens). The properties: no 5xx, no lost connection, and a refused
// request (4xx) writes nothing (every table's rows are digested before and after).
//
// API_FUZZ_REQUESTS (default 2000) and API_FUZZ_SEED (default 1) change
// the run; a failure prints the seed and the request.
#include "serve_process.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <random>

namespace {

using nlohmann::json;
using mailroom::testing::ServeProcess;

struct Operation {
  std::string method;
  std::string path;  // "/v1/emails/{id}"
  json parameters = json::array();
  json body;  // the request body's schema, or null
};

class Generator {
 public:
  Generator(const json& document, unsigned seed) : document_(document), rng_(seed) {}

  std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <class T>
  const T& one_of(const std::vector<T>& items) { return items[pick(items.size())]; }

  const json& resolve(const json& schema) const {
    if (schema.is_object() && schema.contains("$ref")) {
      const std::string ref = schema["$ref"];  // "#/components/schemas/X"
      return document_["components"]["schemas"][ref.substr(ref.rfind('/') + 1)];
    }
    return schema;
  }

  // A value the schema accepts; `name` is the property's name, for realistic strings.
  json valid(const json& schema_ref, const std::string& name = "", int depth = 0) {
    const json& schema = resolve(schema_ref);
    if (schema.contains("oneOf")) return valid(schema["oneOf"][pick(schema["oneOf"].size())], name, depth);
    if (schema.contains("enum")) return schema["enum"][pick(schema["enum"].size())];
    std::string type = schema.contains("properties") ? "object" : "string";
    if (schema.contains("type")) {
      // A list of types ("integer" or "null"): one of them.
      const json& types = schema["type"];
      type = types.is_array() ? types[pick(types.size())].get<std::string>() : types.get<std::string>();
    }
    if (type == "null") return nullptr;
    if (type == "number") {
      const double hi = std::min(schema.value("maximum", 1000.0), 1000.0);
      return std::uniform_real_distribution<double>(0.5, hi)(rng_);
    }
    if (type == "object") {
      json out = json::object();
      if (name == "settings") return chance(0.5) ? json{{"zone", "fuzz.test"}} : json::object();
      if (name == "data") return json{{"name", "Ada"}, {"x", one_of(strings_)}};
      if (name == "secrets") return json{{"api_token", "t0ken"}};
      const auto required = schema.value("required", json::array());
      const auto properties = schema.value("properties", json::object());  // items() must not outlive it
      for (const auto& [key, property] : properties.items()) {
        const bool needed = std::find(required.begin(), required.end(), key) != required.end();
        if (needed || chance(0.4)) out[key] = valid(property, key, depth + 1);
      }
      return out;
    }
    if (type == "array") {
      json out = json::array();
      const std::size_t n = pick(std::min<std::size_t>(schema.value("maxItems", 3), 3) + 1);
      for (std::size_t i = 0; i < n; ++i) out.push_back(valid(schema.value("items", json::object()), name, depth + 1));
      return out;
    }
    if (type == "integer") {
      const long lo = schema.value("minimum", 0L), hi = std::min(schema.value("maximum", 100000L), lo + 100000L);
      return std::uniform_int_distribution<long>(lo, hi)(rng_);
    }
    if (type == "boolean") return chance(0.5);
    return valid_string(schema, name);
  }

  json valid_string(const json& schema, const std::string& name) {
    const std::string format = schema.value("format", "");
    const std::string pattern = schema.value("pattern", "");
    if (format == "uuid") return one_of(configurations);
    if (format == "email") return "user" + std::to_string(pick(1000)) + "@example.com";
    if (format == "date-time") return one_of(std::vector<std::string>{"2030-01-01T00:00:00Z", "2020-05-01T12:30:00+02:00"});
    if (pattern == "^[0-9a-f]{16}$") return "0123456789abcdef";
    if (pattern == "^[A-Za-z0-9_-]{1,63}$") return "sel" + std::to_string(pick(10));
    if (!pattern.empty()) return one_of(std::vector<std::string>{"fake_email", "test_dns", "smtp_relay", "cloudflare", "nope"});
    if (name == "dsn") return one_of(std::vector<std::string>{"smtp://u@relay.example:587", "smtps://relay.example", "fake://KEY@default", "ftp://x"});
    if (name == "name") return one_of(std::vector<std::string>{"fuzz.test", "www", "@", "mail.fuzz.test."});
    if (name == "value") return one_of(std::vector<std::string>{"v=spf1 -all", "192.0.2.1", "mx.example.net", "hello"});
    if (name == "subject" || name == "text" || name == "text_body") return one_of(std::vector<std::string>{"Hi {{name}}", "plain", "é ✓"});
    return one_of(strings_);
  }

  // A value the schema should refuse, or input that is hostile in itself.
  json hostile_value() {
    switch (pick(9)) {
      case 0: return nullptr;
      case 1: return json::array({1, "two"});
      case 2: return json::object({{"nested", json::object()}});
      case 3: return 1e308;
      case 4: return -9223372036854775807LL;
      case 5: return 18446744073709551615ULL;
      case 6: return std::string(100000, 'x');
      case 7: return one_of(hostile_strings_);
      default: return chance(0.5);
    }
  }

  // The valid body, mutated once or more; or text that is not the JSON it should be.
  std::string mutated_body(const json& schema) {
    if (chance(0.15)) return one_of(std::vector<std::string>{
        "{", "[1,2", "{\"a\":1e400}", "\xff\xfe{}", "{\"to\":\"\xc3\x28\"}", std::string(40, '[') + std::string(40, ']'),
        "null", "\"str\"", "{\"a\":\"\\ud800\"}", "{} {}", "", "{\"a\":1}garbage"});
    json body = valid(schema);
    const int mutations = 1 + static_cast<int>(pick(3));
    for (int i = 0; i < mutations; ++i) {
      if (!body.is_object() || body.empty() || chance(0.1)) {
        body = chance(0.5) ? hostile_value() : json{{"unknown_" + std::to_string(pick(5)), hostile_value()}};
        continue;
      }
      auto it = body.begin();
      std::advance(it, static_cast<long>(pick(body.size())));
      switch (pick(4)) {
        case 0: body.erase(it); break;
        case 1: *it = hostile_value(); break;
        case 2: body["unknown_" + std::to_string(pick(5))] = hostile_value(); break;
        default: {
          json deep = "x";
          for (int d = 0; d < 40; ++d) deep = json::array({deep});
          *it = deep;
        }
      }
    }
    return body.dump(-1, ' ', false, json::error_handler_t::replace);
  }

  std::string path_value(const std::string& path, const std::string& param, bool hostile) {
    if (hostile)
      return one_of(std::vector<std::string>{"%FF", "%00", "not-a-uuid", std::string(300, 'a'), "%2e%2e", "%C3%28",
                                             "00000000-0000-0000-0000-000000000000", "a%2Fb", "%E2%9C%93", "-1"});
    if (param == "zone") return one_of(zones);
    if (param == "name") return one_of(templates);
    if (param == "email") return one_of(suppressed);
    if (param == "configuration") return one_of(configurations);
    if (path.starts_with("/v1/emails")) return emails.empty() ? one_of(configurations) : one_of(emails);
    if (path.starts_with("/v1/dns")) return records.empty() ? one_of(configurations) : one_of(records);
    return one_of(configurations);
  }

  std::vector<std::string> configurations, emails, zones{"fuzz.test"}, templates{"fuzz"}, suppressed{"gone@example.com"}, records;

 private:
  const json& document_;
  std::mt19937 rng_;
  std::vector<std::string> strings_{"a", "plain text", "ümlaut", "{{#open}}", "{{name}}", "日本語", "x@y"};
  std::vector<std::string> hostile_strings_{std::string("nul\0inside", 10), "line\r\nBcc: x@evil.example", "\x7f", "%FF",
                                            "'; DROP TABLE users; --", "../../etc/passwd", "{{{triple}}}", "\t", "",
                                            "😀", std::string(999, 'y') + " " + std::string(999, 'z')};
};

std::string percent_encode(const std::string& text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '@') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

TEST(ApiFuzz, NoServerErrorNoLostConnectionNothingWrittenWhenRefused) {
  const char* count_env = std::getenv("API_FUZZ_REQUESTS");
  const char* seed_env = std::getenv("API_FUZZ_SEED");
  const long requests = count_env ? std::atol(count_env) : 2000;
  const unsigned seed = seed_env ? static_cast<unsigned>(std::atol(seed_env)) : 1;
  ::setenv("MAILROOM_DNS_RESOLVER", "127.0.0.1:9", 1);  // validate and email-setup fail fast, offline
  ServeProcess serve({"--no-workers"});
  ASSERT_TRUE(serve.healthy()) << mailroom::testing::read_file(serve.dir / "serve.log");
  const auto document_response = serve.call("GET", "/v1/openapi.json", "");
  ASSERT_EQ(document_response.status, 200);
  const json document = json::parse(document_response.body);

  std::vector<Operation> operations;
  for (const auto& [path, item] : document["paths"].items())
    for (const auto& [method, op] : item.items()) {
      if (method == "parameters") continue;
      Operation o{method, path, op.value("parameters", json::array()), nullptr};
      for (auto& c : o.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (op.contains("requestBody")) {  // its first content type's schema (webhooks take the provider's own)
        const json contents = op["requestBody"].value("content", json::object());  // items() must not outlive it
        if (!contents.empty()) o.body = contents.begin()->value("schema", json::object());
      }
      operations.push_back(o);
    }
  ASSERT_GT(operations.size(), 30u);

  Generator gen(document, seed);
  gen.configurations.push_back(serve.configuration);
  // Resources for the path parameters to find (re-made now and then: the fuzzer deletes some).
  auto seed_resources = [&] {
    serve.call("PUT", "/v1/templates/fuzz", "mr_alice_token", R"({"subject":"Hi {{name}}","text_body":"{{name}}"})");
    serve.call("POST", "/v1/dns/zones", "mr_alice_token",
               R"({"name":"fuzz.test","provider":"cloudflare","plugin":"test_dns","settings":{"zone":"fuzz.test"}})");
    serve.call("POST", "/v1/suppressions", "mr_alice_token", R"({"email":"gone@example.com"})");
    const auto queued = serve.call("POST", "/v1/emails", "mr_alice_token",
                                   json{{"configuration", serve.configuration}, {"to", "c@example.com"}, {"subject", "s"}, {"text", "t"}}.dump());
    if (queued.status == 202) gen.emails.push_back(json::parse(queued.body).value("id", ""));
    const auto record = serve.call("POST", "/v1/dns/zones/fuzz.test/records", "mr_alice_token",
                                   R"({"type":"TXT","name":"r","value":"v"})");
    if (record.status == 201) gen.records.push_back(json::parse(record.body).value("id", ""));
  };
  seed_resources();

  long sent = 0, server_errors = 0, dropped = 0, written = 0, refused = 0;
  std::map<std::string, long> statuses;
  std::string before = serve.digest();
  std::vector<std::string> reports;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  for (long i = 0; i < requests && std::chrono::steady_clock::now() < deadline; ++i) {
    if (i % 250 == 249) {
      seed_resources();
      before = serve.digest();
    }
    const Operation& op = operations[i % operations.size()];  // every operation, in turn
    const bool mutate = gen.chance(0.6);
    // Path: each {param} valid (an existing row) or hostile.
    std::string target;
    for (std::size_t at = 0; at < op.path.size();) {
      const auto open = op.path.find('{', at);
      if (open == std::string::npos) {
        target += op.path.substr(at);
        break;
      }
      const auto close = op.path.find('}', open);
      target += op.path.substr(at, open - at);
      const std::string value = gen.path_value(op.path, op.path.substr(open + 1, close - open - 1), mutate && gen.chance(0.3));
      target += value.find('%') != std::string::npos ? value : percent_encode(value);
      at = close + 1;
    }
    // Query: declared parameters with valid or hostile values, now and then an unknown one.
    std::string query;
    mailroom::HttpHeaders headers;
    for (const auto& p : op.parameters) {
      if (!gen.chance(0.5)) continue;
      const std::string value = mutate && gen.chance(0.3) ? gen.hostile_value().dump() : gen.valid(p.value("schema", json::object()), p["name"]).dump();
      const std::string text = value.size() > 1 && value.front() == '"' ? json::parse(value).get<std::string>() : value;
      if (p["in"] == "query") query += (query.empty() ? "?" : "&") + p["name"].get<std::string>() + "=" + percent_encode(text);
      if (p["in"] == "header" && text.find_first_of("\r\n") == std::string::npos && text.find('\0') == std::string::npos)
        headers.add(p["name"], text);
    }
    if (mutate && gen.chance(0.1)) query += (query.empty() ? "?" : "&") + std::string("unknown=%FF");
    // Credentials: mostly alice's token; sometimes none, a wrong one, or root acting for someone.
    const std::size_t who = mutate ? gen.pick(6) : 0;
    if (who <= 2) headers.add("Authorization", "Bearer mr_alice_token");
    if (who == 3) headers.add("Authorization", "Bearer mr_nobody");
    if (who == 4) {
      headers.add("Authorization", "Bearer mr_root_token");
      headers.add("Mailroom-Act-As", gen.chance(0.5) ? serve.alice : "not-a-user");
    }
    std::string body;
    if (!op.body.is_null()) {
      body = mutate ? gen.mutated_body(op.body) : gen.valid(op.body).dump();
      headers.add("Content-Type", "application/json");
    }
    const std::string line = op.method + " " + target + query + (body.empty() ? "" : " " + body.substr(0, 200));

    mailroom::HttpResponse r;
    try {
      r = serve.client->send({op.method, target + query, headers, body});
    } catch (const std::exception& e) {
      ++dropped;
      if (reports.size() < 20) reports.push_back("connection lost: " + line + ": " + e.what());
      before = serve.digest();
      continue;
    }
    ++sent;
    ++statuses[std::to_string(r.status / 100) + "xx"];
    if (r.status >= 500) {
      ++server_errors;
      if (reports.size() < 20) reports.push_back(std::to_string(r.status) + ": " + line + " -> " + r.body.substr(0, 300));
    }
    const std::string after = serve.digest();
    if (r.status >= 400 && r.status < 500) {
      ++refused;
      if (after != before) {
        ++written;
        if (reports.size() < 20) reports.push_back("refused but wrote: " + line + " -> " + r.body.substr(0, 300));
      }
      if (r.headers.get("content-type") != "application/problem+json" && reports.size() < 20)
        reports.push_back("refused without problem+json: " + line);
    }
    before = after;
  }
  std::string summary;
  for (const auto& [k, v] : statuses) summary += " " + k + "=" + std::to_string(v);
  std::cout << "[ REPORT   ] seed " << seed << ": " << sent << " requests over " << operations.size()
            << " operations;" << summary << "; 5xx " << server_errors << ", dropped " << dropped
            << ", refused-but-wrote " << written << " of " << refused << " refused\n";
  for (const auto& report : reports) std::cout << "  " << report << "\n";
  EXPECT_GE(sent, requests) << "the time bound cut the run short";
  EXPECT_EQ(server_errors, 0);
  EXPECT_EQ(dropped, 0);
  EXPECT_EQ(written, 0);
  EXPECT_TRUE(serve.healthy());
  EXPECT_TRUE(serve.alive());
}

}  // namespace
