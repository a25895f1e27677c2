// Email configurations as users write them: a DSN or structured options, checked per
// provider, with secrets sealed into their columns (AES-256-GCM, bound to row and column)
// and a view that never shows a secret.
//
// DSNs (Symfony Mailer's shape):
//   smtp://USER[:PASSWORD]@HOST[:PORT]     STARTTLS, default port 587
//   smtps://USER[:PASSWORD]@HOST[:PORT]    implicit TLS, default port 465
//   sendgrid+api://API_KEY@default
// A secret in a DSN works, but is visible to other users of the machine while the command
// runs: give it on stdin, in a file or in a variable instead.
#pragma once

#include "crypto.hpp"
#include "db.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <stdexcept>
#include <string>

namespace mailroom::email_config {

// Bad input; the message names the field or DSN part at fault, never a secret.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Input {
  std::string provider;  // google_workspace | smtp_relay | sendgrid
  std::string host;
  std::optional<int> port;
  std::string username;
  std::string from_address;
  std::string from_name;
  std::string reply_to_address;
  std::string tls;          // smtp_relay: starttls | implicit | none
  std::string google_auth;  // google_workspace: refresh_token | service_account
  std::string plugin;       // the plugin that sends, when not the one named like the provider
  nlohmann::json settings = nlohmann::json::object();  // extra plugin settings
  std::optional<std::string> secret;  // password / API key / refresh token / service account JSON
  std::string dkim_domain;                       // smtp_relay: sign as this domain
  std::string dkim_selector;                     // ... with this selector
  std::optional<std::string> dkim_private_key;   // PEM; stored encrypted with the plugin's other secrets
  bool secret_from_dsn = false;
};

// Whether `address` is a plain addr-spec fit for an envelope and a header: local@domain.tld,
// no spaces, angle brackets, commas, semicolons or quotes, at most 254 octets.
bool is_email_address(const std::string& address);

// Parses a DSN into the provider, connection fields and (maybe) the secret.
Input parse_dsn(const std::string& dsn);

// Checks `input` for its provider and writes it into `row` (row.id must be set: ciphertexts
// are bound to it). On update, fields left empty in `input` keep their value in `row`.
void apply(const Input& input, db::EmailConfiguration& row, const crypto::SecretBox& box, bool creating);

// The row for display: secret columns are shown as "(set)" or absent.
nlohmann::json view(const db::EmailConfiguration& row);

// The decrypted secrets of a row, by the name a provider plugin declares them under
// (smtp_relay: password; sendgrid: api_key; google_workspace: refresh_token,
// service_account, access_token).
std::map<std::string, std::string> open_secrets(const db::EmailConfiguration& row, const crypto::SecretBox& box);

}  // namespace mailroom::email_config
