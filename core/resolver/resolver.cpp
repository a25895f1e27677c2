// c-ares does the transport (UDP with TCP fallback on truncation, retries, timeouts) and
// name decompression (ares_expand_name). The answer's resource records are walked here in
// one loop for every type: c-ares 1.18 has no parser for CNAME answers, and one walk keeps
// the joining of TXT character-strings and the lower-casing of names in one place.
#include "resolver.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <poll.h>

#include <algorithm>
#include <mutex>
#include <vector>
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

}  // namespace

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

namespace {

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
    // poll(), not select(): a host with more than 1,024 descriptors open (API connections,
    // database pools) would overflow select()'s fd_set.
    while (!pending.done) {
      ares_socket_t sockets[ARES_GETSOCK_MAXNUM];
      const int bits = ares_getsock(channel_, sockets, ARES_GETSOCK_MAXNUM);
      std::vector<pollfd> watched;
      for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
        short events = 0;
        if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
        if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
        if (events != 0) watched.push_back({sockets[i], events, 0});
      }
      if (watched.empty()) break;
      timeval wait{}, *tv = ares_timeout(channel_, nullptr, &wait);
      const int ms = tv == nullptr ? -1 : static_cast<int>(tv->tv_sec * 1000 + (tv->tv_usec + 999) / 1000);
      if (::poll(watched.data(), watched.size(), ms) <= 0) {
        ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts and retries
        continue;
      }
      for (const auto& w : watched)
        ares_process_fd(channel_, (w.revents & (POLLIN | POLLERR | POLLHUP)) ? w.fd : ARES_SOCKET_BAD,
                        (w.revents & POLLOUT) ? w.fd : ARES_SOCKET_BAD);
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
