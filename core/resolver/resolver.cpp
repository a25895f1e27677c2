// c-ares does the transport (UDP with TCP fallback on truncation, retries, timeouts) and
// name decompression (ares_expand_name). The answer's resource records are walked here in
// one loop for every type: c-ares 1.18 has no parser for CNAME answers, and one walk keeps
// the joining of TXT character-strings and the lower-casing of names in one place.
#include "resolver.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <sys/select.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>

namespace mailroom::resolver {
namespace {

constexpr int kClassIn = 1;

int wire_type(QueryType type) {
  switch (type) {
    case QueryType::A: return 1;
    case QueryType::AAAA: return 28;
    case QueryType::MX: return 15;
    case QueryType::TXT: return 16;
    case QueryType::CNAME: return 5;
    case QueryType::PTR: return 12;
  }
  return 0;
}

std::string normalised_name(std::string name) {
  if (!name.empty() && name.back() == '.') name.pop_back();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  return name;
}

unsigned read16(const unsigned char* p) { return (unsigned(p[0]) << 8) | p[1]; }

// Expands the name at `at`; returns false when malformed.
bool expand(const unsigned char* at, const unsigned char* message, int length, std::string& name, long& consumed) {
  char* out = nullptr;
  if (ares_expand_name(at, message, length, &out, &consumed) != ARES_SUCCESS) return false;
  name = normalised_name(out);
  ares_free_string(out);
  return true;
}

// Reads the answer section: records of `type` (CNAMEs met on the way to them are skipped).
bool parse_answer(const unsigned char* message, int length, QueryType type, Answer& answer) {
  if (length < 12) return false;
  const unsigned questions = read16(message + 4), answers = read16(message + 6);
  const unsigned char* p = message + 12;
  const unsigned char* end = message + length;
  std::string name;
  long consumed = 0;
  for (unsigned i = 0; i < questions; ++i) {
    if (!expand(p, message, length, name, consumed) || p + consumed + 4 > end) return false;
    p += consumed + 4;
  }
  for (unsigned i = 0; i < answers; ++i) {
    if (!expand(p, message, length, name, consumed) || p + consumed + 10 > end) return false;
    p += consumed;
    const int rr_type = static_cast<int>(read16(p));
    const unsigned rr_class = read16(p + 2), rdlength = read16(p + 8);
    p += 10;
    if (p + rdlength > end) return false;
    const unsigned char* rdata = p;
    p += rdlength;
    if (rr_class != kClassIn || rr_type != wire_type(type)) continue;
    switch (type) {
      case QueryType::A:
      case QueryType::AAAA: {
        char text[INET6_ADDRSTRLEN] = {};
        const int family = type == QueryType::A ? AF_INET : AF_INET6;
        if (rdlength != (type == QueryType::A ? 4u : 16u) || !inet_ntop(family, rdata, text, sizeof text)) return false;
        answer.values.emplace_back(text);
        break;
      }
      case QueryType::TXT: {
        std::string joined;
        for (const unsigned char* s = rdata; s < rdata + rdlength;) {
          const unsigned n = *s++;
          if (s + n > rdata + rdlength) return false;
          joined.append(reinterpret_cast<const char*>(s), n);
          s += n;
        }
        answer.values.push_back(joined);
        break;
      }
      case QueryType::MX: {
        if (rdlength < 3) return false;
        std::string host;
        if (!expand(rdata + 2, message, length, host, consumed)) return false;
        answer.mx.push_back({static_cast<int>(read16(rdata)), host});
        break;
      }
      case QueryType::CNAME:
      case QueryType::PTR: {
        std::string target;
        if (!expand(rdata, message, length, target, consumed)) return false;
        answer.values.push_back(target);
        break;
      }
    }
  }
  return true;
}

struct Pending {
  QueryType type;
  Answer answer;
  bool done = false;
};

void on_answer(void* arg, int status, int, unsigned char* message, int length) {
  auto* pending = static_cast<Pending*>(arg);
  pending->done = true;
  auto& answer = pending->answer;
  switch (status) {
    case ARES_SUCCESS:
      answer.status = QueryStatus::ok;
      if (!parse_answer(message, length, pending->type, answer)) {
        answer = {};
        answer.status = QueryStatus::failure;
        answer.error = "malformed answer";
      } else if (answer.values.empty() && answer.mx.empty()) {
        answer.status = QueryStatus::no_data;
      }
      return;
    case ARES_ENOTFOUND: answer.status = QueryStatus::no_such_name; return;
    case ARES_ENODATA: answer.status = QueryStatus::no_data; return;
    default:
      answer.status = QueryStatus::failure;
      answer.error = ares_strerror(status);
  }
}

class CaresResolver final : public Resolver {
 public:
  explicit CaresResolver(const ResolverOptions& options) {
    static std::once_flag once;
    std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
    ares_options o{};
    o.timeout = static_cast<int>(options.timeout.count());
    o.tries = options.tries;
    o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_EDNS;
    o.ednspsz = 1232;
    if (ares_init_options(&channel_, &o, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS | ARES_OPT_EDNSPSZ) !=
        ARES_SUCCESS)
      throw std::runtime_error("cannot start the DNS resolver (c-ares)");
    if (!options.servers.empty() && ares_set_servers_ports_csv(channel_, options.servers.c_str()) != ARES_SUCCESS) {
      ares_destroy(channel_);
      throw std::invalid_argument("resolver: bad server address '" + options.servers +
                                  "' (want ADDRESS[:PORT], comma-separated)");
    }
  }
  ~CaresResolver() override { ares_destroy(channel_); }

  Answer query(const std::string& name, QueryType type) override {
    Pending pending{type, {}, false};
    ares_query(channel_, name.c_str(), kClassIn, wire_type(type), on_answer, &pending);
    while (!pending.done) {
      fd_set read, write;
      FD_ZERO(&read);
      FD_ZERO(&write);
      const int nfds = ares_fds(channel_, &read, &write);
      if (nfds == 0) break;
      timeval wait{}, *tv = ares_timeout(channel_, nullptr, &wait);
      ::select(nfds, &read, &write, nullptr, tv);
      ares_process(channel_, &read, &write);
    }
    if (!pending.done) {
      pending.answer.status = QueryStatus::failure;
      pending.answer.error = "no answer";
    }
    return pending.answer;
  }

 private:
  ares_channel channel_ = nullptr;
};

}  // namespace

std::string_view to_string(QueryType type) {
  switch (type) {
    case QueryType::A: return "A";
    case QueryType::AAAA: return "AAAA";
    case QueryType::MX: return "MX";
    case QueryType::TXT: return "TXT";
    case QueryType::CNAME: return "CNAME";
    case QueryType::PTR: return "PTR";
  }
  return "?";
}

std::unique_ptr<Resolver> make_resolver(const ResolverOptions& options) {
  return std::make_unique<CaresResolver>(options);
}

}  // namespace mailroom::resolver
