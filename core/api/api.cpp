#include "api.hpp"

#include "email_config.hpp"
#include "json_schema.hpp"
#include "migrate.hpp"
#include "queue.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <map>
#include <mutex>
#include <thread>

namespace mailroom::api {

extern const char* const kOpenApiDocument;

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using nlohmann::json;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// An error a handler reports; becomes an application/problem+json response.
struct Problem {
  http::status status;
  std::string title;
  std::string detail;
  json errors = json::array();
};

Response problem_response(const Problem& p, unsigned version, bool keep_alive) {
  Response r(p.status, version);
  r.set(http::field::content_type, "application/problem+json");
  json body{{"type", "about:blank"}, {"title", p.title}, {"status", static_cast<int>(p.status)}};
  if (!p.detail.empty()) body["detail"] = p.detail;
  if (!p.errors.empty()) body["errors"] = p.errors;
  r.body() = body.dump();
  r.keep_alive(keep_alive);
  r.prepare_payload();
  return r;
}

Response json_response(http::status status, const json& body, unsigned version, bool keep_alive) {
  Response r(status, version);
  r.set(http::field::content_type, "application/json");
  r.body() = body.dump();
  r.keep_alive(keep_alive);
  r.prepare_payload();
  return r;
}

const json_schema::Schema& email_schema() {
  static const json_schema::Schema schema = [] {
    const json doc = json::parse(kOpenApiDocument);
    json s = doc["components"]["schemas"]["NewEmail"];
    // The validator takes no "$ref" and ignores "format": the API checks addresses when queuing.
    return json_schema::Schema(s);
  }();
  return schema;
}

struct Metrics {
  std::mutex mutex;
  std::map<std::pair<std::string, int>, long> requests;  // (route, status) -> count
  void count(const std::string& route, int status) {
    std::lock_guard lock(mutex);
    ++requests[{route, status}];
  }
};

class Handler {
 public:
  Handler(db::Pool& pool, Metrics& metrics, const crypto::SecretBox* box) : pool_(pool), metrics_(metrics), box_(box) {}

  Response handle(const Request& request) {
    std::string route = "unknown";
    Response response = dispatch(request, route);
    metrics_.count(route, static_cast<int>(response.result_int()));
    return response;
  }

 private:
  Response dispatch(const Request& req, std::string& route) {
    const unsigned v = req.version();
    const bool keep = req.keep_alive();
    const std::string target(req.target().substr(0, req.target().find('?')));
    try {
      if (target == "/healthz" && req.method() == http::verb::get) {
        route = "/healthz";
        return json_response(http::status::ok, {{"status", "ok"}}, v, keep);
      }
      if (target == "/readyz" && req.method() == http::verb::get) {
        route = "/readyz";
        return readyz(v, keep);
      }
      if (target == "/metrics" && req.method() == http::verb::get) {
        route = "/metrics";
        return metrics(v, keep);
      }
      if (target == "/v1/openapi.json" && req.method() == http::verb::get) {
        route = "/v1/openapi.json";
        Response r(http::status::ok, v);
        r.set(http::field::content_type, "application/json");
        r.body() = kOpenApiDocument;
        r.keep_alive(keep);
        r.prepare_payload();
        return r;
      }
      if (target == "/v1/emails") {
        route = "/v1/emails";
        if (req.method() != http::verb::post)
          return problem_response({http::status::method_not_allowed, "Method not allowed", "use POST"}, v, keep);
        return post_emails(req, authenticate(req));
      }
      if (target == "/v1/email-configurations") {
        route = "/v1/email-configurations";
        return configurations(req, authenticate(req), "");
      }
      if (target.rfind("/v1/email-configurations/", 0) == 0 && target.find('/', 25) == std::string::npos) {
        route = "/v1/email-configurations/{id}";
        return configurations(req, authenticate(req), target.substr(25));
      }
      if (target.rfind("/v1/emails/", 0) == 0 && target.find('/', 11) == std::string::npos) {
        route = "/v1/emails/{id}";
        if (req.method() != http::verb::get)
          return problem_response({http::status::method_not_allowed, "Method not allowed", "use GET"}, v, keep);
        return get_email(req, authenticate(req), target.substr(11));
      }
      return problem_response({http::status::not_found, "Not found", "no route " + target}, v, keep);
    } catch (const Problem& p) {
      return problem_response(p, v, keep);
    } catch (const std::exception& e) {
      spdlog::error("{} {}: {}", std::string(req.method_string()), target, e.what());
      return problem_response({http::status::internal_server_error, "Internal error", "see the server log"}, v, keep);
    }
  }

  db::Authenticated authenticate(const Request& req) {
    const auto header = req[http::field::authorization];
    if (header.empty() || !header.starts_with("Bearer "))
      throw Problem{http::status::unauthorized, "Unauthorized", "missing bearer token (Authorization: Bearer mr_...)"};
    auto who = db::ApiTokens(pool_).authenticate(std::string(header.substr(7)));
    if (!who) throw Problem{http::status::unauthorized, "Unauthorized", "the token is unknown, revoked or expired"};
    return *who;
  }

  Response readyz(unsigned v, bool keep) {
    std::ostringstream progress;
    try {
      migrate::Migrator migrator(pool_.url(), migrate::embedded_migrations(), progress);
      for (const auto& s : migrator.status())
        if (!s.applied || !s.problem.empty())
          throw Problem{http::status::service_unavailable, "Not ready",
                        "migration " + s.version + " is " + (s.applied ? s.problem : "not applied (mailroom migrate up)")};
    } catch (const migrate::MigrationError& e) {
      throw Problem{http::status::service_unavailable, "Not ready", e.what()};
    }
    return json_response(http::status::ok, {{"status", "ready"}}, v, keep);
  }

  Response metrics(unsigned v, bool keep) {
    std::string text = "# HELP mailroom_emails Emails in the queue by status.\n# TYPE mailroom_emails gauge\n";
    for (const auto& [status, count] : db::EmailQueue(pool_).status_counts(""))
      text += "mailroom_emails{status=\"" + status + "\"} " + std::to_string(count) + "\n";
    text += "# HELP mailroom_http_requests_total HTTP requests by route and status.\n"
            "# TYPE mailroom_http_requests_total counter\n";
    {
      std::lock_guard lock(metrics_.mutex);
      for (const auto& [key, count] : metrics_.requests)
        text += "mailroom_http_requests_total{route=\"" + key.first + "\",code=\"" + std::to_string(key.second) +
                "\"} " + std::to_string(count) + "\n";
    }
    Response r(http::status::ok, v);
    r.set(http::field::content_type, "text/plain; version=0.0.4");
    r.body() = std::move(text);
    r.keep_alive(keep);
    r.prepare_payload();
    return r;
  }

  static json parse_body(const Request& req) {
    try {
      return json::parse(req.body());
    } catch (const json::parse_error& e) {
      throw Problem{http::status::bad_request, "Malformed JSON", "the body is not valid JSON (byte " + std::to_string(e.byte) + ")"};
    }
  }

  Response post_emails(const Request& req, const db::Authenticated& who) {
    const json body = parse_body(req);
    const bool many = body.is_object() && body.contains("emails");
    json items = many ? body["emails"] : json::array({body});
    if (many && (!items.is_array() || items.empty() || items.size() > 1000 || body.size() != 1))
      throw Problem{http::status::bad_request, "Invalid request", "\"emails\" must be the only member: an array of 1 to 1000 emails"};
    json errors = json::array();
    for (std::size_t i = 0; i < items.size(); ++i)
      for (const auto& violation : email_schema().validate(items[i]))
        errors.push_back({{"pointer", (many ? "/emails/" + std::to_string(i) : std::string()) + violation.instance_path},
                          {"message", violation.message}});
    if (!errors.empty())
      throw Problem{http::status::bad_request, "Invalid request",
                    "at " + (errors[0]["pointer"].get<std::string>().empty() ? std::string("(root)") : errors[0]["pointer"].get<std::string>()) +
                        ": " + errors[0]["message"].get<std::string>(),
                    errors};
    std::vector<queue::EmailRequest> requests;
    for (const auto& item : items) requests.push_back(queue::email_request_from_json(item));  // schema-checked above
    if (auto key = req["Idempotency-Key"]; !key.empty()) {
      if (many) throw Problem{http::status::bad_request, "Invalid request", "Idempotency-Key applies to a single email"};
      requests[0].idempotency_key = std::string(key);
    }
    // The configuration must be the caller's: asked as the caller, so row-level security
    // answers; someone else's configuration is reported as missing, not forbidden.
    for (const auto& r : requests) {
      bool visible = false;
      db::transact_as_app(pool_, who.user_id, [&](pqxx::work& tx) {
        visible = !tx.exec_params("SELECT 1 FROM email_configurations WHERE id::text = lower($1)", r.configuration_id).empty();
      });
      if (!visible) throw Problem{http::status::not_found, "Not found", "no email configuration " + r.configuration_id};
    }
    std::vector<queue::EnqueueResult> results;
    try {
      results = queue::enqueue(pool_, requests, who.user_id);
    } catch (const queue::EnqueueError& e) {
      throw Problem{http::status::unprocessable_entity, "Cannot queue", e.what()};
    }
    json out = json::array();
    for (const auto& r : results) {
      json item{{"id", r.id.empty() ? json(nullptr) : json(r.id)}, {"duplicate", r.duplicate}, {"suppressed", r.suppressed}};
      if (!r.not_queued.empty()) item["not_queued"] = r.not_queued;
      out.push_back(item);
    }
    return json_response(http::status::accepted, many ? json{{"emails", out}} : out[0], req.version(), req.keep_alive());
  }

  Response get_email(const Request& req, const db::Authenticated& who, const std::string& id) {
    json email;
    db::transact_as_app(pool_, who.user_id, [&](pqxx::work& tx) {
      const auto r = tx.exec_params(
          "SELECT id::text, status, recipient_email, subject, message_id, retry_count, last_error, created_at::text,"
          " sent_at::text FROM email_queue WHERE id::text = lower($1)",
          id);
      if (r.empty()) return;
      auto text = [&](int i) { return r[0][i].is_null() ? json(nullptr) : json(r[0][i].as<std::string>()); };
      email = {{"id", text(0)}, {"status", text(1)}, {"to", text(2)}, {"subject", text(3)}, {"message_id", text(4)},
               {"retry_count", r[0][5].as<int>()}, {"last_error", text(6)}, {"created_at", text(7)}, {"sent_at", text(8)}};
    });
    if (email.is_null()) throw Problem{http::status::not_found, "Not found", "no email " + id};
    return json_response(http::status::ok, email, req.version(), req.keep_alive());
  }

  // --- email configurations ------------------------------------------------------------
  const json_schema::Schema& configuration_schema() {
    static const json_schema::Schema schema(json::parse(kOpenApiDocument)["components"]["schemas"]["NewEmailConfiguration"]);
    return schema;
  }

  // The caller's configuration ids (row-level security decides which).
  std::vector<std::string> visible_configurations(const db::Authenticated& who, const std::string& only_id = "") {
    std::vector<std::string> ids;
    db::transact_as_app(pool_, who.user_id, [&](pqxx::work& tx) {
      for (const auto& r : tx.exec_params("SELECT id::text FROM email_configurations WHERE $1 = '' OR id::text = lower($1) "
                                          "ORDER BY created_at, id",
                                          only_id))
        ids.push_back(r[0].as<std::string>());
    });
    return ids;
  }

  Response configurations(const Request& req, const db::Authenticated& who, const std::string& id) {
    db::EmailConfigurations repo(pool_);
    const unsigned v = req.version();
    const bool keep = req.keep_alive();
    if (id.empty() && req.method() == http::verb::get) {
      json list = json::array();
      for (const auto& c : visible_configurations(who))
        if (auto row = repo.find(c)) list.push_back(email_config::view(*row));
      return json_response(http::status::ok, {{"configurations", list}}, v, keep);
    }
    if (id.empty() && req.method() == http::verb::post) {
      if (box_ == nullptr)
        throw Problem{http::status::service_unavailable, "No master key", "this server has no master key to seal secrets"};
      const json body = parse_body(req);
      if (auto violations = configuration_schema().validate(body); !violations.empty()) {
        json errors = json::array();
        for (const auto& x : violations) errors.push_back({{"pointer", x.instance_path}, {"message", x.message}});
        throw Problem{http::status::bad_request, "Invalid request", json_schema::describe({violations[0]}), errors};
      }
      email_config::Input in;
      try {
        if (body.contains("dsn")) in = email_config::parse_dsn(body["dsn"]);
        else in.provider = body.value("provider", "");
        if (body.contains("provider") && body.contains("dsn") && body["provider"] != in.provider)
          throw email_config::InputError("provider contradicts the DSN (" + in.provider + ")");
        if (body.contains("host")) in.host = body["host"];
        if (body.contains("port")) in.port = body["port"].get<int>();
        if (body.contains("username")) in.username = body["username"];
        if (body.contains("tls")) in.tls = body["tls"];
        in.from_address = body.value("from", "");
        in.from_name = body.value("from_name", "");
        in.reply_to_address = body.value("reply_to", "");
        if (body.contains("secret")) in.secret = body["secret"].get<std::string>();
        db::EmailConfiguration row;
        row.id = repo.new_id();
        row.user_id = who.user_id;  // from the token: a user can only create its own
        email_config::apply(in, row, *box_, true);
        repo.create(row, who.user_id);
        return json_response(http::status::created, email_config::view(*repo.find(row.id)), v, keep);
      } catch (const email_config::InputError& e) {
        throw Problem{http::status::unprocessable_entity, "Invalid configuration", e.what()};
      }
    }
    if (!id.empty() && (req.method() == http::verb::get || req.method() == http::verb::delete_)) {
      if (visible_configurations(who, id).empty())
        throw Problem{http::status::not_found, "Not found", "no email configuration " + id};
      auto row = repo.find(id);
      if (!row) throw Problem{http::status::not_found, "Not found", "no email configuration " + id};
      if (req.method() == http::verb::get) return json_response(http::status::ok, email_config::view(*row), v, keep);
      try {
        repo.remove(row->id, row->user_id, who.user_id);
      } catch (const pqxx::foreign_key_violation&) {
        throw Problem{http::status::conflict, "In use", "emails still refer to configuration " + id};
      }
      Response r(http::status::no_content, v);
      r.keep_alive(keep);
      r.prepare_payload();
      return r;
    }
    throw Problem{http::status::method_not_allowed, "Method not allowed", "GET, POST or DELETE"};
  }

  db::Pool& pool_;
  Metrics& metrics_;
  const crypto::SecretBox* box_;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Handler& handler, const ApiOptions& options)
      : stream_(std::move(socket)), handler_(handler), options_(options) {}

  void run() { read(); }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(options_.max_body_bytes);
    stream_.expires_after(options_.request_timeout);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream) return close();
    if (ec == http::error::body_limit) {
      // Refused before the body is parsed; the connection is not reused.
      return write(problem_response({http::status::payload_too_large, "Payload too large",
                                     "the body is larger than " + std::to_string(options_.max_body_bytes) + " bytes"},
                                    11, false));
    }
    if (ec) return close();
    // The handler blocks on the database; the pool of I/O threads bounds how many at once.
    write(handler_.handle(parser_->get()));
  }

  void write(Response response) {
    auto shared = std::make_shared<Response>(std::move(response));
    const bool keep = shared->keep_alive();
    http::async_write(stream_, *shared, [self = shared_from_this(), shared, keep](beast::error_code ec, std::size_t) {
      if (ec || !keep) return self->close();
      self->read();
    });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Handler& handler_;
  const ApiOptions& options_;
};

}  // namespace

struct Server::Impl {
  Impl(db::Pool& pool, ApiOptions opts, const crypto::SecretBox* box)
      : options(std::move(opts)), handler(pool, metrics, box), acceptor(io) {}

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;  // closed: stopping
      std::make_shared<Session>(std::move(socket), handler, options)->run();
      accept();
    });
  }

  ApiOptions options;
  Metrics metrics;
  Handler handler;
  asio::io_context io;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
};

Server::Server(db::Pool& pool, ApiOptions options, const crypto::SecretBox* box)
    : impl_(std::make_unique<Impl>(pool, std::move(options), box)) {}

Server::~Server() { stop(); }

unsigned short Server::start() {
  const auto& listen = impl_->options.listen;
  const auto colon = listen.rfind(':');
  beast::error_code ec;
  const auto address = asio::ip::make_address(listen.substr(0, colon), ec);
  if (ec) throw std::runtime_error("api.listen " + listen + ": not an IP address");
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(std::stoi(listen.substr(colon + 1))));
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + listen + ": " + ec.message());
  impl_->accept();
  for (std::size_t i = 0; i < std::max<std::size_t>(1, impl_->options.threads); ++i)
    impl_->threads.emplace_back([this] { impl_->io.run(); });
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
