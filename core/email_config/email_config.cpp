#include "email_config.hpp"

#include <mailroom/dkim.hpp>
#include <mailroom/error.hpp>

#include <boost/url/parse.hpp>

#include <regex>

namespace mailroom::email_config {
namespace {

using nlohmann::json;

const std::map<std::string, std::string> kSecretNames = {
    {"smtp_password_encrypted", "password"},
    {"google_oauth_refresh_token_encrypted", "refresh_token"},
    {"google_service_account_encrypted", "service_account"},
    {"google_oauth_token_encrypted", "access_token"},
};

void seal_into(db::EmailConfiguration& row, const std::string& column, const std::string& plaintext,
               const crypto::SecretBox& box) {
  row.ciphertexts[column] = box.seal(plaintext, crypto::associated_data("email_configurations", column, row.id));
}

std::string open_column(const db::EmailConfiguration& row, const std::string& column, const crypto::SecretBox& box) {
  return box.open(row.ciphertexts.at(column), crypto::associated_data("email_configurations", column, row.id));
}

}  // namespace

bool is_email_address(const std::string& address) {
  static const std::regex pattern(R"(^[^@\s<>,;"]+@[^@\s<>,;"]+\.[^@\s<>,;"]+$)");
  if (address.size() > 254 || !std::regex_match(address, pattern)) return false;
  for (const unsigned char c : address)
    if (c < 0x20 || c == 0x7f) return false;
  const auto at = address.find('@');
  if (at > 64) return false;  // RFC 5321 4.5.3.1.1: a local part is at most 64 octets
  for (std::size_t start = at + 1;;) {  // ... and a domain's labels at most 63
    const auto dot = address.find('.', start);
    if ((dot == std::string::npos ? address.size() : dot) - start > 63) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

namespace {

// A value that goes into a header or an SMTP command: a CR or LF would start another one.
void check_single_line(const std::string& field, const std::string& value) {
  for (const unsigned char c : value)
    if (c < 0x20 || c == 0x7f)
      throw InputError(field + " contains a control character (" + std::to_string(c) + "); it must be one line of text");
}

}  // namespace

Input parse_dsn(const std::string& dsn) {
  // The DSN may hold a secret: errors describe its parts, never quote it.
  auto parsed = boost::urls::parse_uri(dsn);
  if (!parsed) throw InputError("the DSN is not a URL of the form scheme://user:password@host:port");
  Input in;
  const std::string scheme(parsed->scheme());
  if (scheme == "smtp" || scheme == "smtps") {
    in.provider = "smtp_relay";
    in.tls = scheme == "smtps" ? "implicit" : "starttls";
    in.host = parsed->host();
    if (in.host.empty()) throw InputError("the DSN names no host (smtp://user@relay.example:587)");
    if (parsed->has_port()) {
      const auto port = parsed->port_number();
      if (port == 0) throw InputError("the DSN's port must be from 1 to 65535");
      in.port = port;
    } else {
      in.port = scheme == "smtps" ? 465 : 587;
    }
    in.username = parsed->user();
    if (parsed->has_password()) in.secret = std::string(parsed->password());
  } else if (scheme == "sendgrid+api" || scheme == "sendgrid") {
    in.provider = "sendgrid";
    if (parsed->user().empty()) throw InputError("the DSN carries no API key (sendgrid+api://KEY@default)");
    in.secret = std::string(parsed->user());
    if (parsed->host() != "default" && !parsed->host().empty())
      in.settings["base_url"] = "https://" + std::string(parsed->host());
  } else {
    throw InputError("unknown DSN scheme '" + scheme + "' (smtp, smtps, sendgrid+api)");
  }
  in.secret_from_dsn = in.secret.has_value();
  return in;
}

void apply(const Input& in, db::EmailConfiguration& row, const crypto::SecretBox& box, bool creating) {
  if (creating) row.provider = in.provider;
  else if (!in.provider.empty() && in.provider != row.provider)
    throw InputError("provider cannot change (" + row.provider + "); remove the configuration and add a new one");
  if (row.provider != "smtp_relay" && row.provider != "sendgrid" && row.provider != "google_workspace")
    throw InputError("provider must be one of google_workspace, smtp_relay, sendgrid");

  auto set = [](std::string& field, const std::string& value) {
    if (!value.empty()) field = value;
  };
  set(row.from_address, in.from_address);
  set(row.from_name, in.from_name);
  set(row.reply_to_address, in.reply_to_address);
  check_single_line("from_name", row.from_name);
  if (row.from_address.empty()) throw InputError("from: a sender address is required");
  if (!is_email_address(row.from_address)) throw InputError("from: '" + row.from_address + "' is not an email address");
  if (!row.reply_to_address.empty() && !is_email_address(row.reply_to_address))
    throw InputError("reply_to: '" + row.reply_to_address + "' is not an email address");
  for (const auto& [key, value] : in.settings.items()) row.settings[key] = value;
  set(row.plugin, in.plugin);

  if (row.provider == "smtp_relay") {
    set(row.smtp_host, in.host);
    if (in.port) row.smtp_port = in.port;
    set(row.smtp_username, in.username);
    check_single_line("host", row.smtp_host);
    check_single_line("username", row.smtp_username);
    if (row.smtp_host.empty()) throw InputError("smtp_relay needs a host (host, or a smtp:// DSN)");
    if (!row.smtp_port) row.smtp_port = in.tls == "implicit" ? 465 : 587;
    if (*row.smtp_port < 1 || *row.smtp_port > 65535) throw InputError("port must be from 1 to 65535");
    if (!in.tls.empty()) {
      if (in.tls != "starttls" && in.tls != "implicit" && in.tls != "none")
        throw InputError("tls must be starttls, implicit or none");
      row.settings["tls"] = in.tls;
    } else if (!row.settings.contains("tls")) {
      row.settings["tls"] = *row.smtp_port == 465 ? "implicit" : "starttls";
    }
    if (in.secret) seal_into(row, "smtp_password_encrypted", *in.secret, box);
    if (!row.smtp_username.empty() && !row.ciphertexts.count("smtp_password_encrypted"))
      throw InputError("smtp_relay with a username needs a password (the secret)");
    if (!in.dkim_domain.empty()) row.settings["dkim_domain"] = in.dkim_domain;
    if (!in.dkim_selector.empty()) row.settings["dkim_selector"] = in.dkim_selector;
    if (in.dkim_private_key) {
      try {
        mailroom::dkim::dns_record(*in.dkim_private_key);  // refuses what is not an RSA or Ed25519 PEM key
      } catch (const ProviderError& e) {
        throw InputError("DKIM key: " + e.info().message);
      }
      json others = row.ciphertexts.count("secrets_encrypted") ? json::parse(open_column(row, "secrets_encrypted", box))
                                                                : json::object();
      others["dkim_private_key"] = *in.dkim_private_key;
      seal_into(row, "secrets_encrypted", others.dump(), box);
    }
    bool has_key = in.dkim_private_key.has_value();
    if (!has_key && row.ciphertexts.count("secrets_encrypted"))
      has_key = json::parse(open_column(row, "secrets_encrypted", box)).contains("dkim_private_key");
    if (row.settings.contains("dkim_domain") != has_key)
      throw InputError("DKIM needs both a signing domain (dkim_domain) and a private key");
  } else if (row.provider == "sendgrid") {
    if (!in.host.empty() || in.port || !in.username.empty())
      throw InputError("sendgrid takes no host, port or username");
    if (in.secret) {
      if (in.secret->empty()) throw InputError("the SendGrid API key is empty");
      seal_into(row, "secrets_encrypted", json{{"api_key", *in.secret}}.dump(), box);
    }
    if (!row.ciphertexts.count("secrets_encrypted"))
      throw InputError("sendgrid needs an API key (the secret, or a sendgrid+api:// DSN)");
  } else {
    if (!in.host.empty() || in.port) throw InputError("google_workspace takes no host or port");
    if (in.secret) {
      if (in.google_auth == "refresh_token") {
        seal_into(row, "google_oauth_refresh_token_encrypted", *in.secret, box);
      } else if (in.google_auth == "service_account") {
        json key;
        try {
          key = json::parse(*in.secret);
        } catch (const json::exception&) {  // syntax, or a number too large (out_of_range)
          throw InputError("the service account key is not JSON (the file Google Cloud gives you)");
        }
        if (!key.is_object() || !key.contains("client_email") || !key.contains("private_key"))
          throw InputError("the service account key lacks client_email or private_key");
        seal_into(row, "google_service_account_encrypted", *in.secret, box);
      } else {
        throw InputError("google_workspace needs google_auth refresh_token or service_account with its secret");
      }
    }
    if (!row.ciphertexts.count("google_oauth_refresh_token_encrypted") &&
        !row.ciphertexts.count("google_service_account_encrypted"))
      throw InputError("google_workspace needs a refresh token or a service account key (google_auth and the secret)");
  }
}

json view(const db::EmailConfiguration& row) {
  json out{{"id", row.id},
           {"user_id", row.user_id},
           {"provider", row.provider},
           {"from_address", row.from_address},
           {"from_name", row.from_name},
           {"reply_to_address", row.reply_to_address},
           {"is_active", row.is_active},
           {"is_verified", row.is_verified},
           {"settings", row.settings},
           {"created_at", row.created_at},
           {"updated_at", row.updated_at}};
  if (row.provider == "smtp_relay") {
    out["smtp_host"] = row.smtp_host;
    out["smtp_port"] = row.smtp_port ? json(*row.smtp_port) : json(nullptr);
    out["smtp_username"] = row.smtp_username;
  }
  json secrets = json::object();
  for (const auto& [column, sealed] : row.ciphertexts) secrets[column] = "(set, key " + crypto::SecretBox::key_id_of(sealed) + ")";
  out["secrets"] = secrets;
  return out;
}

std::map<std::string, std::string> open_secrets(const db::EmailConfiguration& row, const crypto::SecretBox& box) {
  std::map<std::string, std::string> out;
  for (const auto& [column, name] : kSecretNames)
    if (row.ciphertexts.count(column)) out[name] = open_column(row, column, box);
  if (row.ciphertexts.count("secrets_encrypted")) {
    const json others = json::parse(open_column(row, "secrets_encrypted", box));  // must outlive items()
    for (const auto& [name, value] : others.items()) out[name] = value.get<std::string>();
  }
  return out;
}

}  // namespace mailroom::email_config
