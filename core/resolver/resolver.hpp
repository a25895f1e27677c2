// DNS queries as mailroom's DNS engine and SPF checks need them: one name, one type, the
// answer's values, and whether the name or the data is missing or the query failed.
// make_resolver() asks a configurable server (address and port) with c-ares; tests and the
// SPF test suite give their own Resolver.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace mailroom::resolver {

enum class QueryType { A, AAAA, MX, TXT, CNAME, PTR };
std::string_view to_string(QueryType type);

enum class QueryStatus {
  ok,            // values holds the answer
  no_such_name,  // NXDOMAIN
  no_data,       // the name exists without records of this type
  failure        // timeout, SERVFAIL, refused, malformed: DNS did not say
};

struct MxValue {
  int preference = 0;
  std::string host;  // lower case, no trailing dot
};

struct Answer {
  QueryStatus status = QueryStatus::failure;
  // A/AAAA: addresses as text; TXT: each record's character-strings joined into one
  // string; CNAME/PTR: names (lower case, no trailing dot).
  std::vector<std::string> values;
  std::vector<MxValue> mx;
  std::string error;  // for failure: what went wrong
};

class Resolver {
 public:
  virtual ~Resolver() = default;
  virtual Answer query(const std::string& name, QueryType type) = 0;
};

struct ResolverOptions {
  // "ADDRESS[:PORT]" ("127.0.0.1:5353", "[::1]:53"), comma-separated for several; empty:
  // the system's resolvers (/etc/resolv.conf).
  std::string servers;
  std::chrono::milliseconds timeout{3000};  // per try
  int tries = 2;
};

// Reads a DNS reply's answer section into `answer.values` / `answer.mx`: records of `type`
// (CNAMEs met on the way to them are skipped). False when the message is malformed. Used by
// make_resolver()'s resolver; public for the fuzzer (tests/fuzz).
bool parse_answer(const unsigned char* message, int length, QueryType type, Answer& answer);

// Throws std::invalid_argument naming a bad server address.
std::unique_ptr<Resolver> make_resolver(const ResolverOptions& options);

}  // namespace mailroom::resolver
