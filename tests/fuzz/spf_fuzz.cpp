// SPF records as DNS serves them (anyone's domain): the syntax check, the lookup count and a
// full check_host() evaluation (macros, includes, redirects) against a resolver that serves
// the input as the TXT record of every name. Input: the record.
#include "resolver.hpp"
#include "spf.hpp"

namespace {

class InputResolver final : public mailroom::resolver::Resolver {
 public:
  explicit InputResolver(std::string record) : record_(std::move(record)) {}
  mailroom::resolver::Answer query(const std::string& name, mailroom::resolver::QueryType type) override {
    mailroom::resolver::Answer a;
    a.status = mailroom::resolver::QueryStatus::ok;
    switch (type) {
      case mailroom::resolver::QueryType::TXT: a.values = {record_}; break;
      case mailroom::resolver::QueryType::A: a.values = {"192.0.2.1"}; break;
      case mailroom::resolver::QueryType::AAAA: a.values = {"2001:db8::1"}; break;
      case mailroom::resolver::QueryType::MX: a.mx = {{10, "mx." + name}}; break;
      default: a.status = mailroom::resolver::QueryStatus::no_data;
    }
    return a;
  }

 private:
  std::string record_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string record(reinterpret_cast<const char*>(data), size);
  (void)mailroom::spf::is_spf_record(record);
  (void)mailroom::spf::syntax_error(record);
  InputResolver resolver(record);
  (void)mailroom::spf::count_lookups(record, "example.com", resolver);
  mailroom::spf::Request request;
  request.ip = "192.0.2.1";
  request.sender = "user@example.com";
  request.helo = "mail.example.com";
  (void)mailroom::spf::check_host(request, resolver);
  return 0;
}
