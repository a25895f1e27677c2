// Event webhook target URLs (anyone with an API token chooses them) and what DNS answers
// for their host: the SSRF check must never crash, and whatever it accepts under the strict
// policy must be pinned to addresses that are all public. Input: the URL, then
// "\n--\n" and the addresses the resolver answers (one per line).
#include "fuzz_input.hpp"
#include "webhooks.hpp"

#include <cstdlib>
#include <sstream>

namespace {

class InputResolver final : public mailroom::resolver::Resolver {
 public:
  explicit InputResolver(std::vector<std::string> addresses) : addresses_(std::move(addresses)) {}
  mailroom::resolver::Answer query(const std::string&, mailroom::resolver::QueryType) override {
    mailroom::resolver::Answer a;
    a.status = addresses_.empty() ? mailroom::resolver::QueryStatus::no_such_name : mailroom::resolver::QueryStatus::ok;
    a.values = addresses_;
    return a;
  }

 private:
  std::vector<std::string> addresses_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const auto parts = mailroom::fuzz::fields(data, size, 2);
  std::vector<std::string> addresses;
  std::istringstream lines(parts[1]);
  for (std::string line; std::getline(lines, line);) addresses.push_back(line);
  InputResolver resolver(addresses);
  const auto target = mailroom::webhooks::resolve_target(parts[0], {}, resolver);
  if (target.refusal.empty()) {
    if (target.addresses.empty()) std::abort();  // the strict policy always pins what it checked
    for (const auto& a : target.addresses)
      if (mailroom::webhooks::classify_address(a) != mailroom::webhooks::AddressClass::global) std::abort();
  }
  (void)mailroom::webhooks::resolve_target(parts[0], {true, true}, resolver);
  return 0;
}
