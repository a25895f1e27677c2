// mailroom's database access: a libpqxx connection pool and one repository per table.
// All SQL lives in this module. Every write transaction sets `mailroom.actor_id`, which the
// audit triggers (migration 003) record as the acting user.
#pragma once

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <cctype>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mailroom::db {

// Whether `text` is a UUID in its text form (so it can be compared as a uuid, with an index).
inline bool is_uuid(const std::string& text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

class DbError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A fixed-size pool of connections, opened on first use and replaced when broken.
class Pool {
 public:
  Pool(std::string url, std::size_t size);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<pqxx::connection> connection);
    ~Lease();
    Lease(Lease&&) = default;
    pqxx::connection& operator*() { return *connection_; }
    pqxx::connection* operator->() { return connection_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<pqxx::connection> connection_;
  };

  Lease acquire();
  const std::string& url() const { return url_; }

 private:
  void give_back(std::unique_ptr<pqxx::connection> connection);

  std::string url_;
  std::size_t size_;
  std::size_t open_ = 0;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  std::mutex mutex_;
  std::condition_variable available_;
};

// Runs `work(tx)` in one transaction whose mailroom.actor_id is `actor_id` (a user id, or
// empty for none) and commits it; an exception rolls everything back. Inside an ActingAs
// scope the transaction runs as mailroom_app for the scope's actor instead. Repository calls
// made inside `work` on the same thread (their own transact() and Reader) join this
// transaction: several repositories' changes commit together.
void transact(Pool& pool, const std::string& actor_id, const std::function<void(pqxx::work&)>& work);

// While it lives, every statement the repositories run on this thread runs as the role
// mailroom_app with mailroom.actor_id = `actor_id`, so PostgreSQL's row-level security
// (migration 006) limits it to the actor's rows (all rows for an admin). The API opens one
// per request: a repository call that forgot a user filter still sees only the caller's rows.
class ActingAs {
 public:
  explicit ActingAs(std::string actor_id);
  ~ActingAs();
  ActingAs(const ActingAs&) = delete;
  ActingAs& operator=(const ActingAs&) = delete;

 private:
  std::optional<std::string> previous_;
};

// A read for the repositories: the running transact()'s transaction when there is one, else
// a plain one outside an ActingAs scope, or one as mailroom_app for the scope's actor inside.
class Reader {
 public:
  explicit Reader(Pool& pool);
  pqxx::transaction_base& tx() { return *current_; }

 private:
  std::optional<Pool::Lease> lease_;
  std::unique_ptr<pqxx::transaction_base> owned_;
  pqxx::transaction_base* current_ = nullptr;
};

// --- users ---------------------------------------------------------------------------
struct User {
  std::string id;
  std::string email;
  std::string name;
  bool is_admin = false;
};

class Users {
 public:
  explicit Users(Pool& pool) : pool_(pool) {}
  // Throws DbError when the email is taken or malformed.
  User create(const std::string& email, const std::string& name, bool is_admin);
  std::optional<User> find_by_email(const std::string& email);
  std::optional<User> find(const std::string& id);  // a malformed id finds nothing
  std::vector<User> list();

 private:
  Pool& pool_;
};

// --- email_configurations -------------------------------------------------------------
// The secret columns; each holds a ciphertext "v1:<key id>:<base64>" or NULL.
inline const std::vector<std::string> kEmailConfigSecretColumns = {
    "google_oauth_token_encrypted", "google_oauth_refresh_token_encrypted",
    "google_service_account_encrypted", "smtp_password_encrypted", "secrets_encrypted"};

struct EmailConfiguration {
  std::string id;
  std::string user_id;
  std::string provider;  // the email plugin's name (migration 010: any plugin, not only the seed's three)
  std::string smtp_host;
  std::optional<int> smtp_port;
  std::string smtp_username;
  std::string from_address;
  std::string from_name;
  std::string reply_to_address;
  bool is_active = true;
  bool is_verified = false;
  nlohmann::json settings = nlohmann::json::object();
  std::map<std::string, std::string> ciphertexts;  // secret column -> ciphertext
  std::string plugin;  // the plugin that sends; empty: the one named like provider
  // Overrides of the plugin's sending policy (migration 011); unset: what the plugin declares.
  std::optional<int> send_window;             // sends in flight, 1..1000
  std::optional<double> requests_per_second;  // the pace, > 0
  // The quota gate's limits (migration 015), for plugins with a quota model; unset: the plugin's.
  std::optional<int> daily_limit;   // sends over a rolling 24 hours, 1..1,000,000
  std::optional<int> hourly_limit;  // sends over a rolling hour
  // What the last successful verify could not check, one sentence each.
  std::vector<std::string> verify_unchecked;
  // Migration 016: whether its emails carry one-click List-Unsubscribe unless one says otherwise,
  // and the mailto: beside it.
  bool list_unsubscribe = false;
  std::string unsubscribe_mailto;
  std::string created_at;
  std::string updated_at;

  const std::string& plugin_name() const { return plugin.empty() ? provider : plugin; }
};

class EmailConfigurations {
 public:
  explicit EmailConfigurations(Pool& pool) : pool_(pool) {}

  // A fresh id for a row about to be created: ciphertexts are bound to it.
  std::string new_id();
  void create(const EmailConfiguration& config, const std::string& actor_id);
  void update(const EmailConfiguration& config, const std::string& actor_id);
  bool remove(const std::string& id, const std::string& user_id, const std::string& actor_id);
  std::optional<EmailConfiguration> find(const std::string& id);
  std::vector<EmailConfiguration> list(const std::string& user_id);  // empty: every user's

  // Rows having a secret column whose ciphertext is not under `key_id`, at most `limit`.
  std::vector<EmailConfiguration> needing_rotation(const std::string& key_id, std::size_t limit);
  // Writes new ciphertexts for many rows in one transaction.
  void store_ciphertexts(const std::vector<EmailConfiguration>& rows, const std::string& actor_id);

 private:
  Pool& pool_;
};

// The seed column a plugin keeps its short-lived credential in (the manifest's
// credential_column), for one configuration: its sealed value, written by one refresher at a
// time across hosts. Not a configuration change: migration 013 keeps it out of the audit log.
class ConfigurationCredential {
 public:
  // `column` must be one of kEmailConfigSecretColumns (the manifest's schema allows only
  // google_oauth_token_encrypted, which migration 013 keeps out of the audit log).
  ConfigurationCredential(Pool& pool, std::string configuration_id, std::string column);

  // The sealed value, or "" when there is none.
  std::string read();
  // Runs `refresh(the sealed value now)` in a transaction holding the configuration's
  // credential lock (an advisory lock: one refresher at a time, on any host) and stores what
  // it returns; "" stores nothing. What `refresh` throws rolls back and passes through.
  void refresh(const std::function<std::string(const std::string& current)>& refresh);
  // Clears the column if it still holds `sealed`.
  void clear_if(const std::string& sealed);

 private:
  Pool& pool_;
  std::string id_, column_;
};

// --- email_queue and email_delivery_logs -----------------------------------------------
// An attachment of a queued email; its bytes are kept once per user and content (migration 016).
struct EmailAttachment {
  std::string filename;
  std::string content_type;
  std::string content_id;  // set: an inline part
  std::string content;     // the bytes
};

// What an email carries beyond its addresses and bodies (migration 016), the same when it is
// queued and when it is claimed.
struct MessageExtras {
  std::vector<EmailAttachment> attachments;
  std::vector<std::pair<std::string, std::string>> headers;  // added by the application, in order
  std::vector<std::string> tags;
  std::map<std::string, std::string> metadata;
  bool list_unsubscribe = false;   // one-click List-Unsubscribe (RFC 8058), added when sent
  std::string unsubscribe_mailto;  // a mailto: alternative in it; empty: none
};

struct NewQueuedEmail {
  std::string user_id;
  std::string configuration_id;
  std::string recipient_email;
  std::string recipient_name;
  std::vector<std::string> cc;
  std::vector<std::string> bcc;
  std::string from_address;
  std::string from_name;
  std::string reply_to_address;
  std::string subject;
  std::string text_body;
  std::string html_body;
  std::string template_name;
  nlohmann::json template_data;  // null: none
  int priority = 100;
  std::string run_at;  // timestamptz text; empty: now
  int max_retries = 5;
  std::string idempotency_key;
  MessageExtras extras;
};

struct EnqueuedEmail {
  std::string id;
  bool duplicate = false;  // the idempotency key named an email already queued
};

// A claimed email, with what sending it needs.
struct ClaimedEmail {
  std::string id, user_id, configuration_id;
  std::string recipient_email, recipient_name;
  std::vector<std::string> cc, bcc;
  std::string from_address, from_name, reply_to_address;
  std::string subject, text_body, html_body;
  int retry_count = 0;
  int max_retries = 0;
  MessageExtras extras;
};

// A text column as JSON: rows read a NULL as "", and give it back as null.
inline nlohmann::json text_or_null(const std::string& text) { return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text); }

// email_queue.status, the seed's values (River's typed job states).
enum class EmailStatus {
  pending,  // the seed's initial value; mailroom enqueues straight to queued
  queued,   // waiting for run_at and a worker (new, retry scheduled, rescheduled, released)
  sending,  // claimed by a worker under a lease
  sent,     // the provider accepted it (a message id is kept)
  failed,   // permanently refused, retries exhausted, or cancelled
  bounced,  // the provider reported a bounce after sending
  spam,     // the recipient complained
};
inline constexpr EmailStatus kEmailStatuses[] = {EmailStatus::pending, EmailStatus::queued,  EmailStatus::sending,
                                                 EmailStatus::sent,    EmailStatus::failed,  EmailStatus::bounced,
                                                 EmailStatus::spam};
std::string_view to_string(EmailStatus status);
std::optional<EmailStatus> email_status_from_string(std::string_view text);

// email_delivery_logs.event_type: the seed's values, then migration 012's.
enum class LogEvent {
  queued, sending, sent, failed, bounced, opened, clicked, complained,
  delivered, deferred, dropped, unsubscribed,
};
std::string_view to_string(LogEvent event);

// What became of a claimed email; written back in batches, guarded by the lease.
struct Completion {
  std::string id;
  EmailStatus status = EmailStatus::queued;  // sent | queued (retry, reschedule, release) | failed
  std::string message_id;    // sent
  double delay_seconds = 0;  // queued: run again after this
  int retry_increment = 0;   // 1 when an attempt was used up
  std::string error_kind, error_code, error_message;
  LogEvent event_type = LogEvent::queued;
  std::string event_status;  // its detail: accepted, retry_scheduled, quota_deferred, ...
  std::string provider;      // the configuration's provider
  bool uncount_quota = false;  // the provider refused it: its quota count is given back
};

struct QueueEmailRow {
  std::string id, user_id, configuration_id, status, recipient_email, subject, message_id;
  std::string last_error, last_error_kind, run_at, created_at, sent_at, idempotency_key;
  std::string delivered_at, bounced_at, bounce_type, bounce_reason;
  int retry_count = 0, max_retries = 0;
  // Migration 016: the application's header fields ({name: value}), tags, metadata, and its
  // attachments as [{filename, content_type, content_id, size}] (never their bytes).
  nlohmann::json headers = nlohmann::json::object(), tags = nlohmann::json::array(),
                 metadata = nlohmann::json::object(), attachments = nlohmann::json::array();
  bool list_unsubscribe = false;
  std::string unsubscribe_mailto;
};

struct DeliveryLogRow {
  std::string event_type, event_status, error_code, error_message, provider, created_at;
};

// What a provider's event does to its email, besides the delivery log.
enum class EmailChange {
  none,
  delivered,  // delivered_at, once
  bounced,    // status bounced with bounced_at, bounce_type and bounce_reason (a hard bounce)
  spam,       // status spam (a complaint)
  dropped,    // status failed: the provider will not deliver it
};

// A provider's event about an email, as the webhook route maps it to a delivery log.
struct WebhookEvent {
  std::string email_id;      // the email's id as the provider echoed it back; tried first
  std::string message_id;    // the provider's message id (email_queue.message_id)
  std::string event_id;      // the provider's event id; empty: never de-duplicated
  LogEvent event_type = LogEvent::sent;
  std::string event_status;  // accepted, hard, soft, the clicked URL, the unsubscribe group, ...
  std::string error_message;
  EmailChange change = EmailChange::none;
  std::string bounce_type;   // bounced: hard | soft
  std::string suppress;      // a suppression reason (hard_bounce, complaint, unsubscribe, ...) or ""
  std::string recipient;     // suppressed address; empty: the email's recipient
  double occurred_at = 0;    // Unix seconds by the provider's clock; 0: when it is recorded
};
struct WebhookOutcome {
  std::size_t recorded = 0, duplicates = 0, unmatched = 0;
};

// Which emails to list, newest first; `after` continues a listing (a cursor from the last page).
struct EmailFilter {
  std::string status, recipient, configuration_id, tag;
  std::string after_created_micros, after_id;  // the last row of the previous page
  std::size_t limit = 50;
};

class EmailQueue {
 public:
  explicit EmailQueue(Pool& pool) : pool_(pool) {}

  // Inserts the emails and their `queued` delivery logs and NOTIFYs workers, in one
  // transaction. An idempotency key already used by a live email of the user returns that
  // email instead (duplicate = true).
  std::vector<EnqueuedEmail> insert(const std::vector<NewQueuedEmail>& emails, const std::string& actor_id);

  // Claims up to `limit` due emails for `worker` with a lease of `lease_seconds`, and logs
  // `sending` for each, in one statement. Emails of `skip_configurations` are left alone.
  std::vector<ClaimedEmail> claim(const std::string& worker, std::size_t limit, double lease_seconds,
                                  const std::vector<std::string>& skip_configurations = {});
  // The heartbeat of a live worker: every email it holds stays its own for another
  // `lease_seconds`. Returns how many it holds.
  std::size_t extend_leases(const std::string& worker, double lease_seconds);
  // Applies completions of emails `worker` still holds (late ones are skipped: a rescue
  // won), with their delivery logs, in one statement. Returns how many applied.
  std::size_t complete(const std::string& worker, const std::vector<Completion>& completions);
  // Returns emails whose lease expired to the queue (or fails them when their attempts are
  // used up). Returns how many.
  std::size_t rescue();

  std::map<std::string, long> status_counts(const std::string& user_id);
  // Whether any email is queued or sending (any user's): one index probe, whatever the history.
  bool has_unfinished();
  std::optional<QueueEmailRow> find(const std::string& id);
  // Newest first, at most filter.limit; each row's created_micros feeds the next cursor.
  std::vector<std::pair<QueueEmailRow, std::string>> list(const EmailFilter& filter);
  std::vector<DeliveryLogRow> logs(const std::string& id);
  // Records a configuration's webhook events in one transaction: a delivery log each (an
  // event id seen before for the email is a duplicate), the email's changes, suppressions.
  // An event whose email is not found is kept in unmatched_provider_events.
  WebhookOutcome record_events(const EmailConfiguration& configuration, const std::vector<WebhookEvent>& events);
  // failed -> queued now (attempts reset); returns false when the email is not failed.
  bool retry(const std::string& id, const std::string& actor_id);
  // queued -> failed ("cancelled"); returns false when the email is not queued.
  bool cancel(const std::string& id, const std::string& actor_id);

 private:
  Pool& pool_;
};

// --- email_suppressions -----------------------------------------------------------------
class Suppressions {
 public:
  explicit Suppressions(Pool& pool) : pool_(pool) {}
  void add(const std::string& user_id, const std::string& email, const std::string& reason);
  bool remove(const std::string& user_id, const std::string& email);
  std::vector<std::pair<std::string, std::string>> list(const std::string& user_id);  // email, reason
  // Which of `emails` are suppressed for the user (lower-cased comparison).
  std::vector<std::string> which(pqxx::transaction_base& tx, const std::string& user_id,
                                 const std::vector<std::string>& emails);

 private:
  Pool& pool_;
};

// --- email_templates ----------------------------------------------------------------------
struct TemplateRow {
  std::string id, user_id, name, description, subject, text_body, html_body;
  std::vector<std::string> variables;
  bool is_active = true, is_system_template = false;
};

class Templates {
 public:
  explicit Templates(Pool& pool) : pool_(pool) {}
  // Creates or replaces the user's template of that name.
  std::string save(const TemplateRow& row, const std::string& actor_id);
  // The user's template of that name, else the system one.
  std::optional<TemplateRow> find(const std::string& user_id, const std::string& name);
  std::vector<TemplateRow> list(const std::string& user_id);  // the user's and the system's
  bool remove(const std::string& user_id, const std::string& name);

 private:
  Pool& pool_;
};

// --- google_workspace_quota ----------------------------------------------------------------
struct QuotaDecision {
  bool allowed = true;
  double retry_in_seconds = 0;  // when not allowed: until room comes back
};

// The gate's limits in force (providers::quota_limits makes them from a configuration).
struct QuotaLimits {
  int daily = 2000;  // sends over a rolling 24 hours
  int hourly = 2000; // sends over a rolling hour (providers::quota_limits: at most `daily`)
};

// Counts `email_id`'s send against the configuration's quota over the last 24 hours and the
// last hour at `now` (quota_sends, migrations 014 and 015); refuses, until room comes back or a
// provider's lock-out ends, and marks is_quota_exceeded, when either window is full. One
// decision per configuration at a time, across hosts (its quota row is locked). A send that
// then fails without reaching the provider gives its count back (Completion::uncount_quota).
QuotaDecision take_quota(Pool& pool, const std::string& configuration_id, const std::string& user_id,
                         const QuotaLimits& limits, const std::string& email_id, std::chrono::system_clock::time_point now);
// The provider said the quota is used up (it counts its own way and may lock a mailbox out up
// to a day): the gate refuses every send of the configuration, on every host, until `until`.
void lock_out_quota(Pool& pool, const std::string& configuration_id, const std::string& user_id,
                    std::chrono::system_clock::time_point now, std::chrono::system_clock::time_point until);

struct QuotaRow {
  int daily_limit = 0, daily_used = 0, hourly_limit = 0, hourly_used = 0;
  std::string daily_reset_at, hourly_reset_at, exceeded_at;
  bool exceeded = false;
};
// A configuration's quota counters, once the gate has counted a send of it.
std::optional<QuotaRow> quota_of(Pool& pool, const std::string& configuration_id);

// --- dns_zones and dns_records ---------------------------------------------------------
struct DnsZoneRow {
  std::string id, user_id, name, provider, plugin, provider_zone_id;
  nlohmann::json settings = nlohmann::json::object();
  std::string secrets_encrypted;  // "v1:..." of a JSON object, or empty
  std::string created_at;

  const std::string& plugin_name() const { return plugin.empty() ? provider : plugin; }
};

struct DnsRecordRow {
  std::string id, user_id, zone_id, provider, provider_record_id;
  std::string record_type, name, value;
  int ttl = 3600;
  std::optional<int> priority;
  std::string status = "pending";  // pending | active | failed | invalid
  std::string validation_status;   // valid | mismatch | missing | error, or empty
  std::string desired = "present"; // present | absent
  std::string last_error, served_value, validated_at, updated_at;
};

// What applying one planned change did.
struct DnsOutcome {
  std::string record_id;
  enum class Kind { active, failed, deleted } kind = Kind::active;
  std::string provider_record_id;  // active
  std::string error;               // failed
};

// What validating one record found.
struct DnsValidation {
  std::string record_id;
  std::string validation_status;  // valid | mismatch | missing | error
  std::string served_value;
};

class DnsZones {
 public:
  explicit DnsZones(Pool& pool) : pool_(pool) {}
  std::string new_id();
  // Throws DbError when the user already has a zone of that name, or a value is invalid.
  void create(const DnsZoneRow& zone, const std::string& actor_id);
  std::optional<DnsZoneRow> find(const std::string& user_id, const std::string& name);
  std::vector<DnsZoneRow> list(const std::string& user_id);  // empty: every user's
  bool remove(const std::string& id, const std::string& actor_id);
  void set_provider_zone_id(const std::string& id, const std::string& provider_zone_id, const std::string& actor_id);
  // Key rotation: zones whose secrets are not sealed under `key_id`, and new ciphertexts.
  std::vector<DnsZoneRow> needing_rotation(const std::string& key_id, std::size_t limit);
  void store_ciphertexts(const std::vector<DnsZoneRow>& zones, const std::string& actor_id);

 private:
  Pool& pool_;
};

class DnsRecords {
 public:
  explicit DnsRecords(Pool& pool) : pool_(pool) {}
  // Every record of the zone, present and absent, by name.
  std::vector<DnsRecordRow> list(const std::string& zone_id);
  // Adds desired records to the zone (status pending) and changes what others hold (back to
  // pending), in one transaction; returns the new rows' ids. Throws DbError naming a record.
  std::vector<std::string> save(const std::string& zone_id, const std::vector<DnsRecordRow>& added,
                                const std::vector<DnsRecordRow>& changed, const std::string& actor_id);
  // Marks a record absent: the next apply deletes it at the provider. False if unknown.
  bool mark_absent(const std::string& zone_id, const std::string& record_id, const std::string& actor_id);
  // Writes what an apply did, in one transaction.
  void record_outcomes(const std::vector<DnsOutcome>& outcomes, const std::string& actor_id);
  // Writes what a validation found, in one transaction: validation_status, served_value,
  // validated_at; status 'invalid' on mismatch or missing, back to 'active' when valid.
  void record_validations(const std::vector<DnsValidation>& validations, const std::string& actor_id);

 private:
  Pool& pool_;
};

// --- api_tokens -------------------------------------------------------------------------
struct ApiToken {
  std::string id, user_id, name, prefix, expires_at, last_used_at, revoked_at, created_at;
  bool is_admin = false;
};

struct Authenticated {
  std::string token_id;
  std::string user_id;
  bool is_admin = false;  // may act for any user
};

// Only SHA-256 hashes of tokens are stored; a token is found by its hash, so checking one
// takes the same time whichever bytes of it are wrong.
class ApiTokens {
 public:
  explicit ApiTokens(Pool& pool) : pool_(pool) {}
  ApiToken create(const std::string& user_id, const std::string& name, const std::string& secret, bool is_admin,
                  std::optional<int> expires_in_days);
  std::vector<ApiToken> list(const std::string& user_id);  // empty: every user's
  bool revoke(const std::string& id);
  // The token's user when it is known, not revoked and not expired; records the use.
  std::optional<Authenticated> authenticate(const std::string& secret);

 private:
  Pool& pool_;
};

// Runs `work` in one transaction as the role mailroom_app with mailroom.actor_id set:
// PostgreSQL's row-level security (migration 006) then limits every statement to the
// actor's rows (all rows for an admin).
void transact_as_app(Pool& pool, const std::string& actor_id, const std::function<void(pqxx::work&)>& work);

// --- audit_logs (read side; triggers write it) ----------------------------------------
struct AuditEntry {
  std::string user_id;
  std::string action;
  std::string resource_type;
  std::string resource_id;
  std::vector<std::string> changed_fields;
  nlohmann::json details;
};

std::vector<AuditEntry> audit_for(Pool& pool, const std::string& resource_type, const std::string& resource_id);

struct AuditFilter {
  std::string resource_type, resource_id;
  std::string before_id;  // continue after this entry (entries come newest first)
  std::size_t limit = 50;
};
struct AuditRow {
  std::string id, created_at;
  AuditEntry entry;
};
// Audit entries, newest first (the reader's row-level security decides whose).
std::vector<AuditRow> audit_list(Pool& pool, const AuditFilter& filter);
// Whether an audit entry with this id exists and the caller (row-level security) may see it.
bool audit_entry_visible(Pool& pool, const std::string& id);

// --- webhook_subscriptions, webhook_events, webhook_messages, webhook_attempts ----------
// Event webhooks to applications (migration 017). Events are written by triggers in the
// transaction of the change that causes them; these repositories manage subscriptions and
// deliver the messages.
struct WebhookSubscription {
  std::string id, user_id, url;
  std::vector<std::string> event_types;
  std::string description;
  std::string secret_sealed;           // the signing secret, sealed (row id + column as associated data)
  std::string previous_secret_sealed;  // the one before a rotation; "" when none
  std::string previous_secret_expires_at;
  bool previous_secret_valid = false;  // its grace period has not ended
  std::string status = "active";       // active | paused
  std::string paused_reason;
  std::string failing_since;
  std::string created_at, updated_at;
};

struct WebhookAttemptRow {
  std::string id, message_id, event_type, attempted_at, outcome, error, response;
  int attempt = 0;
  std::optional<int> status_code;
  int latency_ms = 0;
};

class WebhookSubscriptions {
 public:
  explicit WebhookSubscriptions(Pool& pool) : pool_(pool) {}
  std::string new_id();
  void create(const WebhookSubscription& subscription, const std::string& actor_id);
  std::optional<WebhookSubscription> find(const std::string& id);  // a malformed id finds nothing
  std::vector<WebhookSubscription> list(const std::string& user_id);  // empty: every user's
  // Writes url, event_types, description and status; resuming clears the pause's reason and
  // the failure streak. False when the row is gone.
  bool update(const WebhookSubscription& subscription, const std::string& actor_id);
  // The new secret replaces the current one, which stays valid for `grace_seconds`.
  bool rotate(const std::string& id, const std::string& new_sealed, const std::string& previous_sealed,
              long grace_seconds, const std::string& actor_id);
  bool remove(const std::string& id, const std::string& actor_id);
  // Sends again the subscription's events of the types it wants since `since` (timestamptz
  // text), each under its first webhook-id. Returns how many.
  std::size_t replay(const std::string& id, const std::string& since, const std::string& actor_id);
  // The newest attempts first, at most `limit`.
  std::vector<WebhookAttemptRow> attempts(const std::string& subscription_id, std::size_t limit);
  // Rows with a secret not sealed under `key_id`, at most `limit`; and their new ciphertexts.
  std::vector<WebhookSubscription> needing_rotation(const std::string& key_id, std::size_t limit);
  void store_secrets(const std::vector<WebhookSubscription>& rows);

 private:
  Pool& pool_;
};

// A message claimed for delivery, with what signing and sending it needs.
struct ClaimedWebhook {
  std::string message_id, subscription_id, url, event_type, body;
  int attempt = 0;  // 1 for the first
  std::string secret_sealed, previous_secret_sealed;  // previous: "" unless still valid
};

// What one attempt gave.
struct WebhookResult {
  std::string message_id, subscription_id;
  int attempt = 0;
  std::optional<int> status_code;
  int latency_ms = 0;
  std::string outcome;  // delivered | retry_scheduled | failed | refused (not sent: SSRF rules)
  std::string error, response;
  double retry_in_seconds = 0;  // retry_scheduled, refused with attempts left
};

class WebhookOutbox {
 public:
  explicit WebhookOutbox(Pool& pool) : pool_(pool) {}
  // Claims up to `limit` due messages of active subscriptions for `worker`, each for
  // `lease_seconds` (after which another host may deliver it again, under the same id).
  std::vector<ClaimedWebhook> claim(const std::string& worker, std::size_t limit, double lease_seconds);
  // Records attempts, moves their messages on (guarded by the claim) and keeps each
  // subscription's failure streak, pausing one that failed every attempt for
  // `pause_after_seconds` (0: never), in one transaction. Returns the subscriptions paused.
  std::vector<std::string> complete(const std::string& worker, const std::vector<WebhookResult>& results,
                                    long pause_after_seconds);

 private:
  Pool& pool_;
};

// --- schema_migrations (for core/migrate) ---------------------------------------------
struct AppliedMigration {
  std::string version;
  std::string name;
  std::string checksum;
  std::string applied_at;
};

namespace schema_migrations {
// The advisory lock that serialises migration runs across hosts (session-level).
void lock(pqxx::connection& connection);
void unlock(pqxx::connection& connection);
void ensure_table(pqxx::connection& connection);
std::vector<AppliedMigration> applied(pqxx::connection& connection);
// Runs `sql` and records (or, with record=false, forgets) the migration, in one transaction.
void apply(pqxx::connection& connection, const std::string& sql, const AppliedMigration& migration, bool record);
// Which of these relations exist.
std::vector<std::string> existing_relations(pqxx::connection& connection, const std::vector<std::string>& names);
}  // namespace schema_migrations

}  // namespace mailroom::db
