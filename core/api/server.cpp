// The HTTP server: Beast sessions on a small pool of I/O threads, and the router that
// matches a request to a route, authenticates it and runs it in the caller's row-level
// security scope.
#include "metrics.hpp"
#include "routes.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <spdlog/spdlog.h>

#include <pqxx/except>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <type_traits>

#include <unistd.h>

namespace mailroom::api {
namespace {

namespace beast = boost::beast;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// A route pattern's segments ("/v1/emails/{id}" -> v1, emails, {id}).
std::vector<std::string> segments(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 1;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    out.emplace_back(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

class Router {
 public:
  explicit Router(Services services) : services_(std::move(services)) {
    add_system_routes(routes_);
    add_email_routes(routes_);
    add_configuration_routes(routes_);
    add_template_routes(routes_);
    add_account_routes(routes_);
    add_dns_routes(routes_);
    add_webhook_routes(routes_);
    add_unsubscribe_routes(routes_);
    add_subscription_routes(routes_);
    for (const auto& r : routes_) patterns_.push_back(segments(r.pattern));
  }

  // Never throws: whatever a handler or the database throws becomes an answer, so no request
  // can end the process.
  Response handle(const Request& request) noexcept {
    const auto started = std::chrono::steady_clock::now();
    std::string route = "unmatched";
    Response response = guarded_dispatch(request, route);
    auto& registry = metrics::Registry::global();
    registry.add("mailroom_http_requests_total", {{"route", route}, {"code", std::to_string(response.result_int())}});
    registry.observe("mailroom_http_request_duration_seconds", {{"route", route}},
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return response;
  }

 private:
  // The boundary: a Problem is the handler's answer; a database refusal of a value is the
  // caller's fault (400/409/422); anything else is a server fault, logged with a request id
  // that the answer names.
  Response guarded_dispatch(const Request& request, std::string& route_label) noexcept {
    const unsigned v = request.version();
    const bool keep = request.keep_alive();
    try {
      try {
        return dispatch(request, route_label);
      } catch (const Problem& p) {
        return problem_response(p, v, keep);
      } catch (const pqxx::data_exception& e) {
        return problem_response({http::status::bad_request, "Invalid request",
                                 "the database refused a value (SQLSTATE " + e.sqlstate() + "): check the fields' types and lengths"},
                                v, keep);
      } catch (const pqxx::unique_violation&) {
        return problem_response({http::status::conflict, "Conflict", "the resource exists already"}, v, keep);
      } catch (const pqxx::integrity_constraint_violation& e) {
        return problem_response({http::status::unprocessable_entity, "Invalid request",
                                 "the database refused the change (SQLSTATE " + e.sqlstate() + ")"},
                                v, keep);
      } catch (const std::exception& e) {
        return server_fault(request, e.what());
      } catch (...) {
        return server_fault(request, "an exception that is not a std::exception");
      }
    } catch (...) {  // writing the answer itself failed (memory): the smallest answer there is
      Response r(http::status::internal_server_error, v);
      r.keep_alive(false);
      return r;
    }
  }

  Response server_fault(const Request& request, const std::string& what) {
    const auto id = request_id();
    const std::string_view target(request.target().data(), request.target().size());
    // The target is logged without its query: queries may carry addresses.
    spdlog::error("request {}: {} {}: {}", id, std::string(request.method_string()),
                  dump(json(std::string(target.substr(0, target.find('?'))))), what);
    return problem_response({http::status::internal_server_error, "Internal error",
                             "request " + id + " failed on the server; its log has the cause"},
                            request.version(), request.keep_alive());
  }

  static std::string request_id() {
    static std::atomic<unsigned long> counter{0};
    static const unsigned long process = static_cast<unsigned long>(::getpid());
    return std::to_string(process) + "-" + std::to_string(++counter);
  }

  Response dispatch(const Request& request, std::string& route_label) {
    const unsigned v = request.version();
    const bool keep = request.keep_alive();
    const std::string_view target(request.target().data(), request.target().size());
    const std::string path(target.substr(0, target.find('?')));
    const auto url = boost::urls::parse_origin_form(target);
    if (!url) throw Problem{http::status::bad_request, "Invalid request", "the request target is not a valid URL path"};
    const std::vector<std::string> parts(url->segments().begin(), url->segments().end());  // percent-decoded
    for (std::size_t i = 0; i < parts.size(); ++i)
      if (const auto why = input_problem(parts[i]); !why.empty())
        throw Problem{http::status::bad_request, "Invalid request", "path segment " + std::to_string(i + 1) + " " + why};
    std::string allowed;
    for (std::size_t i = 0; i < routes_.size(); ++i) {
      std::vector<std::string> params;
      if (!matches(patterns_[i], parts, params)) continue;
      route_label = routes_[i].pattern;
      if (routes_[i].method != request.method()) {
        allowed += (allowed.empty() ? "" : ", ") + std::string(http::to_string(routes_[i].method));
        continue;
      }
      Call call{request, services_, {}, std::move(params)};
      if (routes_[i].authenticated) call.who = authenticate(request);  // before anything is said of the request
      check_ids(patterns_[i], parts);
      if (!routes_[i].takes_query) query(request, {});  // refuses any parameter, naming it
      if (!routes_[i].authenticated) return routes_[i].handler(call);
      db::ActingAs scope(call.who.user_id);  // every statement of this request: row-level security
      return routes_[i].handler(call);
    }
    if (!allowed.empty()) {
      auto r = problem_response({http::status::method_not_allowed, "Method not allowed", "use " + allowed}, v, keep);
      r.set(http::field::allow, allowed);
      return r;
    }
    return problem_response({http::status::not_found, "Not found", "no route " + path}, v, keep);
  }

  // Parameters that name a row by id ({id}, {configuration}) are UUIDs: anything else names
  // nothing, and is reported as such before any query.
  static void check_ids(const std::vector<std::string>& pattern, const std::vector<std::string>& parts) {
    for (std::size_t i = 1; i < pattern.size(); ++i) {
      if (pattern[i] != "{id}" && pattern[i] != "{configuration}") continue;
      if (db::is_uuid(parts[i])) continue;
      throw Problem{http::status::not_found, "Not found",
                    "no " + pattern[i - 1] + " '" + parts[i] + "': an id is a UUID (8-4-4-4-12 hexadecimal digits)"};
    }
  }

  static bool matches(const std::vector<std::string>& pattern, const std::vector<std::string>& parts,
                      std::vector<std::string>& params) {
    if (pattern.size() != parts.size()) return false;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (pattern[i].starts_with('{')) {
        if (parts[i].empty()) return false;
        params.push_back(parts[i]);
      } else if (pattern[i] != parts[i]) {
        return false;
      }
    }
    return true;
  }

  // The token's user; an admin token may act for another user with "Mailroom-Act-As: <user id>".
  db::Authenticated authenticate(const Request& request) {
    // The scheme is case-insensitive (RFC 9110 section 11.1); one or more spaces follow it.
    std::string_view header = request[http::field::authorization];
    if (header.size() < 7 || !boost::beast::iequals(header.substr(0, 6), "Bearer") || header[6] != ' ')
      throw Problem{http::status::unauthorized, "Unauthorized", "missing bearer token (Authorization: Bearer mr_...)"};
    header.remove_prefix(7);
    while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
    while (!header.empty() && header.back() == ' ') header.remove_suffix(1);
    auto who = db::ApiTokens(services_.pool).authenticate(std::string(header));
    if (!who) throw Problem{http::status::unauthorized, "Unauthorized", "the token is unknown, revoked or expired"};
    if (const auto act_as = request["Mailroom-Act-As"]; !act_as.empty()) {
      if (!who->is_admin)
        throw Problem{http::status::forbidden, "Forbidden", "Mailroom-Act-As needs an admin token"};
      const std::string user(act_as);
      const auto acted = db::Users(services_.pool).find(user);
      if (!acted) throw Problem{http::status::bad_request, "Invalid request", "Mailroom-Act-As: no user '" + user + "'"};
      who->user_id = acted->id;
      who->is_admin = false;  // acting as the user: that user's rows only
    }
    return *who;
  }

  Services services_;
  std::vector<Route> routes_;
  std::vector<std::vector<std::string>> patterns_;
};

// One connection: plain TCP, or TLS (Stream = beast::ssl_stream<beast::tcp_stream>).
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <class... Args>
  Session(Router& router, const ApiOptions& options, Args&&... stream_args)
      : stream_(std::forward<Args>(stream_args)...), router_(router), options_(options) {}

  void run() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(options_.request_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
        if (!ec) self->read();
      });
    } else {
      read();
    }
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  void read() {
    parser_.emplace();
    parser_->body_limit(options_.max_body_bytes);
    beast::get_lowest_layer(stream_).expires_after(options_.request_timeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream) return close();
    if (ec == http::error::body_limit) {
      // Refused before the body is parsed; the connection is not reused.
      return write(problem_response({http::status::payload_too_large, "Payload too large",
                                     "the body is larger than " + std::to_string(options_.max_body_bytes) + " bytes"},
                                    11, false));
    }
    // A parse error of Beast's HTTP parser (any http::error but a cut-off message) is the
    // client's: it gets a 400 before the connection closes. Transport errors just close.
    static const auto& parse_errors = http::make_error_code(http::error::bad_target).category();
    if (ec && ec.category() == parse_errors && ec != http::error::partial_message)
      return write(problem_response({http::status::bad_request, "Malformed HTTP", "the request is not valid HTTP/1.1: " + ec.message()},
                                    11, false));
    if (ec) return close();
    // The handler blocks on the database; the pool of I/O threads bounds how many at once.
    write(router_.handle(parser_->get()));
  }

  void write(Response response) {
    auto shared = std::make_shared<Response>(std::move(response));
    const bool keep = shared->keep_alive();
    http::async_write(stream_, *shared, [self = this->shared_from_this(), shared, keep](beast::error_code ec, std::size_t) {
      if (ec || !keep) return self->close();
      self->read();
    });
  }

  void close() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Router& router_;
  const ApiOptions& options_;
};

// "HOST:PORT" with HOST an IPv4 address or a bracketed IPv6 one ("[::1]:8025", RFC 3986).
tcp::endpoint listen_endpoint(const std::string& listen) {
  const auto colon = listen.rfind(':');
  const auto fail = [&](const std::string& why) {
    return std::runtime_error("api.listen '" + listen + "': " + why + " (want ADDRESS:PORT, e.g. 127.0.0.1:8025 or [::1]:8025)");
  };
  if (colon == std::string::npos || colon == 0) throw fail("no port");
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string::npos) throw fail("an IPv6 address goes in brackets");
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) throw fail("'" + host + "' is not an IP address");
  const std::string port = listen.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535)
    throw fail("the port must be 0-65535");
  return {address, static_cast<unsigned short>(std::stoi(port))};
}

}  // namespace

struct Server::Impl {
  Impl(db::Pool& pool, ApiOptions opts, const crypto::SecretBox* box, const plugin_host::PluginHost* plugins)
      : options(std::move(opts)), router(Services{pool, box, plugins, options.dns_resolver, options.public_url,
                                             options.webhooks_allow_http, options.webhooks_allow_private_networks}), acceptor(io) {}

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;  // closed: stopping
      if (tls)
        std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(router, options, std::move(socket), *tls)->run();
      else
        std::make_shared<Session<beast::tcp_stream>>(router, options, std::move(socket))->run();
      accept();
    });
  }

  // TLS from the certificate chain and key files (PEM), when both are configured.
  void load_tls() {
    if (options.tls_cert_file.empty() && options.tls_key_file.empty()) return;
    if (options.tls_cert_file.empty() || options.tls_key_file.empty())
      throw std::runtime_error("api TLS needs both a certificate file and a key file");
    tls.emplace(asio::ssl::context::tls_server);
    tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    beast::error_code ec;
    tls->use_certificate_chain_file(options.tls_cert_file, ec);
    if (ec) throw std::runtime_error("api TLS certificate " + options.tls_cert_file + ": " + ec.message());
    tls->use_private_key_file(options.tls_key_file, asio::ssl::context::pem, ec);
    if (ec) throw std::runtime_error("api TLS key " + options.tls_key_file + ": " + ec.message());
  }

  ApiOptions options;
  std::optional<asio::ssl::context> tls;
  Router router;
  asio::io_context io;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
};

Server::Server(db::Pool& pool, ApiOptions options, const crypto::SecretBox* box, const plugin_host::PluginHost* plugins)
    : impl_(std::make_unique<Impl>(pool, std::move(options), box, plugins)) {}

Server::~Server() { stop(); }

unsigned short Server::start() {
  impl_->load_tls();
  const auto endpoint = listen_endpoint(impl_->options.listen);
  const auto& listen = impl_->options.listen;
  beast::error_code ec;
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + listen + ": " + ec.message());
  impl_->accept();
  for (std::size_t i = 0; i < std::max<std::size_t>(1, impl_->options.threads); ++i)
    impl_->threads.emplace_back([this] {
      // The router answers every error itself; this only keeps a thread serving if something
      // below it (a completion handler) ever throws.
      for (;;) {
        try {
          impl_->io.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("api: an I/O handler threw: {}", e.what());
        }
      }
    });
  return impl_->acceptor.local_endpoint().port();
}

void Server::stop() {
  if (impl_->threads.empty()) return;
  beast::error_code ec;
  impl_->acceptor.close(ec);
  impl_->io.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

}  // namespace mailroom::api
