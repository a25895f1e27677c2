// Every keyword json_schema claims, proven against its file of the official
// JSON-Schema-Test-Suite (draft 7). A file listed here must pass whole.
#include "json_schema.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace {

using mailroom::json_schema::Schema;
using nlohmann::json;

const char* const kClaimedFiles[] = {
    "type",          "enum",           "const",            "boolean_schema",
    "properties",    "required",       "additionalProperties", "patternProperties",
    "minProperties", "maxProperties",  "propertyNames",    "dependencies",
    "items",         "additionalItems", "minItems",        "maxItems",
    "uniqueItems",   "contains",       "minimum",          "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf",  "minLength",
    "maxLength",     "pattern",        "allOf",            "anyOf",
    "oneOf",         "not",            "if-then-else",     "default",
};

class SuiteFile : public testing::TestWithParam<const char*> {};

TEST_P(SuiteFile, PassesEveryCase) {
  const std::filesystem::path file =
      std::filesystem::path(MAILROOM_JSON_SCHEMA_SUITE_DIR) / (std::string(GetParam()) + ".json");
  std::ifstream in(file);
  ASSERT_TRUE(in) << file << " is missing: run scripts/install-deps (package json-schema-test-suite)";
  const json groups = json::parse(in);
  ASSERT_FALSE(groups.empty());
  int cases = 0;
  for (const auto& group : groups) {
    const std::string group_name = group.at("description");
    std::unique_ptr<Schema> schema;
    ASSERT_NO_THROW(schema = std::make_unique<Schema>(group.at("schema"))) << group_name;
    for (const auto& test : group.at("tests")) {
      const bool expected = test.at("valid");
      const auto violations = schema->validate(test.at("data"));
      EXPECT_EQ(violations.empty(), expected)
          << GetParam() << " / " << group_name << " / " << test.at("description").get<std::string>()
          << ": " << mailroom::json_schema::describe(violations);
      ++cases;
    }
  }
  EXPECT_GT(cases, 0);
}

INSTANTIATE_TEST_SUITE_P(Draft7, SuiteFile, testing::ValuesIn(kClaimedFiles),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// Keywords the validator does not claim must make a schema invalid, not be ignored: every
// group of these suite files uses at least one.
TEST(SuiteFile, UnclaimedKeywordsAreRefused) {
  for (const char* unclaimed : {"ref", "definitions", "refRemote"}) {
    const auto file = std::filesystem::path(MAILROOM_JSON_SCHEMA_SUITE_DIR) / (std::string(unclaimed) + ".json");
    std::ifstream in(file);
    ASSERT_TRUE(in) << file;
    int refused = 0;
    for (const auto& group : json::parse(in)) {
      try {
        Schema schema(group.at("schema"));
      } catch (const mailroom::json_schema::SchemaError&) {
        ++refused;
      }
    }
    EXPECT_GT(refused, 0) << unclaimed;
  }
}

}  // namespace
