// DNS replies as a server (or anyone spoofing one) sends them: the resolver's answer-section
// reader, for every query type. Input: the reply's bytes.
#include "resolver.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using mailroom::resolver::QueryType;
  for (const auto type : {QueryType::A, QueryType::AAAA, QueryType::MX, QueryType::TXT, QueryType::CNAME, QueryType::PTR}) {
    mailroom::resolver::Answer answer;
    (void)mailroom::resolver::parse_answer(data, static_cast<int>(size), type, answer);
  }
  return 0;
}
