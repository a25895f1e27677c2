// Event webhooks to applications (docs/webhooks.md): subscriptions, the rules a target URL
// must meet, Standard Webhooks signing, and the deliverer that `serve` runs.
//
// Events are written by database triggers in the transaction of the change that causes them
// (migration 017); this module only manages subscriptions and delivers.
#pragma once

#include "crypto.hpp"
#include "db.hpp"
#include "resolver.hpp"

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace mailroom::webhooks {

// Every event type a subscription may ask for, in documentation order.
inline const std::vector<std::string> kEventTypes = {
    "email.sent",         "email.deferred",     "email.failed",       "email.delivered",
    "email.bounced",      "email.complained",   "email.unsubscribed", "email.opened",
    "email.clicked",      "dns.record.applied", "dns.record.failed",  "dns.record.invalid"};

// A request that cannot be accepted; `field` names what is wrong (the API answers 422).
class InvalidRequest : public std::runtime_error {
 public:
  InvalidRequest(std::string field, const std::string& message) : std::runtime_error(message), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

// --- targets: the server-side request forgery rules --------------------------------------
struct TargetPolicy {
  bool allow_http = false;              // plain http:// (development)
  bool allow_private_networks = false;  // loopback, private, link-local, metadata (development)
};

enum class AddressClass { global, loopback, private_network, link_local, metadata, unspecified, multicast, reserved };
// The class of an IPv4 or IPv6 address in text form (IPv4-mapped and NAT64 IPv6 addresses are
// judged by the IPv4 address inside); reserved for text that is not an address.
AddressClass classify_address(const std::string& address);
std::string_view describe(AddressClass address_class);  // "a loopback address", ...

// What the URL's syntax allows: "" or the problem (https only unless allowed, a host, no
// user name or password in it, no fragment).
std::string url_problem(const std::string& url, const TargetPolicy& policy);

struct Target {
  std::string host;  // as in the URL (an IPv6 literal without brackets)
  int port = 443;
  // The addresses checked: the connection goes to these and no others (no second lookup
  // that DNS rebinding could answer differently). Empty when private networks are allowed
  // and the host is a name: the HTTP client resolves it itself then.
  std::vector<std::string> addresses;
  std::string refusal;  // set: do not connect; says why
};
// Resolves the URL's host with `resolver` and checks every address it has against the policy.
Target resolve_target(const std::string& url, const TargetPolicy& policy, resolver::Resolver& resolver);

// --- signing (Standard Webhooks) ---------------------------------------------------------
// A new signing secret: "whsec_" + base64 of 32 random bytes.
std::string new_signing_secret();
// The webhook-signature header: "v1,<base64 HMAC-SHA256 of id.timestamp.body>" under each
// secret ("whsec_..."), separated by spaces. Throws InvalidRequest for a malformed secret.
std::string signature_header(const std::vector<std::string>& secrets, const std::string& id, long long timestamp,
                             const std::string& body);

// --- subscriptions (shared by the API and the CLI) ----------------------------------------
struct SubscriptionInput {
  std::string url;
  std::vector<std::string> event_types;  // empty on create: every type
  std::string description;
};

struct CreatedSubscription {
  db::WebhookSubscription row;
  std::string secret;  // shown once
};

class Subscriptions {
 public:
  Subscriptions(db::Pool& pool, const crypto::SecretBox& box, TargetPolicy policy, resolver::Resolver& resolver);
  // Throws InvalidRequest naming the field (url, event_types, description).
  CreatedSubscription create(const std::string& user_id, const SubscriptionInput& input, const std::string& actor_id);
  // Checks and writes url (checked when it changed) / event_types / description / status
  // ("active" | "paused") as given.
  void update(db::WebhookSubscription& row, const std::string& actor_id);
  // A new secret; the current one keeps verifying for `grace_seconds` (0: not at all).
  std::string rotate(const db::WebhookSubscription& row, long grace_seconds, const std::string& actor_id);

 private:
  void check_url(const std::string& url);
  static void check_event_types(const std::vector<std::string>& event_types);

  db::WebhookSubscriptions repo_;
  const crypto::SecretBox& box_;
  TargetPolicy policy_;
  resolver::Resolver& resolver_;
};

// The associated data a subscription's secret is sealed with.
std::string secret_associated_data(const std::string& subscription_id, bool previous);

// --- delivery ---------------------------------------------------------------------------
struct DelivererOptions {
  std::string worker_id;
  TargetPolicy policy;
  std::string resolver_servers;  // "" : the system's resolvers
  std::chrono::seconds timeout{10};
  std::size_t concurrency = 100;
  std::vector<int> retry_schedule_seconds{5, 300, 1800, 7200, 18000, 36000, 36000};
  long pause_after_seconds = 120 * 3600;
  std::chrono::seconds shutdown_deadline{10};
};

struct DeliveryStats {
  std::atomic<long> delivered{0}, retried{0}, failed{0}, refused{0};
};

// Delivers webhook messages until `stop`: claims due messages (SKIP LOCKED, a lease), checks
// each target against the policy, POSTs with the Standard Webhooks headers (libcurl's multi
// interface: `concurrency` requests in flight on one thread, connections reused), and records
// every attempt. Runs on its own threads and connections: a slow receiver never holds up
// email delivery. On stop, requests still running after `shutdown_deadline` are abandoned:
// their leases expire and a host sends them again under the same webhook-id.
void run_deliverer(db::Pool& pool, const crypto::SecretBox& box, const DelivererOptions& options,
                   const std::atomic<bool>& stop, DeliveryStats& stats);

}  // namespace mailroom::webhooks
