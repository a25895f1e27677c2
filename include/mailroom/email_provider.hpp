// The interface an email provider plugin implements. See plugin.hpp for how to export it.
#pragma once

#include <mailroom/error.hpp>
#include <mailroom/http.hpp>
#include <mailroom/record.hpp>
#include <mailroom/sdk_export.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mailroom {

struct Address {
  std::string email;  // "ada@example.com"
  std::string name;   // display name, may be empty or non-ASCII
};

struct Attachment {
  std::string filename;
  std::string content_type;  // "application/pdf"
  std::string content;       // raw bytes
  // Set: an inline part the HTML refers to as <img src="cid:CONTENT_ID">, sent in
  // multipart/related beside the body; empty: an attachment.
  std::string content_id{};
};

// What the recipients see: the header fields and bodies. Bcc is never here.
struct Message {
  Address from;
  std::vector<Address> to;
  std::vector<Address> cc;
  std::optional<Address> reply_to;
  std::string subject;
  std::string text_body;
  std::string html_body;
  std::vector<std::pair<std::string, std::string>> extra_headers;
  std::vector<Attachment> attachments;
  // "<local@domain>": the Message-ID the host gave this email, the same on every attempt
  // (a retry, a resend after a crash), so receivers can recognise a duplicate. Empty:
  // mime::build makes a random one.
  std::string message_id;
};

// Who the message is delivered to: the SMTP MAIL FROM / RCPT TO, or the API's recipient
// list. Holds every recipient, Bcc included; it may differ from the message's headers.
struct Envelope {
  std::string mail_from;
  std::vector<std::string> rcpt_to;
};

struct OutgoingEmail {
  std::string id;  // the host's id for this email (email_queue.id); stable across retries
  Envelope envelope;
  Message message;
  // The application's labels for the email, for providers that keep them with their events
  // (SendGrid categories and custom_args); never part of the message itself.
  std::vector<std::string> tags{};
  std::map<std::string, std::string> metadata{};
};

struct SendReceipt {
  std::string provider_message_id;  // the id the provider's webhooks will refer to
};

// What a provider reports about a message it accepted.
enum class DeliveryEventType {
  accepted,      // the provider took the message for delivery (SendGrid "processed")
  delivered,     // the receiving server accepted it
  deferred,      // the receiving server refused it for now; the provider retries
  bounced,       // refused: bounce_type "hard" (permanent) or "soft" (blocked, temporary)
  dropped,       // the provider will not deliver it (its own suppression list, invalid address)
  opened,
  clicked,
  complained,    // the recipient reported it as spam
  unsubscribed,  // the recipient unsubscribed (from `group` when set, else from all mail)
};
MAILROOM_SDK_EXPORT std::string_view to_string(DeliveryEventType type);

// One event from a provider's webhook. The host finds the email by `email_id` when the plugin
// could carry it through the provider (custom arguments), else by `provider_message_id`.
struct DeliveryEvent {
  DeliveryEventType type = DeliveryEventType::delivered;
  std::string email_id;  // OutgoingEmail::id as the provider echoed it back; empty if unknown
  std::string provider_message_id;
  std::string provider_event_id;  // for de-duplication; empty if the provider has none
  std::string recipient;
  // When it happened, by the provider's clock; the epoch when the provider did not say.
  std::chrono::system_clock::time_point occurred_at{};
  std::string bounce_type;  // "hard" / "soft" for bounces
  std::string reason;       // bounce, deferral or drop reason, as the provider says it
  std::string url;          // the clicked link
  std::string group;        // unsubscribed: the provider's unsubscribe group, empty = all mail
};

// What an email provider supports, declared in its manifest's "capabilities" (plugin.hpp)
// so the host knows it without running plugin code. Undeclared means unsupported.
enum class QuotaModel { none, daily_hourly };

struct EmailCapabilities {
  std::size_t max_recipients = 1;       // envelope recipients per message
  std::size_t max_message_bytes = 0;    // whole encoded message; 0 = undeclared, host default
  bool attachments = false;
  bool open_tracking = false;
  bool click_tracking = false;
  bool webhooks = false;                // parse_webhook() is implemented
  double requests_per_second = 0;       // the host paces calls to one configuration; 0 = unpaced
  std::size_t sends_in_flight = 0;      // default window of concurrent sends; 0 = the host's default
  QuotaModel quota = QuotaModel::none;  // daily_hourly: the host's quota gate applies
  // The provider's default allowance for the quota gate (a configuration may set its own):
  // messages over a rolling 24 hours, and over a rolling hour (0: no hourly limit).
  std::size_t daily_limit = 0;
  std::size_t hourly_limit = 0;
};

// What verify() could prove. A check it could not make (a permission the credentials lack to
// read a setting, say) is one sentence in `unchecked` naming the check and how to enable it;
// a check that failed is a ProviderError instead.
struct VerifyReport {
  std::vector<std::string> unchecked;
};

class MAILROOM_SDK_EXPORT EmailProvider {
 public:
  virtual ~EmailProvider();

  // Hands the email to the provider. Returns once the provider accepted it; throws
  // ProviderError when it did not (the kind tells the host whether to retry).
  virtual SendReceipt send(const OutgoingEmail& email) = 0;

  // Checks that the configured credentials work, and where the provider can tell, that they
  // may send as the configuration's sender (PluginContext::sender), without sending anything.
  // Throws ProviderError (usually kind auth) when they do not.
  virtual VerifyReport verify() = 0;

  // Verifies a webhook request's signature, then turns its body into events. Throws
  // ProviderError{auth} on a bad signature and {invalid_request} on a body it cannot read.
  // Providers without webhooks keep this default, which throws invalid_request.
  virtual std::vector<DeliveryEvent> parse_webhook(const HttpRequest& request);

  // The DNS records `domain` needs for this provider to send as it (SPF mechanism,
  // DKIM key, MX for inbound, verification TXT). Default: none.
  virtual std::vector<RecordSpec> dns_requirements(const std::string& domain);
};

}  // namespace mailroom
