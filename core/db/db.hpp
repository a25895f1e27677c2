// mailroom's database access: a libpqxx connection pool and one repository per table.
// All SQL lives in this module. Every write transaction sets `mailroom.actor_id`, which the
// audit triggers (migration 003) record as the acting user.
#pragma once

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

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
// empty for none) and commits it; an exception rolls everything back.
void transact(Pool& pool, const std::string& actor_id, const std::function<void(pqxx::work&)>& work);

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
  std::string provider;  // google_workspace | smtp_relay | sendgrid
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
  std::string created_at;
  std::string updated_at;
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
