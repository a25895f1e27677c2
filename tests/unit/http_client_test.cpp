// The SDK's HTTP client against a real HTTP/1.1 server (Boost.Beast) on a free port.
#include <mailroom/error.hpp>
#include <mailroom/http.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using boost::asio::ip::tcp;

// Serves each connection in its own thread until the client closes it; counts connections
// so that reuse is visible. "/slow" answers after 2 s; everything else echoes the request.
class EchoServer {
 public:
  EchoServer() : acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { accept_loop(); });
  }
  ~EchoServer() {
    stopping_ = true;
    // Closing the acceptor does not wake a blocked accept(); one last connection does.
    boost::system::error_code ec;
    tcp::socket wake(io_);
    wake.connect({boost::asio::ip::make_address("127.0.0.1"), port_}, ec);
    thread_.join();
    wake.close(ec);
    for (auto& t : sessions_) t.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_; }

 private:
  void accept_loop() {
    while (!stopping_) {
      boost::system::error_code ec;
      tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      ++connections_;
      sessions_.emplace_back([s = std::move(socket)]() mutable { serve(std::move(s)); });
    }
  }

  static void serve(tcp::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      boost::system::error_code ec;
      http::read(socket, buffer, request, ec);
      if (ec) return;
      if (request.target() == "/slow") std::this_thread::sleep_for(std::chrono::seconds(2));
      http::response<http::string_body> response(http::status::created, request.version());
      response.set("X-Echo-Method", std::string(request.method_string()));
      response.set("X-Echo-Target", std::string(request.target()));
      response.set("X-Echo-Auth", std::string(request[http::field::authorization]));
      response.set("X-Message-Id", "msg-42");
      response.body() = request.body();
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      http::write(socket, response, ec);
      if (ec || !request.keep_alive()) return;
    }
  }

  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
  std::vector<std::thread> sessions_;
};

mailroom::HttpClientOptions options(std::string base_url,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  mailroom::HttpClientOptions o;
  o.base_url = std::move(base_url);
  o.total_timeout = timeout;
  return o;
}

TEST(HttpClient, SendsAndReadsResponsesOverOneConnection) {
  EchoServer server;
  auto client = mailroom::make_http_client(options(server.url() + "/"));
  for (int i = 0; i < 3; ++i) {
    mailroom::HttpRequest request{"POST", "/v3/mail/send?x=" + std::to_string(i),
                                  {{"Authorization", "Bearer k"}, {"Content-Type", "application/json"}},
                                  R"({"n":)" + std::to_string(i) + "}"};
    const auto response = client->send(request);
    EXPECT_EQ(response.status, 201);
    EXPECT_EQ(response.body, request.body);
    EXPECT_EQ(response.headers.get("x-echo-method"), "POST");
    EXPECT_EQ(response.headers.get("X-ECHO-TARGET"), "/v3/mail/send?x=" + std::to_string(i));
    EXPECT_EQ(response.headers.get("x-echo-auth"), "Bearer k");
    EXPECT_EQ(response.headers.get("x-message-id"), "msg-42");
    EXPECT_FALSE(response.headers.get("x-absent").has_value());
  }
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClient, AbsoluteUrlsBypassTheBaseUrl) {
  EchoServer server;
  auto client = mailroom::make_http_client(options("http://127.0.0.1:1"));
  const auto response = client->send({"GET", server.url() + "/token", {}, ""});
  EXPECT_EQ(response.headers.get("x-echo-target"), "/token");
}

TEST(HttpClient, TimeoutIsATransientProviderError) {
  EchoServer server;
  auto client = mailroom::make_http_client(options(server.url(), std::chrono::milliseconds(300)));
  try {
    client->send({"GET", "/slow", {}, ""});
    FAIL() << "no timeout";
  } catch (const mailroom::ProviderError& e) {
    EXPECT_EQ(e.kind(), mailroom::ErrorKind::transient);
    EXPECT_EQ(e.info().code, "curl_28");
  }
}

TEST(HttpClient, RefusedConnectionIsTransient) {
  unsigned short port;
  {
    boost::asio::io_context io;
    tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }  // closed: nothing listens there now
  auto client = mailroom::make_http_client(options("http://127.0.0.1:" + std::to_string(port)));
  try {
    client->send({"GET", "/", {}, ""});
    FAIL();
  } catch (const mailroom::ProviderError& e) {
    EXPECT_EQ(e.kind(), mailroom::ErrorKind::transient);
    EXPECT_EQ(e.info().code, "curl_7");
  }
}

}  // namespace
