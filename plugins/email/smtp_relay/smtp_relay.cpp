// smtp_relay: sends through an SMTP relay with libcurl.
//
// TLS: STARTTLS required (tls "starttls", the default: refused, with nothing sent in clear,
// when the server does not offer it), implicit TLS ("implicit", port 465), or none ("none",
// only for relays on a trusted network). Certificates are verified; ca_file adds a CA.
// Auth: the secret "password" (AUTH PLAIN/LOGIN, whichever the server offers first) or
// "oauth_token" (XOAUTH2), with the configured username. One connection per provider
// object, kept open between messages (libcurl reuses it); the host keeps one provider per
// worker thread, so a configuration never has more connections than workers.
// DKIM: with dkim_domain, dkim_selector and the secret "dkim_private_key", every message is
// signed (rsa-sha256 or ed25519-sha256, relaxed/relaxed).
#include <mailroom/dkim.hpp>
#include <mailroom/mime.hpp>
#include <mailroom/plugin.hpp>

#include <arpa/inet.h>
#include <curl/curl.h>

#include <cstring>
#include <optional>
#include <algorithm>
#include <string_view>

namespace {

using mailroom::ErrorKind;
using mailroom::ProviderError;

struct Upload {
  const std::string* data;
  std::size_t offset = 0;
};

size_t read_upload(char* buffer, size_t size, size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const std::size_t n = std::min(size * count, upload->data->size() - upload->offset);
  std::memcpy(buffer, upload->data->data() + upload->offset, n);
  upload->offset += n;
  return n;
}

// Remembers the server's reply lines, for the queue id and for error messages.
int on_debug(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  if (type == CURLINFO_HEADER_IN) {
    std::string line(data, size);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    static_cast<std::vector<std::string>*>(user)->push_back(line);
  }
  return 0;
}

size_t discard(char*, size_t size, size_t count, void*) { return size * count; }

std::string bracketed(const std::string& address) { return "<" + address + ">"; }

class SmtpRelay final : public mailroom::EmailProvider {
 public:
  explicit SmtpRelay(mailroom::PluginContext& context) {
    const auto& c = context.config;
    tls_ = c.value("tls", std::string("starttls"));
    const std::string host = c.at("host").get<std::string>();
    host_ = host;
    const int port = c.value("port", tls_ == "implicit" ? 465 : 587);
    url_ = std::string(tls_ == "implicit" ? "smtps://" : "smtp://") + host + ":" + std::to_string(port);
    username_ = c.value("username", "");
    ca_file_ = c.value("ca_file", "");
    timeout_ = c.value("timeout_seconds", 60);
    if (auto it = context.secrets.find("password"); it != context.secrets.end()) password_ = it->second;
    if (auto it = context.secrets.find("oauth_token"); it != context.secrets.end()) oauth_token_ = it->second;
    if (!username_.empty() && password_.empty() && oauth_token_.empty())
      throw ProviderError(ErrorKind::invalid_request, "credentials",
                          "username is set but neither the secret password nor oauth_token is");
    const auto key = context.secrets.find("dkim_private_key");
    if (c.contains("dkim_domain") != (key != context.secrets.end()))
      throw ProviderError(ErrorKind::invalid_request, "dkim",
                          "DKIM needs both the setting dkim_domain and the secret dkim_private_key");
    if (key != context.secrets.end()) {
      mailroom::dkim::dns_record(key->second);  // refuses what is not an RSA or Ed25519 PEM key, naming why
      dkim_ = mailroom::dkim::SigningKey{c.at("dkim_domain").get<std::string>(), c.value("dkim_selector", "mail"), key->second};
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    handle_ = curl_easy_init();
    if (handle_ == nullptr) throw ProviderError(ErrorKind::transient, "curl_init", "libcurl could not create a handle");
  }
  ~SmtpRelay() override { curl_easy_cleanup(handle_); }
  SmtpRelay(const SmtpRelay&) = delete;
  SmtpRelay& operator=(const SmtpRelay&) = delete;

  mailroom::SendReceipt send(const mailroom::OutgoingEmail& email) override {
    if (email.envelope.rcpt_to.empty())
      throw ProviderError(ErrorKind::invalid_request, "no_recipients", "the envelope has no recipients");
    const auto built = mailroom::mime::build(email.message);
    std::string data = built.data;
    if (dkim_) data = mailroom::dkim::sign(data, *dkim_) + data;

    curl_slist* recipients = nullptr;
    for (const auto& r : email.envelope.rcpt_to) recipients = curl_slist_append(recipients, bracketed(r).c_str());
    Upload upload{&data};
    prepare();
    const std::string from = bracketed(email.envelope.mail_from);
    curl_easy_setopt(handle_, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(handle_, CURLOPT_MAIL_RCPT, recipients);
    curl_easy_setopt(handle_, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(handle_, CURLOPT_READFUNCTION, read_upload);
    curl_easy_setopt(handle_, CURLOPT_READDATA, &upload);
    curl_easy_setopt(handle_, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(data.size()));
    const CURLcode code = curl_easy_perform(handle_);
    curl_slist_free_all(recipients);
    if (code != CURLE_OK) throw error_for(code);

    // "250 2.0.0 Ok: queued as ABC123" (Postfix and others): the id the relay's logs use.
    static constexpr std::string_view kQueuedAs = "queued as ";
    for (auto it = replies_.rbegin(); it != replies_.rend(); ++it) {
      const auto at = it->find(kQueuedAs);
      if (at == std::string::npos) continue;
      std::string id = it->substr(at + kQueuedAs.size());
      id.erase(std::find_if(id.begin(), id.end(), [](char c) { return c == ' ' || c == '\t'; }), id.end());
      if (!id.empty()) return {id};
    }
    return {built.message_id};
  }

  void verify() override {
    prepare();
    // EHLO, STARTTLS, AUTH, then NOOP: credentials checked, nothing sent.
    curl_easy_setopt(handle_, CURLOPT_CUSTOMREQUEST, "NOOP");
    curl_easy_setopt(handle_, CURLOPT_NOBODY, 1L);
    const CURLcode code = curl_easy_perform(handle_);
    if (code != CURLE_OK) throw error_for(code);
  }

  // The relay's addresses send for the domain (SPF), and the DKIM key mailroom signs with.
  std::vector<mailroom::RecordSpec> dns_requirements(const std::string& domain) override {
    std::vector<mailroom::RecordSpec> out;
    unsigned char address[16];
    const std::string mechanism = inet_pton(AF_INET, host_.c_str(), address) == 1    ? "ip4:" + host_
                                  : inet_pton(AF_INET6, host_.c_str(), address) == 1 ? "ip6:" + host_
                                                                                      : "a:" + host_;
    out.push_back({mailroom::RecordType::SPF, domain, mechanism, 3600, std::nullopt});
    if (dkim_ && dkim_->domain == domain)
      out.push_back({mailroom::RecordType::DKIM, dkim_->selector + "._domainkey." + domain,
                     mailroom::dkim::dns_record(dkim_->private_key_pem), 3600, std::nullopt});
    return out;
  }

 private:
  void prepare() {
    replies_.clear();
    curl_easy_reset(handle_);  // keeps the open connection
    curl_easy_setopt(handle_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(handle_, CURLOPT_USE_SSL, tls_ == "none" ? static_cast<long>(CURLUSESSL_NONE) : static_cast<long>(CURLUSESSL_ALL));
    curl_easy_setopt(handle_, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(handle_, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!ca_file_.empty()) curl_easy_setopt(handle_, CURLOPT_CAINFO, ca_file_.c_str());
    if (!username_.empty()) curl_easy_setopt(handle_, CURLOPT_USERNAME, username_.c_str());
    if (!oauth_token_.empty()) {
      curl_easy_setopt(handle_, CURLOPT_XOAUTH2_BEARER, oauth_token_.c_str());
      curl_easy_setopt(handle_, CURLOPT_LOGIN_OPTIONS, "AUTH=XOAUTH2");
    } else if (!password_.empty()) {
      curl_easy_setopt(handle_, CURLOPT_PASSWORD, password_.c_str());
    }
    curl_easy_setopt(handle_, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(handle_, CURLOPT_TIMEOUT, static_cast<long>(timeout_));
    curl_easy_setopt(handle_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle_, CURLOPT_VERBOSE, 1L);  // feeds on_debug; nothing is printed
    curl_easy_setopt(handle_, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(handle_, CURLOPT_DEBUGDATA, &replies_);
    curl_easy_setopt(handle_, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(handle_, CURLOPT_ERRORBUFFER, error_text_);
    error_text_[0] = '\0';
  }

  // SMTP reply codes and transport failures -> the host's error kinds, with the server's text.
  ProviderError error_for(CURLcode code) {
    long reply = 0;
    curl_easy_getinfo(handle_, CURLINFO_RESPONSE_CODE, &reply);
    // The server's own words: the last reply carrying the failing code.
    std::string server;
    const std::string prefix = std::to_string(reply);
    for (auto it = replies_.rbegin(); it != replies_.rend() && server.empty(); ++it)
      if (reply != 0 && it->rfind(prefix, 0) == 0) server = *it;
    const std::string detail = error_text_[0] != '\0' ? error_text_ : curl_easy_strerror(code);
    if (code == CURLE_USE_SSL_FAILED)
      return ProviderError(ErrorKind::permanent, "starttls_unavailable",
                           "the relay does not offer STARTTLS, which this configuration requires; nothing was sent");
    if (code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE)
      return ProviderError(ErrorKind::permanent, "tls_verification", "the relay's certificate was not accepted: " + detail);
    if (code == CURLE_LOGIN_DENIED || reply == 535 || reply == 534 || reply == 530)
      return ProviderError(ErrorKind::auth, std::to_string(reply == 0 ? 535 : reply),
                           server.empty() ? "authentication failed" : server);
    if (reply == 421) return ProviderError(ErrorKind::rate_limited, "421", server);
    if (reply >= 400 && reply < 500) return ProviderError(ErrorKind::transient, std::to_string(reply), server);
    if (reply >= 500 && reply < 600) return ProviderError(ErrorKind::permanent, std::to_string(reply), server);
    return ProviderError(ErrorKind::transient, "curl_" + std::to_string(static_cast<int>(code)), detail);
  }

  std::string host_, url_, tls_, username_, password_, oauth_token_, ca_file_;
  int timeout_ = 60;
  std::optional<mailroom::dkim::SigningKey> dkim_;
  CURL* handle_ = nullptr;
  std::vector<std::string> replies_;
  char error_text_[CURL_ERROR_SIZE] = {};
};

}  // namespace

MAILROOM_EMAIL_PLUGIN(SmtpRelay, R"json({
  "name": "smtp_relay",
  "version": "0.1.0",
  "description": "SMTP relay through libcurl: STARTTLS or implicit TLS, AUTH PLAIN/LOGIN/XOAUTH2, DKIM",
  "config_schema": {
    "type": "object",
    "required": ["host"],
    "additionalProperties": false,
    "properties": {
      "host": { "type": "string", "minLength": 1 },
      "port": { "type": "integer", "minimum": 1, "maximum": 65535 },
      "username": { "type": "string" },
      "tls": { "enum": ["starttls", "implicit", "none"] },
      "ca_file": { "type": "string" },
      "timeout_seconds": { "type": "integer", "minimum": 1, "maximum": 3600 },
      "dkim_domain": { "type": "string", "minLength": 1 },
      "dkim_selector": { "type": "string", "pattern": "^[A-Za-z0-9._-]+$" }
    },
    "dependencies": { "dkim_selector": ["dkim_domain"] }
  },
  "secrets": ["password", "oauth_token", "dkim_private_key"],
  "dsn": {
    "smtp": { "user": "username", "password": "password", "host": "host", "port": "port",
              "defaults": { "tls": "starttls", "port": 587 } },
    "smtps": { "user": "username", "password": "password", "host": "host", "port": "port",
               "defaults": { "tls": "implicit", "port": 465 } }
  },
  "columns": { "smtp_host": "host", "smtp_port": "port", "smtp_username": "username",
               "smtp_password_encrypted": "password" },
  "capabilities": { "max_recipients": 100, "max_message_bytes": 26214400, "attachments": true }
})json")
