#include "templates.hpp"

#include "error_of.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace {

using mailroom::templates::Escape;
using mailroom::templates::render;
using mailroom::templates::RenderOptions;
using mailroom::templates::TemplateError;
using nlohmann::json;

// The official Mustache spec (tests/data/mustache/, a copy of shared/specs/mustache/): every
// test of every core module, rendered non-strictly with HTML escaping as the spec expects.
class Spec : public ::testing::TestWithParam<const char*> {};

TEST_P(Spec, PassesEveryTest) {
  std::ifstream in(std::filesystem::path(MAILROOM_MUSTACHE_SPEC_DIR) / (std::string(GetParam()) + ".json"));
  ASSERT_TRUE(in);
  const json spec = json::parse(in);
  int count = 0;
  for (const auto& test : spec.at("tests")) {
    RenderOptions options{Escape::html, false, {}};
    if (test.contains("partials"))
      for (const auto& [name, text] : test["partials"].items()) options.partials[name] = text.get<std::string>();
    std::string out;
    try {
      out = render(test.at("template"), test.at("data"), options);
    } catch (const TemplateError& e) {
      out = std::string("error: ") + e.what();
    }
    EXPECT_EQ(out, test.at("expected").get<std::string>())
        << GetParam() << " / " << test.at("name").get<std::string>() << ": " << test.at("desc").get<std::string>();
    ++count;
  }
  EXPECT_GT(count, 0);
}

INSTANTIATE_TEST_SUITE_P(Mustache, Spec,
                         ::testing::Values("comments", "delimiters", "interpolation", "inverted", "partials",
                                           "sections"));

TEST(Strict, MissingVariablesAreNamedBeforeAnythingRenders) {
  const RenderOptions strict{Escape::html, true, {}};
  EXPECT_EQ(render("Hi {{name}}", json{{"name", "Ada"}}, strict), "Hi Ada");
  EXPECT_EQ(error_of<TemplateError>([&] { render("Hi {{name}}, {{order.id}} {{#items}}{{sku}}{{/items}}",
                                                 json{{"order", json::object()}, {"items", {{{"x", 1}}}}}, strict,
                                                 "html_body"); }),
            "html_body: missing variables 'name', 'order.id', 'sku'");
  // Present but null or false is not missing.
  EXPECT_EQ(render("[{{a}}]{{^b}}no b{{/b}}", json{{"a", nullptr}, {"b", false}}, strict), "[]no b");
}

TEST(Strict, EmailFieldsEscapeOnlyHtml) {
  mailroom::templates::EmailTemplate t{"Order {{id}} & {{what}}", "Dear {{name}} <you>", "<p>{{name}}</p>"};
  const auto out = mailroom::templates::render_email(t, json{{"id", 7}, {"what", "<stuff>"}, {"name", "A&B"}});
  EXPECT_EQ(out.subject, "Order 7 & <stuff>");
  EXPECT_EQ(out.text_body, "Dear A&B <you>");
  EXPECT_EQ(out.html_body, "<p>A&amp;B</p>");
  EXPECT_EQ(error_of<TemplateError>([&] { mailroom::templates::render_email(t, json{{"id", 7}}); }),
            "subject: missing variable 'what'; text_body: missing variable 'name'; html_body: missing variable 'name'");
}

TEST(Variables, AreTheTopLevelNamesAndSections) {
  EXPECT_EQ(mailroom::templates::variables("{{! note }}Hi {{name}} {{{raw}}} {{user.email}} {{#items}}{{sku}}{{/items}}"
                                           "{{^vip}}upgrade{{/vip}}{{=<% %>=}}<% late %>"),
            (std::vector<std::string>{"items", "late", "name", "raw", "user", "vip"}));
  EXPECT_EQ(error_of<TemplateError>([] { mailroom::templates::variables("{{#open}} never closed", "subject"); })
                .rfind("subject: ", 0),
            0u);
}

}  // namespace

namespace {

// Found by tests/fuzz (mustache): "{{=}}" read its '=' sigil as the start of "=}}" and
// failed with std::out_of_range instead of a TemplateError (a 500 from the API).
TEST(Parse, DelimiterTagsWithoutDelimitersAreTemplateErrors) {
  using mailroom::templates::TemplateError;
  using mailroom::templates::variables;
  for (const std::string text : {"{{=}}", "{{=}}{{/x}}", "{{=<# #>=}}<##>", "{{{}}}", "{{#}}", "{{=a b=}}a=b"}) {
    try {
      variables(text);
    } catch (const TemplateError&) {
      continue;  // refused by name: fine
    } catch (const std::exception& e) {
      ADD_FAILURE() << text << ": " << e.what();
    }
  }
  EXPECT_EQ(variables("{{=<% %>=}}<% name %>"), std::vector<std::string>{"name"});
}

}  // namespace
