// API requests as the router and handlers take them apart before any database work: the
// target (path segments percent-decoded and checked, query parameters), the body (JSON with
// its depth limit and NUL check), every request schema of the OpenAPI document, and the
// email shape that enqueue reads. The request schemas are the ones the handlers check. Input: the target, "\n--\n", the body.
#include "fuzz_input.hpp"
#include "queue.hpp"
#include "routes.hpp"

#include <boost/url/parse.hpp>

namespace api = mailroom::api;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = mailroom::fuzz::fields(data, size, 2);
  api::Request request(api::http::verb::post, "/", 11);
  try {
    request.target(parts[0]);
  } catch (const std::exception&) {
    return 0;  // Beast refuses such a target before any handler sees it
  }
  request.body() = parts[1];
  if (const auto url = boost::urls::parse_origin_form(parts[0])) {
    for (const auto& segment : url->segments()) (void)api::input_problem(segment);
  }
  try {
    (void)api::query(request, {"status", "to", "configuration", "limit", "cursor"});
  } catch (const api::Problem& p) {
    (void)api::dump({{"detail", p.detail}});  // an answer can always be written
  }
  nlohmann::json body;
  try {
    body = api::parse_body(request);
  } catch (const api::Problem& p) {
    (void)api::dump({{"detail", p.detail}, {"errors", p.errors}});
    return 0;
  }
  for (const char* name : {"NewEmail", "NewEmails", "NewEmailConfiguration", "EmailConfigurationChange", "TemplateContent",
                           "TemplatePreview", "NewSuppression", "NewDnsZone", "NewDnsRecord", "DnsApply", "EmailSetup"}) {
    try {
      api::check_body(body, name);
    } catch (const api::Problem& p) {
      (void)api::dump({{"detail", p.detail}, {"errors", p.errors}});
    }
  }
  try {
    (void)mailroom::queue::email_request_from_json(body);
  } catch (const mailroom::queue::EnqueueError&) {
  }
  (void)api::dump(body);
  return 0;
}
