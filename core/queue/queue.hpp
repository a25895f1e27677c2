// The email queue: enqueue (validate, render, suppress, write, NOTIFY) and the workers that
// claim with a lease, send through the provider plugin, and write the outcome back in
// batches (River's and Oban's shape; see docs/queue.md).
#pragma once

#include "crypto.hpp"
#include "db.hpp"
#include "plugin_host.hpp"

#include <mailroom/clock.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace mailroom::queue {

// Bad input to enqueue; the message names the email (by position) and the field.
class EnqueueError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The email names a configuration that does not exist, or that the caller cannot see.
class UnknownConfiguration : public EnqueueError {
 public:
  using EnqueueError::EnqueueError;
};

struct EmailRequest {
  std::string configuration_id;
  std::string to;
  std::string to_name;
  std::vector<std::string> cc;
  std::vector<std::string> bcc;
  std::string subject;  // with text_body/html_body, or a template:
  std::string text_body;
  std::string html_body;
  std::string template_name;
  nlohmann::json data = nlohmann::json::object();  // template data
  int priority = 100;      // 0..1000, lower first
  std::string send_at;     // ISO 8601 time; empty: now
  int max_retries = 5;
  std::string idempotency_key;
  db::MessageExtras extras;  // attachments (bytes decoded), header fields, tags, metadata, unsubscribe_mailto
  std::optional<bool> list_unsubscribe;  // unset: the configuration's list_unsubscribe
};

// One-click unsubscription (RFC 8058). The token of an email's unsubscribe URL ("<email id>.<key id>.<HMAC>"), and the email id a
// token names when it is one this deployment made (nullopt: forged, altered or of a removed key).
std::string unsubscribe_token(const crypto::SecretBox& box, const std::string& email_id);
std::optional<std::string> unsubscribe_email_id(const crypto::SecretBox& box, const std::string& token);
// List-Unsubscribe (<PUBLIC_URL/v1/unsubscribe/TOKEN>, and <mailto:...> when given) and
// List-Unsubscribe-Post: List-Unsubscribe=One-Click.
std::vector<std::pair<std::string, std::string>> list_unsubscribe_headers(const std::string& public_url,
                                                                          const std::string& token,
                                                                          const std::string& mailto);

// What enqueue needs to know about the deployment.
struct EnqueueSettings {
  std::string public_url;  // api.public_url; empty: list_unsubscribe is refused
};

// The media type of a file by its name ("invoice.pdf" -> application/pdf), for attachments
// given without one; application/octet-stream when the extension is not a common one.
std::string content_type_for(const std::string& filename);

// An email as JSON, as `mailroom send --file` lines and the API's bodies give it. Its shape
// is the API's NewEmail schema (api::schema_problem), checked once, by the caller, before
// this reads it; a member of the wrong type still throws EnqueueError naming it.
EmailRequest email_request_from_json(const nlohmann::json& email);

struct EnqueueResult {
  std::string id;                       // empty when nothing was queued
  bool duplicate = false;               // the idempotency key returned an earlier email
  std::vector<std::string> suppressed;  // recipients dropped (hard bounce, complaint, manual)
  std::string not_queued;               // why nothing was queued (the To address is suppressed)
};

inline constexpr std::size_t kMaxBodyBytes = 10 * 1024 * 1024;

// All or nothing: every request is checked first (its fields, and what the configuration's
// plugin declares it can send: providers::email_refusal); the writes are one transaction.
std::vector<EnqueueResult> enqueue(db::Pool& pool, const plugin_host::PluginHost& plugins,
                                   const std::vector<EmailRequest>& requests, const std::string& actor_id,
                                   const EnqueueSettings& settings = {});

// The one JSON form of an email and of a delivery log entry (API and CLI alike).
nlohmann::json to_json(const db::QueueEmailRow& email);
nlohmann::json to_json(const db::DeliveryLogRow& log);

// Retry delay before attempt `attempt` (1 = the first retry): attempt^4 seconds, ±10 %
// jitter, capped at 6 hours.
double backoff_seconds(int attempt, std::mt19937_64& rng);

// Sends in flight per configuration when neither the configuration, the host's config file
// nor the plugin says.
inline constexpr std::size_t kDefaultWindow = 4;

struct WorkerOptions {
  std::string worker_id;         // unique per process, e.g. host:pid; holds the leases
  std::size_t max_in_flight = 256;  // sends in flight on this host, over every configuration
  std::size_t window = 0;        // sends in flight per configuration; 0: what its plugin declares
  std::size_t batch_size = 100;  // emails claimed at a time
  double lease_seconds = 300;    // renewed while the host lives (heartbeat every quarter)
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds flush_interval{200};  // outcomes are written at least this often
  std::chrono::seconds shutdown_deadline{30};
  bool until_empty = false;  // stop once nothing is queued or sending (benchmarks, batch jobs)
  std::string public_url;    // api.public_url, for List-Unsubscribe; empty: such emails fail
  const Clock* clock = nullptr;  // wall time of the quota windows; null: the system clock
};

struct WorkerStats {
  std::atomic<long> sent{0}, retried{0}, failed{0}, deferred{0}, released{0}, rescued{0}, late{0};
};

// Runs the host's sending until `stop` becomes true (or, with until_empty, the queue
// drains), then lets in-flight sends finish within the shutdown deadline and releases the
// rest. Returns false when the deadline passed with sends still running.
bool run_workers(db::Pool& pool, const plugin_host::PluginHost& host, const crypto::SecretBox& box,
                 const WorkerOptions& options, std::atomic<bool>& stop, WorkerStats& stats);

// One round, for tests and tools: claims one batch, sends it through the same windows (or
// releases it when `stop` is set), writes the outcomes. Returns how many emails it claimed.
std::size_t process_batch(db::Pool& pool, const plugin_host::PluginHost& host, const crypto::SecretBox& box,
                          const WorkerOptions& options, std::atomic<bool>& stop, WorkerStats& stats);

}  // namespace mailroom::queue
