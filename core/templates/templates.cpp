#include "templates.hpp"

#include <memory>
#include <set>

namespace mailroom::templates {
namespace {

using nlohmann::json;

enum class Kind { text, variable, unescaped, section, inverted, partial, comment, delimiters };

struct Node {
  Kind kind = Kind::text;
  std::string text;    // text, or the tag's name
  std::string indent;  // partial: the whitespace before a standalone tag
  std::vector<Node> children;
};

bool blank(char c) { return c == ' ' || c == '\t'; }

std::string trim(std::string_view s) {
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return std::string(s);
}

// Template text -> tree. Implements the spec's standalone rule: a line holding only one
// section, inverted, closing, partial, comment or delimiter tag (and whitespace) is removed
// whole, newline included.
class Parser {
 public:
  Parser(std::string_view source, const std::string& what) : src_(source), what_(what) {}

  std::vector<Node> parse() {
    std::vector<std::vector<Node>> stack(1);
    std::vector<std::string> open_sections;
    std::size_t pos = 0;
    while (pos < src_.size()) {
      const std::size_t start = src_.find(open_, pos);
      if (start == std::string_view::npos) {
        add_text(stack.back(), src_.substr(pos));
        break;
      }
      Node tag;
      std::size_t end = 0;
      read_tag(start, tag, end);

      const bool may_stand_alone = tag.kind != Kind::variable && tag.kind != Kind::unescaped;
      const std::size_t newline = start == 0 ? std::string_view::npos : src_.rfind('\n', start - 1);
      const std::size_t begin_of_line = newline == std::string_view::npos ? 0 : newline + 1;
      std::size_t after = end;
      while (after < src_.size() && blank(src_[after])) ++after;
      const bool line_ends = after == src_.size() || src_[after] == '\n' ||
                             (src_[after] == '\r' && after + 1 < src_.size() && src_[after + 1] == '\n');
      bool standalone = may_stand_alone && begin_of_line >= pos && line_ends;
      for (std::size_t i = begin_of_line; standalone && i < start; ++i) standalone = blank(src_[i]);
      if (standalone) {
        add_text(stack.back(), src_.substr(pos, begin_of_line - pos));
        tag.indent = std::string(src_.substr(begin_of_line, start - begin_of_line));
        pos = after == src_.size() ? after : after + (src_[after] == '\r' ? 2 : 1);
      } else {
        add_text(stack.back(), src_.substr(pos, start - pos));
        pos = end;
      }

      switch (tag.kind) {
        case Kind::section:
        case Kind::inverted:
          open_sections.push_back(tag.text);
          stack.back().push_back(std::move(tag));
          stack.emplace_back();
          break;
        case Kind::comment:
          break;
        case Kind::delimiters:
          break;  // read_tag switched them
        default:
          if (tag.kind == Kind::text) {  // a closing tag, marked by read_tag
            if (open_sections.empty()) fail("closing tag '" + tag.text + "' has no open section");
            if (open_sections.back() != tag.text)
              fail("section '" + open_sections.back() + "' is closed by '" + tag.text + "'");
            open_sections.pop_back();
            auto children = std::move(stack.back());
            stack.pop_back();
            stack.back().back().children = std::move(children);
          } else {
            stack.back().push_back(std::move(tag));
          }
      }
    }
    if (!open_sections.empty()) fail("section '" + open_sections.back() + "' is never closed");
    return std::move(stack.front());
  }

 private:
  [[noreturn]] void fail(const std::string& why) const { throw TemplateError(what_ + ": " + why); }

  static void add_text(std::vector<Node>& into, std::string_view text) {
    if (!text.empty()) into.push_back(Node{Kind::text, std::string(text), "", {}});
  }

  // Reads the tag at `start`; a closing tag comes back as kind text (see parse()).
  void read_tag(std::size_t start, Node& tag, std::size_t& end) {
    std::size_t inner = start + open_.size();
    const char sigil = inner < src_.size() ? src_[inner] : '\0';
    std::string closing = close_;
    if (sigil == '{') closing = "}" + close_;
    if (sigil == '=') closing = "=" + close_;
    // The closing delimiter is looked for after the sigil: with '=' (or custom delimiters
    // that start with a sigil) it could otherwise match the sigil itself ("{{=}}").
    const bool has_sigil = sigil != '\0' && std::string_view("!#^/>{&=").find(sigil) != std::string_view::npos;
    const std::size_t stop = src_.find(closing, has_sigil ? inner + 1 : inner);
    if (stop == std::string_view::npos) fail("tag opened with '" + open_ + "' is never closed");
    end = stop + closing.size();
    std::string_view body = src_.substr(inner, stop - inner);
    switch (sigil) {
      case '!': tag.kind = Kind::comment; return;
      case '#': tag.kind = Kind::section; break;
      case '^': tag.kind = Kind::inverted; break;
      case '/': tag.kind = Kind::text; break;
      case '>': tag.kind = Kind::partial; break;
      case '{':
      case '&': tag.kind = Kind::unescaped; break;
      case '=': {
        tag.kind = Kind::delimiters;
        const std::string spec = trim(body.substr(1));
        const auto space = spec.find_first_of(" \t");
        if (space == std::string::npos) fail("set-delimiter tag needs two delimiters");
        open_ = spec.substr(0, space);
        close_ = trim(spec.substr(space));
        if (open_.empty() || close_.empty() || close_.find_first_of(" \t=") != std::string::npos)
          fail("set-delimiter tag needs two delimiters without spaces or '='");
        return;
      }
      default: tag.kind = Kind::variable; break;
    }
    tag.text = trim(tag.kind == Kind::variable ? body : body.substr(1));
    if (tag.text.empty()) fail("empty tag name");
  }

  std::string_view src_;
  std::string what_;
  std::string open_ = "{{";
  std::string close_ = "}}";
};

std::vector<std::string> split_dots(const std::string& name) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t dot; (dot = name.find('.', start)) != std::string::npos; start = dot + 1)
    parts.push_back(name.substr(start, dot - start));
  parts.push_back(name.substr(start));
  return parts;
}

bool falsey(const json* v) {
  return v == nullptr || v->is_null() || (v->is_boolean() && !v->get<bool>()) || (v->is_array() && v->empty());
}

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string as_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();  // numbers and booleans as JSON writes them
}

// Indents every line of a partial's source that a standalone partial tag was indented by.
std::string indent_lines(const std::string& text, const std::string& indent) {
  if (indent.empty()) return text;
  std::string out = indent;
  for (std::size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    if (text[i] == '\n' && i + 1 < text.size()) out += indent;
  }
  return out;
}

class Renderer {
 public:
  Renderer(const RenderOptions& options, const std::string& what) : options_(options), what_(what) {}

  std::string run(const std::vector<Node>& nodes, const json& data) {
    stack_.push_back(&data);
    std::string out;
    render(nodes, out, 0);
    return out;
  }

  std::set<std::string> missing, missing_partials;

 private:
  const json* lookup(const std::string& name) {
    if (name == ".") return stack_.back();
    const auto parts = split_dots(name);
    for (auto it = stack_.rbegin(); it != stack_.rend(); ++it) {
      if (!(*it)->is_object() || !(*it)->contains(parts[0])) continue;
      const json* found = &(**it)[parts[0]];
      // The first part decides the context; the rest must resolve inside it.
      for (std::size_t i = 1; i < parts.size(); ++i) {
        if (!found->is_object() || !found->contains(parts[i])) {
          missing.insert(name);
          return nullptr;
        }
        found = &(*found)[parts[i]];
      }
      return found;
    }
    missing.insert(name);
    return nullptr;
  }

  void render(const std::vector<Node>& nodes, std::string& out, int depth) {
    if (depth > 100) throw TemplateError(what_ + ": partials nest more than 100 deep (a partial that includes itself?)");
    for (const auto& node : nodes) {
      switch (node.kind) {
        case Kind::text: out += node.text; break;
        case Kind::variable:
        case Kind::unescaped:
          if (const json* v = lookup(node.text)) {
            const std::string text = as_text(*v);
            out += node.kind == Kind::variable && options_.escape == Escape::html ? html_escape(text) : text;
          }
          break;
        case Kind::section: {
          const json* v = lookup(node.text);
          if (falsey(v)) break;
          if (v->is_array()) {
            for (const auto& item : *v) {
              stack_.push_back(&item);
              render(node.children, out, depth);
              stack_.pop_back();
            }
          } else {
            stack_.push_back(v);
            render(node.children, out, depth);
            stack_.pop_back();
          }
          break;
        }
        case Kind::inverted:
          if (falsey(lookup(node.text))) render(node.children, out, depth);
          break;
        case Kind::partial: {
          auto it = options_.partials.find(node.text);
          if (it == options_.partials.end()) {
            missing_partials.insert(node.text);
            break;
          }
          const auto tree = Parser(indent_lines(it->second, node.indent), what_ + " partial '" + node.text + "'").parse();
          render(tree, out, depth + 1);
          break;
        }
        default: break;
      }
    }
  }

  const RenderOptions& options_;
  std::string what_;
  std::vector<const json*> stack_;
};

std::string quoted_list(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}

}  // namespace

std::string render(const std::string& text, const json& data, const RenderOptions& options, const std::string& what) {
  const auto tree = Parser(text, what).parse();
  Renderer renderer(options, what);
  std::string out = renderer.run(tree, data);
  if (options.strict) {
    if (!renderer.missing.empty())
      throw TemplateError(what + ": missing variable" + (renderer.missing.size() > 1 ? "s " : " ") +
                          quoted_list(renderer.missing));
    if (!renderer.missing_partials.empty())
      throw TemplateError(what + ": missing partial" + (renderer.missing_partials.size() > 1 ? "s " : " ") +
                          quoted_list(renderer.missing_partials));
  }
  return out;
}

std::vector<std::string> variables(const std::string& text, const std::string& what) {
  // Rendered against an empty object, every top-level name is looked up and missing, while
  // sections render nothing, so the names inside them (relative to their items) are not.
  const auto tree = Parser(text, what).parse();
  RenderOptions options{Escape::none, false, {}};
  Renderer renderer(options, what);
  renderer.run(tree, json::object());
  std::set<std::string> names;
  for (const auto& name : renderer.missing) names.insert(split_dots(name)[0]);
  return {names.begin(), names.end()};
}

EmailTemplate render_email(const EmailTemplate& email, const json& data, const Partials& partials) {
  std::vector<std::string> errors;
  EmailTemplate out;
  auto field = [&](const std::string& text, const std::string& what, Escape escape, std::string& into) {
    try {
      into = render(text, data, RenderOptions{escape, true, partials}, what);
    } catch (const TemplateError& e) {
      errors.push_back(e.what());
    }
  };
  field(email.subject, "subject", Escape::none, out.subject);
  field(email.text_body, "text_body", Escape::none, out.text_body);
  field(email.html_body, "html_body", Escape::html, out.html_body);
  if (!errors.empty()) {
    std::string message;
    for (const auto& e : errors) message += (message.empty() ? "" : "; ") + e;
    throw TemplateError(message);
  }
  return out;
}

std::vector<std::string> variables(const EmailTemplate& email) {
  std::set<std::string> names;
  for (const auto& [text, what] : {std::pair{&email.subject, "subject"}, std::pair{&email.text_body, "text_body"},
                                   std::pair{&email.html_body, "html_body"}})
    for (auto& name : variables(*text, what)) names.insert(name);
  return {names.begin(), names.end()};
}

}  // namespace mailroom::templates
