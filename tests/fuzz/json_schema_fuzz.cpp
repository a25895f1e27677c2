// The JSON Schema validator (plugin settings, API bodies): a schema and an instance, each
// parsed with the API's depth limit as real input is. Input: schema "\n--\n" instance.
#include "fuzz_input.hpp"
#include "json_schema.hpp"

using nlohmann::json;

namespace {

json parse_bounded(const std::string& text) {
  return json::parse(
      text,
      [](int depth, json::parse_event_t, json&) {
        if (depth > 32) throw std::length_error("too deep");
        return true;
      },
      false);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = mailroom::fuzz::fields(data, size, 2);
  json schema, instance;
  try {
    schema = parse_bounded(parts[0]);
    instance = parse_bounded(parts[1]);
  } catch (const std::exception&) {
    return 0;
  }
  if (schema.is_discarded() || instance.is_discarded()) return 0;
  try {
    const mailroom::json_schema::Schema compiled(schema);
    (void)mailroom::json_schema::describe(compiled.validate(instance));
  } catch (const mailroom::json_schema::SchemaError&) {
  }
  return 0;
}
