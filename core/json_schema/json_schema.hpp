// JSON Schema (draft-07) validation for plugin manifests and configurations.
//
// Written here rather than taken from a library because Debian 12 packages no C++ JSON
// Schema validator for nlohmann::json; the subset is small and each keyword is proven
// against the official JSON-Schema-Test-Suite (tests/unit/json_schema_suite_test.cpp).
//
// Supported keywords: type enum const | properties patternProperties additionalProperties
// required minProperties maxProperties propertyNames dependencies | items additionalItems
// minItems maxItems uniqueItems contains | minimum maximum exclusiveMinimum exclusiveMaximum
// multipleOf | minLength maxLength pattern | allOf anyOf oneOf not if then else | boolean
// schemas. Annotations accepted and ignored: $schema $id $comment title description default
// examples readOnly writeOnly format contentMediaType contentEncoding.
// Anything else ($ref included) makes the schema itself invalid: a keyword that would be
// silently ignored is a check the author believes in and nobody performs.
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace mailroom::json_schema {

// The schema itself is malformed or uses an unsupported keyword; the message names where.
class SchemaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Violation {
  std::string instance_path;  // JSON Pointer into the validated document; "" is the root
  std::string message;        // names the rule, never the offending string value
};

class Schema {
 public:
  // Throws SchemaError when `schema` is not a supported draft-07 schema.
  explicit Schema(nlohmann::json schema);

  // Every violation found; empty when `instance` is valid.
  std::vector<Violation> validate(const nlohmann::json& instance) const;

  const nlohmann::json& json() const noexcept { return schema_; }

 private:
  nlohmann::json schema_;
};

// "at /port: must be <= 65535; at (root): missing required property 'host'"
std::string describe(const std::vector<Violation>& violations);

}  // namespace mailroom::json_schema
