// The HTTP API (Boost.Beast): JSON over HTTP/1.1 with keep-alive, bearer tokens,
// application/problem+json errors, /healthz, /readyz, /metrics and /v1/openapi.json, and the
// /v1 resources: emails, email configurations, templates, suppressions, quota, audit log,
// DNS zones and records, provider webhooks.
// Every user-facing query runs as the role mailroom_app with mailroom.actor_id set, so
// PostgreSQL's row-level security (migration 006) applies. See docs/api.md.
#pragma once

#include "crypto.hpp"
#include "db.hpp"
#include "plugin_host.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace mailroom::api {

// What makes `body` not match components.schemas[schema_name] of the OpenAPI document
// ("at /priority: must be <= 1000"), or "". The one check of a resource's shape: the API's
// bodies and `mailroom send --file` lines alike ("NewEmail").
std::string schema_problem(const nlohmann::json& body, const std::string& schema_name);

struct ApiOptions {
  std::string listen = "127.0.0.1:8025";  // HOST:PORT; port 0 picks a free one
  std::size_t threads = 8;  // handlers block on the database: this many requests at once
  std::size_t max_body_bytes = 32 * 1024 * 1024;  // the config's api.max_body_bytes
  std::chrono::seconds request_timeout{30};
  std::string dns_resolver;  // for the DNS endpoints' validate and email-setup; empty: the system's
  std::string public_url;    // api.public_url: where one-click unsubscribe links point; empty: none
  // Event webhook targets: plain http:// and loopback/private/link-local/metadata addresses
  // are refused unless the config file allows them (webhooks.allow_*; development only).
  bool webhooks_allow_http = false;
  bool webhooks_allow_private_networks = false;
  std::string tls_cert_file;  // both set: HTTPS (PEM certificate chain and private key)
  std::string tls_key_file;
};

class Server {
 public:
  // `box` seals and opens secrets (configurations, zones); without it those requests are
  // refused (503). `plugins` serves verify, DNS and webhooks; without it they answer 503.
  Server(db::Pool& pool, ApiOptions options, const crypto::SecretBox* box = nullptr,
         const plugin_host::PluginHost* plugins = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving on background threads; returns the port. Throws
  // std::runtime_error naming the address when it cannot bind, or the file when the TLS
  // certificate or key cannot be loaded.
  unsigned short start();
  // Stops accepting, closes connections, joins the threads.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailroom::api
