// smtp_relay: sends through an SMTP relay; libcurl opens the connection, mailroom speaks
// the mail transaction.
//
// TLS: STARTTLS required (tls "starttls", the default: refused, with nothing sent in clear,
// when the server does not offer it), implicit TLS ("implicit", port 465), or none ("none",
// only for relays on a trusted network). Certificates are verified; ca_file adds a CA.
// Auth: the secret "password" (AUTH PLAIN/LOGIN, whichever the server offers first) or
// "oauth_token" (XOAUTH2), with the configured username. One connection per provider
// object, kept open between messages; the host keeps one provider object per send in flight
// (the configuration's window), so a configuration has at most that many connections.
// DKIM: with dkim_domain, dkim_selector and the secret "dkim_private_key", every message is
// signed (rsa-sha256 or ed25519-sha256, relaxed/relaxed).
//
// Why the transaction is written here: libcurl (7.88) sends MAIL FROM, each RCPT TO, DATA
// and the message each after the previous reply, four round trips or more a message, and
// has no PIPELINING (RFC 2920). At a relay 50 ms away that is 200 ms a message. So libcurl
// does what it does well and what is hard to get right (TCP, TLS and its verification,
// STARTTLS, EHLO, AUTH: CURLOPT_CONNECT_ONLY stops after them), and this file writes the
// transaction on that connection (curl_easy_send / curl_easy_recv): MAIL, RCPT and DATA in
// one write when the server offers PIPELINING, then the message: two round trips. Without
// PIPELINING each command waits for its reply, as libcurl would. CHUNKING (BDAT), which
// would make it one, is left out: neither Postfix's smtp-sink nor aiosmtpd offers it, so it
// could not be tested.
#include <mailroom/dkim.hpp>
#include <mailroom/mime.hpp>
#include <mailroom/plugin.hpp>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <poll.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <optional>
#include <string_view>

namespace {

using mailroom::ErrorKind;
using mailroom::ProviderError;
using SteadyClock = std::chrono::steady_clock;

// An idle connection older than this is not trusted: relays close idle clients (Postfix's
// smtpd after 300 s), so it is reopened rather than found dead halfway through a message.
constexpr auto kMaxIdle = std::chrono::seconds(60);

// Remembers the server's reply lines during the connection's set-up (greeting, EHLO,
// STARTTLS, AUTH), for the offered extensions and for error messages.
int on_debug(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  if (type == CURLINFO_HEADER_IN) {
    std::string line(data, size);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    static_cast<std::vector<std::string>*>(user)->push_back(line);
  }
  return 0;
}

std::string bracketed(const std::string& address) { return "<" + address + ">"; }

// The message as DATA carries it: lines starting with "." doubled (RFC 5321 4.5.2), CRLF at
// the end, then the terminating ".".
std::string dot_stuffed(const std::string& data) {
  std::string out;
  out.reserve(data.size() + data.size() / 64 + 8);
  bool line_start = true;
  for (char c : data) {
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = c == '\n';
  }
  if (!out.empty() && out.back() != '\n') out += "\r\n";
  out += ".\r\n";
  return out;
}

struct Reply {
  int code = 0;
  std::string text;  // every line of the reply, joined by " / "
};

class SmtpRelay final : public mailroom::EmailProvider {
 public:
  explicit SmtpRelay(mailroom::PluginContext& context) {
    const auto& c = context.config;
    sender_ = context.sender;
    tls_ = c.value("tls", std::string("starttls"));
    const std::string host = c.at("host").get<std::string>();
    host_ = host;
    const int port = c.value("port", tls_ == "implicit" ? 465 : 587);
    url_ = std::string(tls_ == "implicit" ? "smtps://" : "smtp://") + host + ":" + std::to_string(port);
    username_ = c.value("username", "");
    ca_file_ = c.value("ca_file", "");
    timeout_ = std::chrono::seconds(c.value("timeout_seconds", 60));
    pipelining_allowed_ = c.value("pipelining", true);
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
  }
  ~SmtpRelay() override { close(); }
  SmtpRelay(const SmtpRelay&) = delete;
  SmtpRelay& operator=(const SmtpRelay&) = delete;

  mailroom::SendReceipt send(const mailroom::OutgoingEmail& email) override {
    if (email.envelope.rcpt_to.empty())
      throw ProviderError(ErrorKind::invalid_request, "no_recipients", "the envelope has no recipients");
    const auto built = mailroom::mime::build(email.message);
    std::string data = built.data;
    if (dkim_) data = mailroom::dkim::sign(data, *dkim_) + data;
    const auto deadline = SteadyClock::now() + timeout_;

    // A reused connection the relay closed meanwhile fails before anything is accepted:
    // then, once, the same transaction on a new connection.
    for (int attempt = 1;; ++attempt) {
      const bool reused = ensure_open(deadline);
      try {
        const std::string queue_id = transact(email.envelope, data, deadline);
        last_used_ = SteadyClock::now();
        return {queue_id.empty() ? built.message_id : queue_id};
      } catch (const ConnectionLost& lost) {
        close();
        if (reused && !lost.after_envelope && attempt == 1) continue;
        throw ProviderError(ErrorKind::transient, "connection", lost.what);
      }
    }
  }

  mailroom::VerifyReport verify() override {
    close();
    ensure_open(SteadyClock::now() + timeout_);  // EHLO, STARTTLS, AUTH: credentials checked
    try {
      const auto deadline = SteadyClock::now() + timeout_;
      write_all("NOOP\r\n", deadline);
      const auto reply = read_reply(deadline);
      if (reply.code / 100 != 2) throw error_for(reply);
      mailroom::VerifyReport report;
      if (!sender_.empty()) {
        // A relay that ties senders to accounts (Microsoft 365, Gmail's relay) refuses a sender
        // at MAIL FROM; a relay that checks later cannot be asked without sending.
        write_all("MAIL FROM:" + bracketed(sender_) + "\r\n", deadline);
        const auto mail = read_reply(deadline);
        write_all("RSET\r\n", deadline);
        read_reply(deadline);
        if (mail.code / 100 != 2) {
          const auto refused = error_for(mail);
          throw ProviderError(refused.kind(), refused.info().code,
                              "the relay refuses the sender " + sender_ + " (" + mail.text +
                                  "): let these credentials send as it, or change the configuration's from address");
        }
      }
      last_used_ = SteadyClock::now();
      return report;
    } catch (const ConnectionLost& lost) {
      close();
      throw ProviderError(ErrorKind::transient, "connection", lost.what);
    }
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
  // The connection broke or timed out; after_envelope: the relay may have the message.
  struct ConnectionLost {
    std::string what;
    bool after_envelope = false;
  };

  // Opens the connection when there is none (or it idled too long). Returns true when an
  // open connection is reused.
  bool ensure_open(SteadyClock::time_point deadline) {
    if (handle_ != nullptr && SteadyClock::now() - last_used_ < kMaxIdle) return true;
    close();
    handle_ = curl_easy_init();
    if (handle_ == nullptr) throw ProviderError(ErrorKind::transient, "curl_init", "libcurl could not create a handle");
    replies_.clear();
    inbox_.clear();
    curl_easy_setopt(handle_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(handle_, CURLOPT_CONNECT_ONLY, 1L);
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
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
    curl_easy_setopt(handle_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::clamp<long long>(left, 1, 15000)));
    curl_easy_setopt(handle_, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<long long>(left, 1)));
    curl_easy_setopt(handle_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle_, CURLOPT_VERBOSE, 1L);  // feeds on_debug; nothing is printed
    curl_easy_setopt(handle_, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(handle_, CURLOPT_DEBUGDATA, &replies_);
    curl_easy_setopt(handle_, CURLOPT_ERRORBUFFER, error_text_);
    error_text_[0] = '\0';
    const CURLcode code = curl_easy_perform(handle_);
    if (code != CURLE_OK) {
      auto error = error_for(code);
      close();
      throw error;
    }
    // The extensions of the last EHLO (after STARTTLS the server is asked again).
    pipelining_ = false;
    for (const auto& line : replies_) {
      if (line.rfind("220", 0) == 0) pipelining_ = false;
      std::string upper = line;
      std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
      if (upper.size() >= 14 && upper.compare(0, 3, "250") == 0 && upper.compare(4, 10, "PIPELINING") == 0) pipelining_ = true;
    }
    pipelining_ = pipelining_ && pipelining_allowed_;
    last_used_ = SteadyClock::now();
    return false;
  }

  void close() {
    if (handle_ != nullptr) curl_easy_cleanup(handle_);
    handle_ = nullptr;
    inbox_.clear();
  }

  // MAIL, RCPT..., DATA, the message. Returns the relay's queue id, if it said one.
  std::string transact(const mailroom::Envelope& envelope, const std::string& data, SteadyClock::time_point deadline) {
    std::vector<std::string> commands{"MAIL FROM:" + bracketed(envelope.mail_from) + "\r\n"};
    for (const auto& r : envelope.rcpt_to) commands.push_back("RCPT TO:" + bracketed(r) + "\r\n");
    commands.push_back("DATA\r\n");

    std::vector<Reply> replies;
    if (pipelining_) {
      std::string group;
      for (const auto& c : commands) group += c;
      write_all(group, deadline);
      for (std::size_t i = 0; i < commands.size(); ++i) replies.push_back(read_reply(deadline));
    } else {
      for (const auto& c : commands) {
        write_all(c, deadline);
        replies.push_back(read_reply(deadline));
        if (replies.back().code / 100 != 2 && replies.back().code != 354) break;
      }
    }
    const Reply* refused = nullptr;
    for (std::size_t i = 0; i + 1 < replies.size() && refused == nullptr; ++i)
      if (replies[i].code / 100 != 2) refused = &replies[i];
    const bool data_open = replies.size() == commands.size() && replies.back().code == 354;
    if (refused == nullptr && !data_open) refused = &replies.back();
    if (refused != nullptr) {
      const auto error = error_for(*refused);
      if (data_open || refused->code == 421) {
        // DATA was accepted although a recipient was refused (pipelined): ending the message
        // would deliver it to the others, so the connection is dropped, which aborts it.
        close();
      } else {
        try {
          write_all("RSET\r\n", deadline);
          read_reply(deadline);
        } catch (const ConnectionLost&) {
          close();  // the refusal is what counts; the next send opens a new connection
        }
      }
      throw error;
    }
    try {
      write_all(dot_stuffed(data), deadline);
      const auto reply = read_reply(deadline);
      if (reply.code / 100 != 2) {
        if (reply.code == 421) close();
        throw error_for(reply);
      }
      return queue_id(reply.text);
    } catch (ConnectionLost& lost) {
      lost.after_envelope = true;
      throw;
    }
  }

  // "250 2.0.0 Ok: queued as ABC123" (Postfix and others): the id the relay's logs use.
  static std::string queue_id(const std::string& text) {
    static constexpr std::string_view kQueuedAs = "queued as ";
    const auto at = text.find(kQueuedAs);
    if (at == std::string::npos) return "";
    std::string id = text.substr(at + kQueuedAs.size());
    id.erase(std::find_if(id.begin(), id.end(), [](char c) { return c == ' ' || c == '\t' || c == '/'; }), id.end());
    return id;
  }

  // Waits until the socket is readable (or writable) or the deadline passes.
  void wait_for_socket(bool for_reading, SteadyClock::time_point deadline) {
    curl_socket_t socket = CURL_SOCKET_BAD;
    curl_easy_getinfo(handle_, CURLINFO_ACTIVESOCKET, &socket);
    if (socket == CURL_SOCKET_BAD) throw ConnectionLost{"the relay closed the connection"};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0) throw ConnectionLost{"the relay did not answer within " + std::to_string(timeout_.count()) + " s"};
    pollfd fd{socket, static_cast<short>(for_reading ? POLLIN : POLLOUT), 0};
    ::poll(&fd, 1, static_cast<int>(std::min<long long>(left, 1000)));
  }

  void write_all(const std::string& bytes, SteadyClock::time_point deadline) {
    std::size_t offset = 0;
    while (offset < bytes.size()) {
      std::size_t sent = 0;
      const CURLcode code = curl_easy_send(handle_, bytes.data() + offset, bytes.size() - offset, &sent);
      if (code == CURLE_AGAIN) {
        wait_for_socket(false, deadline);
        continue;
      }
      if (code != CURLE_OK) throw ConnectionLost{std::string("writing to the relay failed: ") + curl_easy_strerror(code)};
      offset += sent;
    }
  }

  // One reply, every line of it ("250-..." continues, "250 ..." ends).
  Reply read_reply(SteadyClock::time_point deadline) {
    Reply reply;
    while (true) {
      const auto end = inbox_.find("\r\n");
      if (end == std::string::npos) {
        char buffer[4096];
        std::size_t got = 0;
        const CURLcode code = curl_easy_recv(handle_, buffer, sizeof buffer, &got);
        if (code == CURLE_AGAIN) {
          wait_for_socket(true, deadline);
          continue;
        }
        if (code != CURLE_OK || got == 0)
          throw ConnectionLost{code == CURLE_OK ? "the relay closed the connection"
                                                : std::string("reading from the relay failed: ") + curl_easy_strerror(code)};
        inbox_.append(buffer, got);
        if (inbox_.size() > 65536) throw ConnectionLost{"the relay's reply is longer than 64 KiB"};
        continue;
      }
      const std::string line = inbox_.substr(0, end);
      inbox_.erase(0, end + 2);
      if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0])) ||
          !std::isdigit(static_cast<unsigned char>(line[1])) || !std::isdigit(static_cast<unsigned char>(line[2])))
        throw ConnectionLost{"the relay answered something that is not SMTP: " + line.substr(0, 80)};
      reply.code = std::stoi(line.substr(0, 3));
      reply.text += (reply.text.empty() ? "" : " / ") + line;
      if (line.size() == 3 || line[3] != '-') return reply;
    }
  }

  // SMTP reply codes -> the host's error kinds, with the server's text.
  static ProviderError error_for(const Reply& reply) {
    const std::string code = std::to_string(reply.code);
    if (reply.code == 535 || reply.code == 534 || reply.code == 530) return ProviderError(ErrorKind::auth, code, reply.text);
    if (reply.code == 421) return ProviderError(ErrorKind::rate_limited, code, reply.text);
    if (reply.code >= 400 && reply.code < 500) return ProviderError(ErrorKind::transient, code, reply.text);
    if (reply.code >= 500 && reply.code < 600) return ProviderError(ErrorKind::permanent, code, reply.text);
    return ProviderError(ErrorKind::transient, code, "unexpected reply: " + reply.text);
  }

  // A failed connection set-up (libcurl) -> the host's error kinds; a reply code the relay
  // gave maps as in the transaction.
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
    if (reply >= 400 && reply < 600) return error_for(Reply{static_cast<int>(reply), server});
    return ProviderError(ErrorKind::transient, "curl_" + std::to_string(static_cast<int>(code)), detail);
  }

  std::string host_, url_, tls_, username_, password_, oauth_token_, ca_file_, sender_;
  std::chrono::seconds timeout_{60};
  bool pipelining_allowed_ = true;
  std::optional<mailroom::dkim::SigningKey> dkim_;
  CURL* handle_ = nullptr;
  bool pipelining_ = false;  // the open connection's server offers PIPELINING
  SteadyClock::time_point last_used_{};
  std::vector<std::string> replies_;  // set-up replies of the open connection
  std::string inbox_;                 // read from the relay, not yet parsed
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
      "pipelining": { "type": "boolean", "description": "group MAIL, RCPT and DATA in one write when the relay offers PIPELINING (default true)" },
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
  "capabilities": { "max_recipients": 100, "max_message_bytes": 26214400, "attachments": true,
                    "sends_in_flight": 20 }
})json")
