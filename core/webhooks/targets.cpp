#include "webhooks.hpp"

#include <arpa/inet.h>
#include <boost/url/parse.hpp>
#include <mailroom/record.hpp>

#include <algorithm>
#include <array>
#include <cstdint>

namespace mailroom::webhooks {
namespace {

AddressClass classify_v4(std::uint32_t a) {
  auto in = [a](std::uint32_t network, int bits) {
    const std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
    return (a & mask) == network;
  };
  // Cloud metadata endpoints first: they sit inside link-local and shared ranges.
  if (a == 0xA9FEA9FE /* 169.254.169.254 */ || a == 0xA9FEAA02 /* 169.254.170.2, ECS */ ||
      a == 0x646464C8 /* 100.100.100.200, Alibaba */)
    return AddressClass::metadata;
  if (in(0x00000000, 8)) return AddressClass::unspecified;  // 0.0.0.0/8: "this network"
  if (in(0x7F000000, 8)) return AddressClass::loopback;
  if (in(0x0A000000, 8) || in(0xAC100000, 12) || in(0xC0A80000, 16) || in(0x64400000, 10))
    return AddressClass::private_network;  // RFC 1918 and shared address space (RFC 6598)
  if (in(0xA9FE0000, 16)) return AddressClass::link_local;
  if (in(0xE0000000, 4)) return AddressClass::multicast;
  if (in(0xF0000000, 4) || in(0xC0000000, 24) || in(0xC6120000, 15))
    return AddressClass::reserved;  // 240/4 and broadcast, IETF assignments, benchmarking
  return AddressClass::global;
}

std::uint32_t v4_at(const unsigned char* bytes) {
  return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) | (std::uint32_t{bytes[2]} << 8) | bytes[3];
}

AddressClass classify_v6(const std::array<unsigned char, 16>& b) {
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static constexpr unsigned char kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  static constexpr std::array<unsigned char, 16> kAwsMetadata = {0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
  if (std::equal(kMapped, kMapped + 12, b.begin()) || std::equal(kNat64, kNat64 + 12, b.begin()))
    return classify_v4(v4_at(b.data() + 12));
  if (b == kAwsMetadata) return AddressClass::metadata;
  bool zero_to_14 = std::all_of(b.begin(), b.begin() + 15, [](unsigned char c) { return c == 0; });
  if (zero_to_14 && b[15] == 0) return AddressClass::unspecified;
  if (zero_to_14 && b[15] == 1) return AddressClass::loopback;
  if (zero_to_14) return AddressClass::reserved;  // IPv4-compatible (deprecated)
  if ((b[0] & 0xfe) == 0xfc) return AddressClass::private_network;           // fc00::/7
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressClass::link_local;  // fe80::/10
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return AddressClass::private_network;  // fec0::/10, site-local
  if (b[0] == 0xff) return AddressClass::multicast;
  return AddressClass::global;
}

bool is_localhost_name(const std::string& name) {
  const std::string host = normal_name(name);
  return host == "localhost" || host.ends_with(".localhost");  // RFC 6761: always loopback
}

}  // namespace

AddressClass classify_address(const std::string& address) {
  std::array<unsigned char, 16> bytes{};
  if (::inet_pton(AF_INET, address.c_str(), bytes.data()) == 1) return classify_v4(v4_at(bytes.data()));
  if (::inet_pton(AF_INET6, address.c_str(), bytes.data()) == 1) return classify_v6(bytes);
  return AddressClass::reserved;
}

std::string_view describe(AddressClass c) {
  switch (c) {
    case AddressClass::global: return "a public address";
    case AddressClass::loopback: return "a loopback address";
    case AddressClass::private_network: return "a private-network address";
    case AddressClass::link_local: return "a link-local address";
    case AddressClass::metadata: return "a cloud metadata address";
    case AddressClass::unspecified: return "an unspecified address";
    case AddressClass::multicast: return "a multicast address";
    case AddressClass::reserved: return "a reserved address";
  }
  return "an address";
}

std::string url_problem(const std::string& url, const TargetPolicy& policy) {
  const auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return "must be an absolute URL, like https://app.example.com/hooks/mailroom";
  const auto scheme = parsed->scheme_id();
  if (scheme == boost::urls::scheme::http && !policy.allow_http)
    return "must use https:// (plain http:// is allowed only with webhooks.allow_http in the config file, for development)";
  if (scheme != boost::urls::scheme::https && scheme != boost::urls::scheme::http) return "must be an https:// URL";
  if (parsed->host().empty()) return "must name a host";
  if (parsed->has_userinfo()) return "must not carry a user name or password (the signature authenticates mailroom)";
  if (parsed->has_fragment()) return "must not have a #fragment";
  return "";
}

Target resolve_target(const std::string& url, const TargetPolicy& policy, resolver::Resolver& resolver) {
  Target target;
  if (const auto problem = url_problem(url, policy); !problem.empty()) {
    target.refusal = "the URL " + problem;
    return target;
  }
  const auto parsed = boost::urls::parse_absolute_uri(url);
  target.port = parsed->has_port() ? static_cast<int>(parsed->port_number())
                                   : (parsed->scheme_id() == boost::urls::scheme::https ? 443 : 80);
  const auto host_type = parsed->host_type();
  target.host = host_type == boost::urls::host_type::ipv6 ? std::string(parsed->host_address())
                                                          : std::string(parsed->encoded_host());
  std::vector<std::string> addresses;
  if (host_type == boost::urls::host_type::ipv4 || host_type == boost::urls::host_type::ipv6) {
    addresses.push_back(target.host);
  } else if (host_type != boost::urls::host_type::name) {
    target.refusal = "the URL's host " + target.host + " is not a name or an IP address";
    return target;
  } else if (is_localhost_name(target.host)) {
    if (!policy.allow_private_networks)
      target.refusal = target.host + " is " + std::string(describe(AddressClass::loopback)) +
                       " by definition; mailroom does not deliver webhooks to loopback, private, link-local or "
                       "metadata addresses (webhooks.allow_private_networks allows them, for development)";
    return target;
  } else if (policy.allow_private_networks) {
    return target;  // every address is allowed: the HTTP client resolves the name itself
  } else {
    std::string failures;
    bool no_such_name = false;
    for (auto type : {resolver::QueryType::A, resolver::QueryType::AAAA}) {
      const auto answer = resolver.query(target.host, type);
      if (answer.status == resolver::QueryStatus::ok)
        addresses.insert(addresses.end(), answer.values.begin(), answer.values.end());
      else if (answer.status == resolver::QueryStatus::no_such_name)
        no_such_name = true;
      else if (answer.status == resolver::QueryStatus::failure)
        failures = answer.error;
    }
    if (addresses.empty()) {
      target.refusal = no_such_name       ? target.host + " does not exist in DNS (NXDOMAIN)"
                       : failures.empty() ? target.host + " has no A or AAAA record"
                                          : target.host + " could not be resolved: " + failures;
      return target;
    }
  }
  if (!policy.allow_private_networks)
    for (const auto& address : addresses)
      if (const auto c = classify_address(address); c != AddressClass::global) {
        target.refusal = (address == target.host ? address : target.host + " resolves to " + address) + ", " +
                         std::string(describe(c)) +
                         "; mailroom does not deliver webhooks to loopback, private, link-local or metadata "
                         "addresses (webhooks.allow_private_networks allows them, for development)";
        return target;
      }
  target.addresses = addresses;
  return target;
}

}  // namespace mailroom::webhooks
