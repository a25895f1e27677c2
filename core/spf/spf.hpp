// SPF (RFC 7208): parsing records, evaluating check_host() through a Resolver, and counting
// the DNS lookups a record costs, as email-setup needs before it publishes one.
//
// Hand-written: no Debian C or C++ library evaluates SPF against a caller-supplied resolver
// (libspf2 does its own DNS and is unmaintained since 2012), and the DNS engine must check
// records before they are published. Proven against the openspf.org RFC 7208 test suite
// (tests/unit/spf_test.cpp).
#pragma once

#include "resolver.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace mailroom::spf {

enum class Result { none, neutral, pass, fail, softfail, temperror, permerror };
std::string_view to_string(Result result);

// The 10 DNS-querying terms of RFC 7208 §4.6.4 (include, a, mx, ptr, exists, redirect).
inline constexpr int kMaxLookups = 10;

struct Request {
  std::string ip;      // the client's address, IPv4 or IPv6 text
  std::string sender;  // MAIL FROM; empty: postmaster@helo
  std::string helo;
  std::string receiver = "unknown";  // %{r}
};

struct Check {
  Result result = Result::none;
  std::string explanation;  // on fail, from the record's exp= (empty: none)
  std::string reason;       // why, for people: "matched ip4:192.0.2.0/24", "11 DNS lookups (limit 10)"
  int lookups = 0;
};

Check check_host(const Request& request, resolver::Resolver& resolver);

// Whether a TXT string is an SPF record ("v=spf1" alone or followed by a space).
bool is_spf_record(std::string_view text);

// Checks a record's syntax; returns "" when valid, else what is wrong.
std::string syntax_error(std::string_view record);

struct LookupCount {
  int lookups = 0;  // worst case: every DNS-querying term of the record and of what it includes
  // One line per DNS-querying term, nested includes indented: "include:_spf.google.com: 4".
  std::vector<std::string> breakdown;
  std::vector<std::string> problems;  // includes without an SPF record, lookup failures, ...
  bool stopped_early = false;  // past kMaxLookups includes are no longer followed: lookups is a lower bound
};

// Counts the lookups `record` (published at `domain`) costs, following include: and
// redirect= through the resolver. Terms built from macros count 1 and are not followed; once
// the count is past kMaxLookups, includes count 1 and are not followed either (the record
// fails whatever they hold, and fanned-out includes would otherwise cost exponential time).
LookupCount count_lookups(const std::string& record, const std::string& domain, resolver::Resolver& resolver);

}  // namespace mailroom::spf
