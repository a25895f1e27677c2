// Email templates: Mustache (variables, sections, inverted sections, comments, partials, set
// delimiters) over JSON data, as the official Mustache spec's core modules define it.
//
// Written here rather than taken from a library: Debian's only C++ Mustache package
// (libkainjow-mustache-dev 4.1) fails 19 of the spec's 136 core tests (standalone comment,
// delimiter and partial lines; partial indentation) and resolves dotted names against the
// wrong context; strict rendering also needs every failed lookup, which it does not report.
//
// Strict by default: every name the template looks up must be present in the data
// (null and false count as present); otherwise the error names each missing one.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace mailroom::templates {

// A template that does not parse, or data that lacks what a strict render needs. The message
// names the field (subject, text_body, html_body) and the variable or syntax problem.
class TemplateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Escape { html, none };

using Partials = std::map<std::string, std::string>;

struct RenderOptions {
  Escape escape = Escape::html;
  bool strict = true;
  Partials partials;
};

// Renders one template text. `what` names it in errors ("html_body").
std::string render(const std::string& text, const nlohmann::json& data, const RenderOptions& options,
                   const std::string& what = "template");

// The names a template needs from its data, for the `variables` column: every tag name
// outside sections, and the names of the sections themselves (what is inside a section
// resolves against its items first). Sorted, without duplicates. Throws TemplateError on
// a template that does not parse.
std::vector<std::string> variables(const std::string& text, const std::string& what = "template");

struct EmailTemplate {
  std::string subject;
  std::string text_body;
  std::string html_body;
};

// Subject and text without escaping, HTML with; strict. Throws TemplateError listing every
// missing variable of every field.
EmailTemplate render_email(const EmailTemplate& email, const nlohmann::json& data, const Partials& partials = {});

// Variables of all three fields together.
std::vector<std::string> variables(const EmailTemplate& email);

}  // namespace mailroom::templates
