#include "json_schema.hpp"

#include <cmath>
#include <boost/regex.hpp>
#include <set>
#include <string_view>
#include <utility>

namespace mailroom::json_schema {
namespace {

using nlohmann::json;

const std::set<std::string, std::less<>> kAnnotations = {
    "$schema", "$id", "$comment", "title", "description", "default", "examples",
    "readOnly", "writeOnly", "format", "contentMediaType", "contentEncoding"};

const std::set<std::string, std::less<>> kTypeNames = {"null",   "boolean", "object", "array",
                                                       "number", "string",  "integer"};

std::string pointer_token(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::string child(const std::string& path, std::string_view key) {
  return path + "/" + pointer_token(key);
}
std::string child(const std::string& path, std::size_t index) {
  return path + "/" + std::to_string(index);
}

// Boost.Regex, not std::regex: libstdc++'s matcher recurses once per character (a 100,000-
// character string against "^[a-z]+$" overflowed the stack and ended the host) and its
// compiler overflows on huge repetition counts (found by tests/fuzz: json_schema). Boost's
// matcher is not recursive and gives up on runaway backtracking with an exception.
boost::regex compile_regex(const std::string& pattern) {
  return boost::regex(pattern, boost::regex::ECMAScript);
}

// Whether the pattern matches somewhere in `text`; a match too costly to decide counts as none.
bool search(const std::string& text, const boost::regex& re) {
  try {
    return boost::regex_search(text, re);
  } catch (const std::runtime_error&) {
    return false;
  }
}

// --- checking the schema -----------------------------------------------------------

[[noreturn]] void bad(const std::string& where, const std::string& what) {
  throw SchemaError("schema " + (where.empty() ? std::string("(root)") : where) + ": " + what);
}

void check_schema(const json& schema, const std::string& at);

void check_schema_map(const json& value, const std::string& at, bool keys_are_patterns) {
  if (!value.is_object()) bad(at, "must be an object of schemas");
  for (const auto& [key, sub] : value.items()) {
    if (keys_are_patterns) {
      try {
        compile_regex(key);
      } catch (const boost::regex_error&) {
        bad(child(at, key), "is not a valid regular expression");
      }
    }
    check_schema(sub, child(at, key));
  }
}

void check_schema_array(const json& value, const std::string& at) {
  if (!value.is_array() || value.empty()) bad(at, "must be a non-empty array of schemas");
  for (std::size_t i = 0; i < value.size(); ++i) check_schema(value[i], child(at, i));
}

void check_count(const json& value, const std::string& at) {
  if (!value.is_number_integer() && !(value.is_number_float() && std::floor(value.get<double>()) == value.get<double>()))
    bad(at, "must be a non-negative integer");
  if (value.get<double>() < 0) bad(at, "must be a non-negative integer");
}

void check_string_array(const json& value, const std::string& at) {
  if (!value.is_array()) bad(at, "must be an array of strings");
  for (std::size_t i = 0; i < value.size(); ++i)
    if (!value[i].is_string()) bad(child(at, i), "must be a string");
}

void check_schema(const json& schema, const std::string& at) {
  if (schema.is_boolean()) return;
  if (!schema.is_object()) bad(at, "must be an object or a boolean");
  for (const auto& [key, value] : schema.items()) {
    const std::string here = child(at, key);
    if (kAnnotations.contains(key)) continue;
    if (key == "type") {
      auto check_name = [&](const json& name, const std::string& where) {
        if (!name.is_string() || !kTypeNames.contains(name.get<std::string>()))
          bad(where, "must name one of null, boolean, object, array, number, string, integer");
      };
      if (value.is_array()) {
        for (std::size_t i = 0; i < value.size(); ++i) check_name(value[i], child(here, i));
      } else {
        check_name(value, here);
      }
    } else if (key == "enum") {
      if (!value.is_array()) bad(here, "must be an array");
    } else if (key == "const") {
    } else if (key == "properties") {
      check_schema_map(value, here, false);
    } else if (key == "patternProperties") {
      check_schema_map(value, here, true);
    } else if (key == "additionalProperties" || key == "additionalItems" ||
               key == "propertyNames" || key == "contains" || key == "not" || key == "if" ||
               key == "then" || key == "else") {
      check_schema(value, here);
    } else if (key == "items") {
      if (value.is_array()) {
        for (std::size_t i = 0; i < value.size(); ++i) check_schema(value[i], child(here, i));
      } else {
        check_schema(value, here);
      }
    } else if (key == "required") {
      check_string_array(value, here);
    } else if (key == "dependencies") {
      if (!value.is_object()) bad(here, "must be an object");
      for (const auto& [name, dep] : value.items()) {
        if (dep.is_array()) check_string_array(dep, child(here, name));
        else check_schema(dep, child(here, name));
      }
    } else if (key == "minProperties" || key == "maxProperties" || key == "minItems" ||
               key == "maxItems" || key == "minLength" || key == "maxLength") {
      check_count(value, here);
    } else if (key == "minimum" || key == "maximum" || key == "exclusiveMinimum" ||
               key == "exclusiveMaximum") {
      if (!value.is_number()) bad(here, "must be a number");
    } else if (key == "multipleOf") {
      if (!value.is_number() || value.get<double>() <= 0) bad(here, "must be a number > 0");
    } else if (key == "uniqueItems") {
      if (!value.is_boolean()) bad(here, "must be a boolean");
    } else if (key == "allOf" || key == "anyOf" || key == "oneOf") {
      check_schema_array(value, here);
    } else if (key == "pattern") {
      if (!value.is_string()) bad(here, "must be a string");
      try {
        compile_regex(value.get<std::string>());
      } catch (const boost::regex_error&) {
        bad(here, "is not a valid regular expression");
      }
    } else {
      bad(here, "unsupported keyword '" + key + "'");
    }
  }
}

// --- validating an instance ----------------------------------------------------------

std::string type_of(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::object: return "object";
    case json::value_t::array: return "array";
    case json::value_t::string: return "string";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    default: return "unknown";
  }
}

bool has_type(const json& v, std::string_view type) {
  if (type == "integer")
    return v.is_number_integer() ||
           (v.is_number_float() && std::isfinite(v.get<double>()) &&
            std::floor(v.get<double>()) == v.get<double>());
  if (type == "number") return v.is_number();
  return type_of(v) == type;
}

// Code points, not bytes: JSON Schema lengths count characters.
std::size_t utf8_length(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

std::string number_text(const json& v) { return v.dump(); }

class Validator {
 public:
  std::vector<Violation> violations;

  void fail(const std::string& at, std::string message) {
    violations.push_back({at, std::move(message)});
  }

  bool valid(const json& schema, const json& instance, const std::string& at) {
    Validator nested;
    nested.run(schema, instance, at);
    return nested.violations.empty();
  }

  void run(const json& schema, const json& instance, const std::string& at) {
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) fail(at, "is not allowed here");
      return;
    }
    for (const auto& [key, value] : schema.items()) keyword(schema, key, value, instance, at);
  }

 private:
  void keyword(const json& schema, const std::string& key, const json& value,
               const json& instance, const std::string& at) {
    if (key == "type") {
      bool ok = false;
      if (value.is_array()) {
        for (const auto& t : value) ok = ok || has_type(instance, t.get<std::string>());
      } else {
        ok = has_type(instance, value.get<std::string>());
      }
      if (!ok) fail(at, "must be of type " + (value.is_array() ? value.dump() : value.get<std::string>()) +
                            ", got " + type_of(instance));
    } else if (key == "enum") {
      bool ok = false;
      for (const auto& option : value) ok = ok || option == instance;
      if (!ok) fail(at, "must be one of " + value.dump());
    } else if (key == "const") {
      if (!(value == instance)) fail(at, "must be " + value.dump());
    } else if (instance.is_object()) {
      object_keyword(schema, key, value, instance, at);
    } else if (instance.is_array()) {
      array_keyword(schema, key, value, instance, at);
    } else if (instance.is_number()) {
      number_keyword(key, value, instance, at);
    } else if (instance.is_string()) {
      string_keyword(key, value, instance, at);
    }
    combinator_keyword(schema, key, value, instance, at);
  }

  void object_keyword(const json& schema, const std::string& key, const json& value,
                      const json& instance, const std::string& at) {
    if (key == "properties") {
      for (const auto& [name, sub] : value.items())
        if (auto it = instance.find(name); it != instance.end()) run(sub, *it, child(at, name));
    } else if (key == "patternProperties") {
      for (const auto& [pattern, sub] : value.items()) {
        const boost::regex re = compile_regex(pattern);
        for (const auto& [name, member] : instance.items())
          if (search(name, re)) run(sub, member, child(at, name));
      }
    } else if (key == "additionalProperties") {
      const json* properties = schema.contains("properties") ? &schema["properties"] : nullptr;
      std::vector<boost::regex> patterns;
      if (schema.contains("patternProperties"))
        for (const auto& [pattern, sub] : schema["patternProperties"].items())
          patterns.push_back(compile_regex(pattern));
      for (const auto& [name, member] : instance.items()) {
        if (properties != nullptr && properties->contains(name)) continue;
        bool matched = false;
        for (const auto& re : patterns) matched = matched || search(name, re);
        if (matched) continue;
        if (value.is_boolean() && !value.get<bool>())
          fail(at, "property '" + name + "' is not allowed");
        else
          run(value, member, child(at, name));
      }
    } else if (key == "required") {
      for (const auto& name : value)
        if (!instance.contains(name.get<std::string>()))
          fail(at, "missing required property '" + name.get<std::string>() + "'");
    } else if (key == "minProperties") {
      if (instance.size() < value.get<double>())
        fail(at, "must have at least " + number_text(value) + " properties");
    } else if (key == "maxProperties") {
      if (instance.size() > value.get<double>())
        fail(at, "must have at most " + number_text(value) + " properties");
    } else if (key == "propertyNames") {
      for (const auto& [name, member] : instance.items())
        if (!valid(value, json(name), child(at, name)))
          fail(at, "property name '" + name + "' does not match propertyNames");
    } else if (key == "dependencies") {
      for (const auto& [name, dep] : value.items()) {
        if (!instance.contains(name)) continue;
        if (dep.is_array()) {
          for (const auto& needed : dep)
            if (!instance.contains(needed.get<std::string>()))
              fail(at, "property '" + name + "' requires property '" + needed.get<std::string>() + "'");
        } else {
          run(dep, instance, at);
        }
      }
    }
  }

  void array_keyword(const json& schema, const std::string& key, const json& value,
                     const json& instance, const std::string& at) {
    if (key == "items") {
      if (value.is_array()) {
        for (std::size_t i = 0; i < value.size() && i < instance.size(); ++i)
          run(value[i], instance[i], child(at, i));
      } else {
        for (std::size_t i = 0; i < instance.size(); ++i) run(value, instance[i], child(at, i));
      }
    } else if (key == "additionalItems") {
      const auto items = schema.find("items");
      if (items == schema.end() || !items->is_array()) return;  // only meaningful after tuple items
      for (std::size_t i = items->size(); i < instance.size(); ++i) {
        if (value.is_boolean() && !value.get<bool>()) {
          fail(at, "must have at most " + std::to_string(items->size()) + " items");
          return;
        }
        run(value, instance[i], child(at, i));
      }
    } else if (key == "minItems") {
      if (instance.size() < value.get<double>())
        fail(at, "must have at least " + number_text(value) + " items");
    } else if (key == "maxItems") {
      if (instance.size() > value.get<double>())
        fail(at, "must have at most " + number_text(value) + " items");
    } else if (key == "uniqueItems") {
      if (!value.get<bool>()) return;
      for (std::size_t i = 0; i < instance.size(); ++i)
        for (std::size_t j = i + 1; j < instance.size(); ++j)
          if (instance[i] == instance[j]) {
            fail(at, "items " + std::to_string(i) + " and " + std::to_string(j) + " are equal");
            return;
          }
    } else if (key == "contains") {
      bool found = false;
      for (std::size_t i = 0; i < instance.size() && !found; ++i)
        found = valid(value, instance[i], child(at, i));
      if (!found) fail(at, "must contain an item matching 'contains'");
    }
  }

  void number_keyword(const std::string& key, const json& value, const json& instance,
                      const std::string& at) {
    // Integers compare exactly; a double cannot hold every 64-bit integer.
    auto less = [](const json& a, const json& b) {
      if (!a.is_number_integer() || !b.is_number_integer()) return a.get<double>() < b.get<double>();
      if (a.is_number_unsigned())
        return b.is_number_unsigned() ? a.get<std::uint64_t>() < b.get<std::uint64_t>()
                                      : std::cmp_less(a.get<std::uint64_t>(), b.get<std::int64_t>());
      return b.is_number_unsigned() ? std::cmp_less(a.get<std::int64_t>(), b.get<std::uint64_t>())
                                    : a.get<std::int64_t>() < b.get<std::int64_t>();
    };
    if (key == "minimum") {
      if (less(instance, value)) fail(at, "must be >= " + number_text(value));
    } else if (key == "maximum") {
      if (less(value, instance)) fail(at, "must be <= " + number_text(value));
    } else if (key == "exclusiveMinimum") {
      if (!less(value, instance)) fail(at, "must be > " + number_text(value));
    } else if (key == "exclusiveMaximum") {
      if (!less(instance, value)) fail(at, "must be < " + number_text(value));
    } else if (key == "multipleOf") {
      bool ok;
      if (instance.is_number_integer() && value.is_number_integer()) {
        ok = instance.get<std::int64_t>() % value.get<std::int64_t>() == 0;
      } else {
        const double quotient = instance.get<double>() / value.get<double>();
        ok = std::isfinite(quotient) &&
             std::fabs(quotient - std::round(quotient)) < 1e-9 * std::max(1.0, std::fabs(quotient));
      }
      if (!ok) fail(at, "must be a multiple of " + number_text(value));
    }
  }

  void string_keyword(const std::string& key, const json& value, const json& instance,
                      const std::string& at) {
    const auto& text = instance.get_ref<const std::string&>();
    if (key == "minLength") {
      if (utf8_length(text) < value.get<double>())
        fail(at, "must be at least " + number_text(value) + " characters long");
    } else if (key == "maxLength") {
      if (utf8_length(text) > value.get<double>())
        fail(at, "must be at most " + number_text(value) + " characters long");
    } else if (key == "pattern") {
      if (!search(text, compile_regex(value.get<std::string>())))
        fail(at, "must match pattern " + value.dump());
    }
  }

  void combinator_keyword(const json& schema, const std::string& key, const json& value,
                          const json& instance, const std::string& at) {
    if (key == "allOf") {
      for (const auto& sub : value) run(sub, instance, at);
    } else if (key == "anyOf") {
      bool any = false;
      for (const auto& sub : value) any = any || valid(sub, instance, at);
      if (!any) fail(at, "must match at least one schema of anyOf");
    } else if (key == "oneOf") {
      int matches = 0;
      for (const auto& sub : value) matches += valid(sub, instance, at) ? 1 : 0;
      if (matches != 1)
        fail(at, "must match exactly one schema of oneOf, matched " + std::to_string(matches));
    } else if (key == "not") {
      if (valid(value, instance, at)) fail(at, "must not match the schema of 'not'");
    } else if (key == "if") {
      const bool holds = valid(value, instance, at);
      const char* branch = holds ? "then" : "else";
      if (auto it = schema.find(branch); it != schema.end()) run(*it, instance, at);
    }
  }
};

}  // namespace

Schema::Schema(nlohmann::json schema) : schema_(std::move(schema)) { check_schema(schema_, ""); }

std::vector<Violation> Schema::validate(const nlohmann::json& instance) const {
  Validator validator;
  validator.run(schema_, instance, "");
  return std::move(validator.violations);
}

std::string describe(const std::vector<Violation>& violations) {
  std::string out;
  for (const auto& v : violations) {
    if (!out.empty()) out += "; ";
    out += "at " + (v.instance_path.empty() ? std::string("(root)") : v.instance_path) + ": " + v.message;
  }
  return out;
}

}  // namespace mailroom::json_schema
