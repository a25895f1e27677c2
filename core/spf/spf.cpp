#include "spf.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <optional>
#include <regex>
#include <stdexcept>

namespace mailroom::spf {
namespace {

using resolver::Answer;
using resolver::QueryStatus;
using resolver::QueryType;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// Ends the evaluation with this result (RFC 7208 §4.6: errors abort check_host()).
struct Abort {
  Result result;
  std::string reason;
};

[[noreturn]] void permerror(std::string reason) { throw Abort{Result::permerror, std::move(reason)}; }

// --- syntax (RFC 7208 §12) -------------------------------------------------------------------

struct Term {
  bool modifier = false;
  char qualifier = '+';
  std::string name;         // lower case
  std::string domain_spec;  // macro-string, or the ip4/ip6 network
  bool has_domain = false;
  int cidr4 = 32, cidr6 = 128;
  std::string text;  // as written, for reasons
};

struct Record {
  std::vector<Term> directives;
  std::optional<std::string> redirect, exp;
};

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }

// macro-string: macro-expand / macro-literal (%x21-24 / %x26-7E). `explain` allows the
// exp-only letters c, r, t and spaces.
bool valid_macro_string(std::string_view s, bool explain) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = s[i];
    if (c == '%') {
      if (i + 1 >= s.size()) return false;
      const char n = s[i + 1];
      if (n == '%' || n == '_' || n == '-') {
        ++i;
        continue;
      }
      if (n != '{') return false;
      const auto close = s.find('}', i + 2);
      if (close == std::string_view::npos) return false;
      const std::string_view body = s.substr(i + 2, close - i - 2);
      static const std::regex macro("^[slodiphcrtvSLODIPHCRTV][0-9]*[rR]?[-.+,/_=]*$");
      if (!std::regex_match(body.begin(), body.end(), macro)) return false;
      if (!explain && std::string_view("crtCRT").find(body[0]) != std::string_view::npos) return false;
      i = close;
      continue;
    }
    if (explain ? (c < 0x20 || c > 0x7e) : (c < 0x21 || c > 0x7e)) return false;
  }
  return true;
}

// domain-spec = macro-string domain-end; domain-end = "." toplabel ["."] / macro-expand.
bool valid_domain_spec(std::string_view s) {
  if (s.empty() || !valid_macro_string(s, false)) return false;
  if (s.back() == '}' || s.ends_with("%%") || s.ends_with("%_") || s.ends_with("%-")) return true;
  if (s.back() == '.') s.remove_suffix(1);
  const auto dot = s.rfind('.');
  if (dot == std::string_view::npos) return false;
  const std::string_view top = s.substr(dot + 1);
  // toplabel = *alphanum ALPHA *alphanum / 1*alphanum "-" *(alphanum / "-") alphanum
  if (top.empty() || !std::all_of(top.begin(), top.end(), [](char c) { return is_alnum(c) || c == '-'; }))
    return false;
  if (top.front() == '-' || top.back() == '-') return false;
  return std::any_of(top.begin(), top.end(), [](char c) { return is_alpha(c) || c == '-'; });
}

bool parse_cidr(std::string_view digits, int max, int& out) {
  if (digits.empty() || digits.size() > 3 || !std::all_of(digits.begin(), digits.end(), is_digit)) return false;
  if (digits.size() > 1 && digits[0] == '0') return false;  // no leading zeros
  out = std::stoi(std::string(digits));
  return out <= max;
}

// Splits "domain/24//64" into the domain and the dual CIDR lengths.
bool split_dual_cidr(std::string& spec, Term& term) {
  static const std::regex tail("^(.*?)(?:/([0-9]+))?(?://([0-9]+))?$");
  std::smatch m;
  if (!std::regex_match(spec, m, tail)) return false;
  if (m[2].matched && !parse_cidr(m[2].str(), 32, term.cidr4)) return false;
  if (m[3].matched && !parse_cidr(m[3].str(), 128, term.cidr6)) return false;
  spec = m[1].str();
  return true;
}

Record parse_record(std::string_view text) {
  if (!is_spf_record(text)) permerror("not an SPF record");
  Record record;
  std::size_t i = 6;
  while (i < text.size()) {
    if (text[i] != ' ') permerror("unexpected character after '" + std::string(text.substr(0, i)) + "'");
    while (i < text.size() && text[i] == ' ') ++i;
    if (i >= text.size()) break;
    const auto end = std::min(text.find(' ', i), text.size());
    const std::string word(text.substr(i, end - i));
    i = end;
    Term term;
    term.text = word;
    // A modifier's name is followed by '='; a mechanism's by ':', '/' or nothing.
    std::size_t n = 0;
    while (n < word.size() && (is_alnum(word[n]) || word[n] == '-' || word[n] == '_' || word[n] == '.')) ++n;
    if (n > 0 && n < word.size() && word[n] == '=' && is_alpha(word[0])) {
      term.modifier = true;
      term.name = lower(word.substr(0, n));
      term.domain_spec = word.substr(n + 1);
      if (term.name == "redirect" || term.name == "exp") {
        if (!valid_domain_spec(term.domain_spec)) permerror("bad domain in '" + word + "'");
        auto& slot = term.name == "redirect" ? record.redirect : record.exp;
        if (slot) permerror("'" + term.name + "=' given twice");
        slot = term.domain_spec;
      } else if (!valid_macro_string(term.domain_spec, false)) {
        permerror("bad value in '" + word + "'");
      }
      continue;
    }
    std::string rest = word;
    if (!rest.empty() && std::string_view("+-?~").find(rest[0]) != std::string_view::npos) {
      term.qualifier = rest[0];
      rest.erase(0, 1);
    }
    std::size_t name_end = 0;
    while (name_end < rest.size() && is_alnum(rest[name_end])) ++name_end;
    term.name = lower(rest.substr(0, name_end));
    std::string arg = rest.substr(name_end);
    const std::string& m = term.name;
    if (m == "all") {
      if (!arg.empty()) permerror("'all' takes no argument: '" + word + "'");
    } else if (m == "include" || m == "exists") {
      if (arg.size() < 2 || arg[0] != ':' || !valid_domain_spec(arg.substr(1)))
        permerror("'" + m + "' needs a domain: '" + word + "'");
      term.domain_spec = arg.substr(1);
      term.has_domain = true;
    } else if (m == "a" || m == "mx" || m == "ptr") {
      if (m != "ptr") {
        if (!split_dual_cidr(arg, term)) permerror("bad CIDR length in '" + word + "'");
      }
      if (!arg.empty()) {
        if (arg[0] != ':' || !valid_domain_spec(arg.substr(1))) permerror("bad domain in '" + word + "'");
        term.domain_spec = arg.substr(1);
        term.has_domain = true;
      }
    } else if (m == "ip4" || m == "ip6") {
      if (arg.size() < 2 || arg[0] != ':') permerror("'" + m + "' needs a network: '" + word + "'");
      arg.erase(0, 1);
      const auto slash = arg.find('/');
      std::string network = arg.substr(0, slash);
      int& length = m == "ip4" ? term.cidr4 : term.cidr6;
      if (slash != std::string::npos && !parse_cidr(std::string_view(arg).substr(slash + 1), m == "ip4" ? 32 : 128, length))
        permerror("bad CIDR length in '" + word + "'");
      unsigned char bytes[16];
      if (inet_pton(m == "ip4" ? AF_INET : AF_INET6, network.c_str(), bytes) != 1)
        permerror("bad address in '" + word + "'");
      term.domain_spec = network;
    } else {
      permerror("unknown mechanism '" + word + "'");
    }
    record.directives.push_back(std::move(term));
  }
  return record;
}

// --- addresses ---------------------------------------------------------------------------

struct Address {
  bool v4 = true;
  std::array<unsigned char, 16> bytes{};  // v4: the first 4
};

std::optional<Address> parse_address(const std::string& text) {
  Address a;
  if (inet_pton(AF_INET, text.c_str(), a.bytes.data()) == 1) return a;
  if (inet_pton(AF_INET6, text.c_str(), a.bytes.data()) != 1) return std::nullopt;
  a.v4 = false;
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a.bytes.data(), mapped, 12) == 0) {  // ::ffff:a.b.c.d is IPv4 (RFC 7208 §5)
    std::memmove(a.bytes.data(), a.bytes.data() + 12, 4);
    a.v4 = true;
  }
  return a;
}

bool in_network(const Address& ip, const Address& net, int prefix) {
  if (ip.v4 != net.v4) return false;
  for (int bit = 0; bit < prefix; ++bit) {
    const int byte = bit / 8, mask = 0x80 >> (bit % 8);
    if ((ip.bytes[byte] & mask) != (net.bytes[byte] & mask)) return false;
  }
  return true;
}

std::string address_text(const Address& a) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(a.v4 ? AF_INET : AF_INET6, a.bytes.data(), text, sizeof text);
  return text;
}

// %{i}: dotted quad, or 32 dot-separated nibbles for IPv6 (upper case, as RFC 7208 §7.4's example).
std::string address_dotted(const Address& a) {
  if (a.v4) return address_text(a);
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i) out += '.';
    out += hex[a.bytes[i] >> 4];
    out += '.';
    out += hex[a.bytes[i] & 15];
  }
  return out;
}

std::string reverse_name(const Address& a) {
  std::string dotted = address_dotted(a);
  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    const auto dot = dotted.find('.', start);
    parts.push_back(dotted.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) out += *it + ".";
  return out + (a.v4 ? "in-addr.arpa" : "ip6.arpa");
}

// A name fit to query: labels of 1..63 octets (any octets: RFC 2181 §11), 253 octets at
// most, at least two labels.
bool valid_query_name(std::string name) {
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (name.empty() || name.size() > 253 || name.find('.') == std::string::npos) return false;
  std::size_t start = 0;
  while (true) {
    const auto dot = name.find('.', start);
    const auto len = (dot == std::string::npos ? name.size() : dot) - start;
    if (len == 0 || len > 63) return false;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return true;
}

// --- evaluation ---------------------------------------------------------------------------

class Evaluator {
 public:
  Evaluator(const Request& request, resolver::Resolver& resolver) : request_(request), resolver_(resolver) {}

  Check run() {
    Check check;
    const auto ip = parse_address(request_.ip);
    if (!ip) {
      check.result = Result::permerror;
      check.reason = "'" + request_.ip + "' is not an IP address";
      return check;
    }
    ip_ = *ip;
    std::string sender = request_.sender;
    if (sender.empty()) sender = "postmaster@" + request_.helo;
    const auto at = sender.rfind('@');
    local_ = at == std::string::npos ? "postmaster" : sender.substr(0, at);
    if (local_.empty()) local_ = "postmaster";
    sender_domain_ = at == std::string::npos ? sender : sender.substr(at + 1);
    sender_ = local_ + "@" + sender_domain_;
    try {
      check.result = evaluate(sender_domain_, false, &check.explanation);
      check.reason = reason_;
    } catch (const Abort& abort) {
      check.result = abort.result;
      check.reason = abort.reason;
    }
    check.lookups = lookups_;
    return check;
  }

 private:
  Result evaluate(const std::string& domain, bool included, std::string* explanation) {
    if (!valid_query_name(domain)) {
      reason_ = "'" + domain + "' is not a domain name";
      return Result::none;
    }
    const Answer txt = query(domain, QueryType::TXT);
    if (txt.status == QueryStatus::failure) throw Abort{Result::temperror, "TXT lookup of " + domain + " failed"};
    std::vector<std::string> records;
    for (const auto& value : txt.values)
      if (is_spf_record(value)) records.push_back(value);
    if (records.empty()) {
      reason_ = domain + " publishes no SPF record";
      return Result::none;
    }
    if (records.size() > 1) permerror(domain + " publishes " + std::to_string(records.size()) + " SPF records");
    const Record record = parse_record(records[0]);

    for (const auto& term : record.directives) {
      if (matches(term, domain)) {
        reason_ = "matched " + term.text + " of " + domain;
        const Result result = qualifier_result(term.qualifier);
        if (result == Result::fail && !included && record.exp && explanation)
          *explanation = explain(*record.exp, domain);
        return result;
      }
    }
    if (record.redirect) {
      count_lookup();
      const std::string target = expand_domain(*record.redirect, domain);
      const Result result = evaluate(target, included, explanation);
      if (result == Result::none) permerror("redirect=" + target + " has no SPF record");
      return result;
    }
    reason_ = "nothing matched in " + domain;
    return Result::neutral;
  }

  static Result qualifier_result(char q) {
    switch (q) {
      case '-': return Result::fail;
      case '~': return Result::softfail;
      case '?': return Result::neutral;
      default: return Result::pass;
    }
  }

  bool matches(const Term& term, const std::string& domain) {
    const std::string& m = term.name;
    if (m == "all") return true;
    if (m == "ip4" || m == "ip6") {
      const auto net = parse_address(term.domain_spec);
      if (m == "ip6" && net && net->v4 && !ip_.v4) return false;
      return net && in_network(ip_, *net, ip_.v4 ? term.cidr4 : term.cidr6) && (m == "ip4") == ip_.v4;
    }
    count_lookup();
    const std::string target = term.has_domain ? expand_domain(term.domain_spec, domain) : domain;
    if (m == "include") {
      const Result r = evaluate(target, true, nullptr);
      switch (r) {
        case Result::pass: return true;
        case Result::fail:
        case Result::softfail:
        case Result::neutral: return false;
        case Result::temperror: throw Abort{Result::temperror, "include:" + target + ": temporary error"};
        default: permerror("include:" + target + " has no usable SPF record");
      }
    }
    if (m == "a") return matches_address_of(target, term, true);
    if (m == "mx") {
      const Answer mx = query_counted(target, QueryType::MX);
      if (mx.mx.size() > 10) permerror("mx:" + target + " has more than 10 MX records");
      for (const auto& host : mx.mx)
        if (matches_address_of(host.host, term, false)) return true;
      return false;
    }
    if (m == "ptr") {
      for (const auto& name : validated_names())
        if (name == lower(target) || name.ends_with("." + lower(target))) return true;
      return false;
    }
    if (m == "exists") {
      const Answer a = query_counted(target, QueryType::A);
      return !a.values.empty();
    }
    return false;
  }

  bool matches_address_of(const std::string& name, const Term& term, bool counted) {
    const auto type = ip_.v4 ? QueryType::A : QueryType::AAAA;
    const Answer a = counted ? query_counted(name, type) : query_or_fail(name, type);
    for (const auto& text : a.values) {
      const auto address = parse_address(text);
      if (address && in_network(ip_, *address, ip_.v4 ? term.cidr4 : term.cidr6)) return true;
    }
    return false;
  }

  // The names the client's address maps to whose own addresses include it (at most 10 looked at).
  std::vector<std::string> validated_names() {
    std::vector<std::string> out;
    const Answer ptr = query(reverse_name(ip_), QueryType::PTR);
    if (ptr.status != QueryStatus::ok) return out;
    for (std::size_t i = 0; i < ptr.values.size() && i < 10; ++i) {
      const Answer a = query(ptr.values[i], ip_.v4 ? QueryType::A : QueryType::AAAA);
      for (const auto& text : a.values) {
        const auto address = parse_address(text);
        if (address && in_network(ip_, *address, ip_.v4 ? 32 : 128)) {
          out.push_back(lower(ptr.values[i]));
          break;
        }
      }
    }
    return out;
  }

  void count_lookup() {
    if (++lookups_ > kMaxLookups) permerror("more than " + std::to_string(kMaxLookups) + " DNS lookups");
  }

  Answer query(const std::string& name, QueryType type) {
    if (!valid_query_name(name)) return Answer{QueryStatus::no_such_name, {}, {}, ""};
    return resolver_.query(name, type);
  }

  Answer query_or_fail(const std::string& name, QueryType type) {
    Answer a = query(name, type);
    if (a.status == QueryStatus::failure) throw Abort{Result::temperror, std::string(to_string(type)) + " lookup of " + name + " failed"};
    return a;
  }

  // A mechanism's own lookup: failures are temperror, and answers without data are "void
  // lookups", of which RFC 7208 §4.6.4 allows two.
  Answer query_counted(const std::string& name, QueryType type) {
    Answer a = query_or_fail(name, type);
    if (a.status != QueryStatus::ok && ++void_lookups_ > 2) permerror("more than 2 lookups found nothing");
    return a;
  }

  std::string explain(const std::string& exp_spec, const std::string& domain) {
    try {
      const std::string target = expand_domain(exp_spec, domain);
      const Answer txt = query(target, QueryType::TXT);
      if (txt.status != QueryStatus::ok || txt.values.size() != 1) return "";
      if (!valid_macro_string(txt.values[0], true)) return "";
      return expand(txt.values[0], domain, true);
    } catch (const Abort&) {
      return "";  // an explanation that cannot be built is left out (RFC 7208 §6.2)
    }
  }

  std::string expand_domain(const std::string& spec, const std::string& domain) {
    std::string out = expand(spec, domain, false);
    if (!out.empty() && out.back() == '.') out.pop_back();
    while (out.size() > 253) {  // RFC 7208 §7.3: drop labels from the left
      const auto dot = out.find('.');
      if (dot == std::string::npos) break;
      out.erase(0, dot + 1);
    }
    return out;
  }

  std::string macro_value(char letter, const std::string& domain) {
    switch (std::tolower(letter)) {
      case 's': return sender_;
      case 'l': return local_;
      case 'o': return sender_domain_;
      case 'd': return domain;
      case 'i': return address_dotted(ip_);
      case 'p': {
        const auto names = validated_names();
        for (const auto& n : names)
          if (n == lower(domain) || n.ends_with("." + lower(domain))) return n;
        return names.empty() ? "unknown" : names.front();
      }
      case 'v': return ip_.v4 ? "in-addr" : "ip6";
      case 'h': return request_.helo;
      case 'c': return address_text(ip_);
      case 'r': return request_.receiver;
      case 't':
        return std::to_string(
            std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    }
    permerror(std::string("unknown macro letter '") + letter + "'");
  }

  std::string expand(const std::string& s, const std::string& domain, bool explain) {
    if (!valid_macro_string(s, explain)) permerror("bad macro in '" + s + "'");
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '%') {
        out += s[i];
        continue;
      }
      const char n = s[++i];
      if (n == '%') out += '%';
      else if (n == '_') out += ' ';
      else if (n == '-') out += "%20";
      else {
        const auto close = s.find('}', i);
        const std::string body = s.substr(i + 1, close - i - 1);
        i = close;
        out += expand_macro(body, domain);
      }
    }
    return out;
  }

  std::string expand_macro(const std::string& body, const std::string& domain) {
    const char letter = body[0];
    std::size_t p = 1;
    std::string digits;
    while (p < body.size() && is_digit(body[p])) digits += body[p++];
    bool reverse = false;
    if (p < body.size() && (body[p] == 'r' || body[p] == 'R')) reverse = true, ++p;
    std::string delimiters = body.substr(p);
    if (delimiters.empty()) delimiters = ".";
    const std::string value = macro_value(letter, domain);
    std::vector<std::string> parts;
    std::string part;
    for (char c : value) {
      if (delimiters.find(c) != std::string::npos) {
        parts.push_back(part);
        part.clear();
      } else {
        part += c;
      }
    }
    parts.push_back(part);
    if (reverse) std::reverse(parts.begin(), parts.end());
    if (!digits.empty()) {
      // Past the 128 labels a DNS name can have, any count keeps them all; a long run of
      // digits saturates instead of overflowing (found by tests/fuzz: std::stoul threw).
      unsigned long keep = 0;
      for (const char c : digits) keep = std::min(1000UL, keep * 10 + static_cast<unsigned long>(c - '0'));
      if (keep == 0) permerror("macro transformer 0 in '%{" + body + "}'");
      if (keep < parts.size()) parts.erase(parts.begin(), parts.end() - static_cast<long>(keep));
    }
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? "." : "") + parts[i];
    if (std::isupper(static_cast<unsigned char>(letter))) {  // URL-escape (RFC 7208 §7.3)
      std::string escaped;
      static const char* hex = "0123456789ABCDEF";
      for (unsigned char c : out) {
        if (is_alnum(static_cast<char>(c)) || c == '-' || c == '.' || c == '_' || c == '~') {
          escaped += static_cast<char>(c);
        } else {
          escaped += '%';
          escaped += hex[c >> 4];
          escaped += hex[c & 15];
        }
      }
      out = escaped;
    }
    return out;
  }

  const Request& request_;
  resolver::Resolver& resolver_;
  Address ip_;
  std::string sender_, local_, sender_domain_, reason_;
  int lookups_ = 0;
  int void_lookups_ = 0;
};

void count_into(const std::string& record_text, const std::string& domain, resolver::Resolver& resolver,
                LookupCount& count, int depth, std::vector<std::string>& seen) {
  const std::string indent(static_cast<std::size_t>(depth) * 2, ' ');
  Record record;
  try {
    record = parse_record(record_text);
  } catch (const Abort& a) {
    count.problems.push_back(domain + ": " + a.reason);
    return;
  }
  auto follow = [&](const std::string& label, const std::string& target) {
    const int before = count.lookups;
    count.lookups += 1;
    const std::size_t line = count.breakdown.size();
    count.breakdown.push_back("");
    if (target.find('%') != std::string::npos) {
      count.breakdown[line] = indent + label + ": 1 (built from macros, not followed)";
      return;
    }
    // Past the limit the record fails anyway; following further only costs time, and
    // exponentially so for records whose includes fan out (found by tests/fuzz: spf).
    if (count.lookups > kMaxLookups) {
      count.stopped_early = true;
      count.breakdown[line] = indent + label + ": 1 (not followed: past the limit of " + std::to_string(kMaxLookups) + ")";
      return;
    }
    if (std::find(seen.begin(), seen.end(), target) != seen.end()) {
      count.problems.push_back(label + " loops back to " + target);
    } else {
      const Answer txt = resolver.query(target, QueryType::TXT);
      std::vector<std::string> spf;
      for (const auto& v : txt.values)
        if (is_spf_record(v)) spf.push_back(v);
      if (txt.status == QueryStatus::failure) count.problems.push_back(label + ": TXT lookup of " + target + " failed");
      else if (spf.size() != 1) count.problems.push_back(label + ": " + target + " publishes " + std::to_string(spf.size()) + " SPF records");
      else {
        seen.push_back(target);
        count_into(spf[0], target, resolver, count, depth + 1, seen);
        seen.pop_back();
      }
    }
    count.breakdown[line] = indent + label + ": " + std::to_string(count.lookups - before);
  };
  for (const auto& term : record.directives) {
    if (term.name == "include") {
      follow("include:" + term.domain_spec, lower(term.domain_spec));
    } else if (term.name == "a" || term.name == "mx" || term.name == "ptr" || term.name == "exists") {
      count.lookups += 1;
      count.breakdown.push_back(indent + term.text + ": 1");
    }
  }
  if (record.redirect) follow("redirect=" + *record.redirect, lower(*record.redirect));
}

}  // namespace

std::string_view to_string(Result result) {
  switch (result) {
    case Result::none: return "none";
    case Result::neutral: return "neutral";
    case Result::pass: return "pass";
    case Result::fail: return "fail";
    case Result::softfail: return "softfail";
    case Result::temperror: return "temperror";
    case Result::permerror: return "permerror";
  }
  return "?";
}

bool is_spf_record(std::string_view text) {
  return text.size() >= 6 && lower(text.substr(0, 6)) == "v=spf1" && (text.size() == 6 || text[6] == ' ');
}

std::string syntax_error(std::string_view record) {
  try {
    parse_record(record);
    return "";
  } catch (const Abort& a) {
    return a.reason;
  }
}

Check check_host(const Request& request, resolver::Resolver& resolver) { return Evaluator(request, resolver).run(); }

LookupCount count_lookups(const std::string& record, const std::string& domain, resolver::Resolver& resolver) {
  LookupCount count;
  std::vector<std::string> seen{lower(domain)};
  count_into(record, lower(domain), resolver, count, 0, seen);
  return count;
}

}  // namespace mailroom::spf
