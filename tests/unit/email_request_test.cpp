#include "api.hpp"
#include "queue.hpp"

#include "error_of.hpp"

#include <gtest/gtest.h>

namespace {

using mailroom::queue::email_request_from_json;
using mailroom::queue::EnqueueError;
using nlohmann::json;

TEST(EmailRequestFromJson, ReadsEveryField) {
  const auto r = email_request_from_json(json::parse(R"({"configuration": "c", "to": "a@b.c", "to_name": "A",
    "cc": ["x@y.z"], "bcc": ["q@r.s"], "subject": "S", "text": "T", "html": "H", "idempotency_key": "k",
    "priority": 7, "send_at": "2030-01-01T00:00:00Z", "max_retries": 2})"));
  EXPECT_EQ(r.configuration_id, "c");
  EXPECT_EQ(r.to_name, "A");
  EXPECT_EQ(r.cc, std::vector<std::string>{"x@y.z"});
  EXPECT_EQ(r.bcc, std::vector<std::string>{"q@r.s"});
  EXPECT_EQ(r.html_body, "H");
  EXPECT_EQ(r.idempotency_key, "k");
  EXPECT_EQ(r.priority, 7);
  EXPECT_EQ(r.max_retries, 2);
  const auto t = email_request_from_json(json::parse(R"({"configuration": "c", "to": "a@b.c", "template": "welcome",
    "data": {"name": "Ada"}})"));
  EXPECT_EQ(t.template_name, "welcome");
  EXPECT_EQ(t.data["name"], "Ada");
  EXPECT_EQ(t.priority, 100);
}

TEST(EmailRequestFromJson, NamesWhatIsWrong) {
  auto error = [](const char* text) { return error_of<EnqueueError>([&] { email_request_from_json(json::parse(text)); }); };
  EXPECT_EQ(error(R"([1])"), "an email must be a JSON object");
  EXPECT_EQ(error(R"({"configuration": "c", "to": "a@b.c", "priority": "high"})"), "field 'priority' has the wrong type");
  EXPECT_EQ(error(R"({"configuration": "c", "to": "a@b.c", "priority": 333333333333333333333333333333333333310})"),
            "field 'priority' has the wrong type");
  EXPECT_EQ(error(R"({"configuration": "c", "to": "a@b.c", "max_retries": -2147483649})"),
            "field 'max_retries' has the wrong type");
  EXPECT_EQ(error(R"({"configuration": "c", "to": "a@b.c", "data": [1]})"), "field 'data' must be an object");
}

// The shape is checked once, by the API's schema, for the API and `send --file` alike.
TEST(EmailRequestFromJson, TheShapeIsTheApisNewEmailSchema) {
  auto problem = [](const char* text) { return mailroom::api::schema_problem(json::parse(text), "NewEmail"); };
  EXPECT_EQ(problem(R"({"configuration": "c", "to": "a@b.c"})"), "");
  EXPECT_EQ(problem(R"({"configuration": "c", "to": "a@b.c", "too": 1})"), "at (root): property 'too' is not allowed");
  EXPECT_EQ(problem(R"({"configuration": "c"})"), "at (root): missing required property 'to'");
  EXPECT_NE(problem(R"({"configuration": "c", "to": "a@b.c", "priority": "high"})").find("at /priority"), std::string::npos);
}

}  // namespace
