// Mustache templates (users write them through the API): variables() and a strict render
// of subject, text and HTML, with partials, against data. Input: template "\n--\n" a
// partial named "p" "\n--\n" data (JSON).
#include "fuzz_input.hpp"
#include "templates.hpp"

using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = mailroom::fuzz::fields(data, size, 3);
  json values = json::parse(
      parts[2], [](int depth, json::parse_event_t, json&) { return depth <= 32; }, false);
  if (values.is_discarded()) values = json::object();
  namespace t = mailroom::templates;
  try {
    (void)t::variables(parts[0]);
  } catch (const t::TemplateError&) {
  }
  try {
    (void)t::render_email({parts[0], parts[0], parts[0]}, values, {{"p", parts[1]}});
  } catch (const t::TemplateError&) {
  }
  return 0;
}
