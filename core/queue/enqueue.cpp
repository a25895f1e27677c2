#include "queue.hpp"

#include "crypto.hpp"
#include "email_config.hpp"
#include "message_extras.hpp"
#include "outgoing.hpp"
#include "providers.hpp"
#include "templates.hpp"

#include <mailroom/mime.hpp>

#include <strings.h>

#include <chrono>
#include <limits>
#include <map>
#include <regex>

namespace mailroom::queue {
namespace {

// Why `text` is not an RFC 3339 date-time that names a real instant, or "". PostgreSQL
// would take more forms (and roll 2026-02-30 over or refuse it deep in an insert): only
// this one is accepted, and checked here, so the error can name the field.
std::string send_at_problem(const std::string& text) {
  static const std::regex shape(
      R"(^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,6})?([Zz]|([+-])([0-9]{2}):([0-9]{2}))$)");
  std::smatch m;
  if (!std::regex_match(text, m, shape)) return "is not an RFC 3339 time such as 2026-12-01T09:30:00Z";
  const auto number = [&](int i) { return std::stoi(m[i].str()); };
  const std::chrono::year_month_day day{std::chrono::year(number(1)), std::chrono::month(static_cast<unsigned>(number(2))),
                                        std::chrono::day(static_cast<unsigned>(number(3)))};
  if (!day.ok()) return "is not a real date";
  if (number(4) > 23 || number(5) > 59 || number(6) > 59) return "is not a real time of day";
  if (m[9].matched && (number(10) > 14 || number(11) > 59 || (number(10) == 14 && number(11) > 0)))
    return "has a UTC offset beyond -14:00..+14:00";
  return "";
}

// What the configuration's plugin declares it cannot send is refused now, not at send time.
std::string capability_refusal(const db::NewQueuedEmail& row, const db::EmailConfiguration& config,
                               const plugin_host::PluginHost& plugins) {
  const auto* plugin = plugins.find(config.plugin_name());
  if (plugin == nullptr || plugin->manifest.kind != plugin_host::PluginKind::email)
    return "email configuration " + config.id + " needs the email plugin '" + config.plugin_name() +
           "', which is not installed here, so what it can send is unknown";
  const OutgoingEmail email = to_outgoing(row);
  std::size_t encoded = 0;
  try {
    encoded = mime::build(email.message).data.size();
  } catch (const ProviderError& e) {
    return e.info().message;
  }
  return providers::email_refusal(email, encoded, plugin->manifest);
}

std::vector<EnqueueResult> enqueue_in_transaction(db::Pool& pool, const plugin_host::PluginHost& plugins,
                                                  const std::vector<EmailRequest>& requests,
                                                  const std::string& actor_id, const EnqueueSettings& settings) {
  db::EmailConfigurations configurations(pool);
  db::Templates templates(pool);
  std::map<std::string, db::EmailConfiguration> configs;
  std::vector<db::NewQueuedEmail> rows;
  std::vector<EnqueueResult> results(requests.size());
  std::vector<std::size_t> row_of_request(requests.size(), SIZE_MAX);

  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    const std::string where = requests.size() == 1 ? "" : "email " + std::to_string(i + 1) + ": ";
    auto fail = [&](const std::string& why) { throw EnqueueError(where + why); };

    auto it = configs.find(r.configuration_id);
    if (it == configs.end()) {
      auto found = configurations.find(r.configuration_id);
      if (!found) throw UnknownConfiguration(where + "no email configuration " + r.configuration_id);
      it = configs.emplace(r.configuration_id, *found).first;
    }
    const auto& config = it->second;
    if (!config.is_active) fail("email configuration " + config.id + " is inactive");
    const auto address_problem = [&](const char* field, const std::string& a) {
      if (a.find_first_of("\r\n") != std::string::npos) fail(std::string(field) + " contains a line break");
      if (!email_config::is_email_address(a))
        fail(std::string(field) + (std::string_view(field) == "to" ? ": not an email address" : ": '" + a + "' is not an email address"));
    };
    address_problem("to", r.to);
    for (const auto& a : r.cc) address_problem("cc", a);
    for (const auto& a : r.bcc) address_problem("bcc", a);
    if (r.priority < 0 || r.priority > 1000) fail("priority must be from 0 to 1000");
    if (r.max_retries < 0 || r.max_retries > 100) fail("max_retries must be from 0 to 100");
    if (!r.send_at.empty())
      if (const auto why = send_at_problem(r.send_at); !why.empty()) fail("send_at '" + r.send_at + "' " + why);
    if (r.idempotency_key.size() > 255) fail("idempotency_key is longer than 255 characters");

    db::NewQueuedEmail row;
    row.user_id = config.user_id;
    row.configuration_id = config.id;
    row.recipient_email = r.to;
    row.recipient_name = r.to_name;
    row.cc = r.cc;
    row.bcc = r.bcc;
    row.from_address = config.from_address;
    row.from_name = config.from_name;
    row.reply_to_address = config.reply_to_address;
    row.priority = r.priority;
    row.run_at = r.send_at;
    row.max_retries = r.max_retries;
    row.idempotency_key = r.idempotency_key;
    row.extras = r.extras;
    if (const auto why = extras_problem(row.extras); !why.empty()) fail(why);
    row.extras.list_unsubscribe = r.list_unsubscribe.value_or(config.list_unsubscribe);
    if (!row.extras.unsubscribe_mailto.empty() && !row.extras.list_unsubscribe)
      fail("unsubscribe_mailto needs list_unsubscribe");
    if (row.extras.list_unsubscribe && row.extras.unsubscribe_mailto.empty())
      row.extras.unsubscribe_mailto = config.unsubscribe_mailto;
    if (row.extras.list_unsubscribe) {
      if (settings.public_url.empty())
        fail("list_unsubscribe needs the address recipients reach this server's API at: set api.public_url "
             "(MAILROOM_API_PUBLIC_URL), e.g. https://mail.example.com");
      for (const auto& [name, value] : row.extras.headers)
        if (::strncasecmp(name.c_str(), "list-unsubscribe", 16) == 0)
          fail("headers: " + name + " is written by mailroom when list_unsubscribe is set; leave it out");
    }
    if (!row.extras.unsubscribe_mailto.empty()) {
      if (!email_config::is_email_address(row.extras.unsubscribe_mailto))
        fail("unsubscribe_mailto: '" + row.extras.unsubscribe_mailto + "' is not an email address");
    }

    templates::EmailTemplate content{r.subject, r.text_body, r.html_body};
    if (!r.template_name.empty()) {
      if (!r.subject.empty() || !r.text_body.empty() || !r.html_body.empty())
        fail("give a template or subject and bodies, not both");
      auto t = templates.find(config.user_id, r.template_name);
      if (!t) fail("no template '" + r.template_name + "'");
      row.template_name = r.template_name;
      row.template_data = r.data;
      try {
        content = templates::render_email({t->subject, t->text_body, t->html_body}, r.data);
      } catch (const templates::TemplateError& e) {
        fail(std::string("template '") + r.template_name + "': " + e.what());
      }
    }
    if (content.subject.empty()) fail("subject is empty");
    // Header text: a line break would end the header (the MIME builder refuses it at send
    // time, too late to tell the caller).
    if (content.subject.find_first_of("\r\n") != std::string::npos) fail("subject contains a line break");
    if (r.to_name.find_first_of("\r\n") != std::string::npos) fail("to_name contains a line break");
    if (content.subject.size() > 998) fail("subject is longer than 998 characters");
    if (content.text_body.empty() && content.html_body.empty()) fail("the email has no body (text or html)");
    if (content.text_body.size() + content.html_body.size() > kMaxBodyBytes)
      fail("the bodies are larger than " + std::to_string(kMaxBodyBytes) + " bytes");
    row.subject = content.subject;
    row.text_body = content.text_body;
    row.html_body = content.html_body;
    if (const auto why = capability_refusal(row, config, plugins); !why.empty()) fail(why);
    row_of_request[i] = rows.size();
    rows.push_back(std::move(row));
  }

  // Suppressed recipients: a suppressed To means no email; suppressed Cc/Bcc are dropped.
  {
    db::Reader reader(pool);  // the caller's row-level security scope, when there is one
    auto& tx = reader.tx();
    db::Suppressions suppressions(pool);
    std::vector<db::NewQueuedEmail> kept;
    std::vector<std::size_t> kept_of_row;
    for (std::size_t i = 0; i < requests.size(); ++i) {
      auto& row = rows[row_of_request[i]];
      std::vector<std::string> everyone{row.recipient_email};
      everyone.insert(everyone.end(), row.cc.begin(), row.cc.end());
      everyone.insert(everyone.end(), row.bcc.begin(), row.bcc.end());
      const auto blocked = suppressions.which(tx, row.user_id, everyone);
      auto is_blocked = [&](const std::string& a) { return std::find(blocked.begin(), blocked.end(), a) != blocked.end(); };
      results[i].suppressed = blocked;
      if (is_blocked(row.recipient_email)) {
        results[i].not_queued = "recipient " + row.recipient_email + " is suppressed";
        row_of_request[i] = SIZE_MAX;
        continue;
      }
      std::erase_if(row.cc, is_blocked);
      std::erase_if(row.bcc, is_blocked);
      row_of_request[i] = kept.size();
      kept.push_back(std::move(row));
    }
    rows = std::move(kept);
  }

  const auto written = db::EmailQueue(pool).insert(rows, actor_id);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    if (row_of_request[i] == SIZE_MAX) continue;
    results[i].id = written[row_of_request[i]].id;
    results[i].duplicate = written[row_of_request[i]].duplicate;
  }
  return results;
}

}  // namespace

std::vector<EnqueueResult> enqueue(db::Pool& pool, const plugin_host::PluginHost& plugins,
                                   const std::vector<EmailRequest>& requests, const std::string& actor_id,
                                   const EnqueueSettings& settings) {
  // One transaction: the configuration, template and suppression reads and the insert join it.
  std::vector<EnqueueResult> results;
  db::transact(pool, actor_id, [&](pqxx::work&) { results = enqueue_in_transaction(pool, plugins, requests, actor_id, settings); });
  return results;
}

EmailRequest email_request_from_json(const nlohmann::json& j) {
  // The shape (which fields, which types) is the API's NewEmail schema, checked by the caller
  // (api::schema_problem); this only reads the fields.
  if (!j.is_object()) throw EnqueueError("an email must be a JSON object");
  EmailRequest r;
  std::string field;
  auto get = [&](const char* name, auto fallback) {
    field = name;
    if (!j.contains(name)) return fallback;
    if constexpr (std::is_same_v<decltype(fallback), int>) {
      // nlohmann turns any number into an int with a plain cast: one out of int's range would
      // be undefined behaviour (found by tests/fuzz: api_request, priority 3.3e38).
      const auto& value = j[name];
      if (!value.is_number() || !(value >= std::numeric_limits<int>::min() && value <= std::numeric_limits<int>::max()))
        throw EnqueueError("field '" + field + "' has the wrong type");
    }
    return j[name].get<decltype(fallback)>();
  };
  try {
    r.configuration_id = get("configuration", std::string());
    r.to = get("to", std::string());
    r.to_name = get("to_name", std::string());
    r.cc = get("cc", std::vector<std::string>{});
    r.bcc = get("bcc", std::vector<std::string>{});
    r.subject = get("subject", std::string());
    r.text_body = get("text", std::string());
    r.html_body = get("html", std::string());
    r.template_name = get("template", std::string());
    r.data = get("data", nlohmann::json::object());
    r.idempotency_key = get("idempotency_key", std::string());
    r.priority = get("priority", 100);
    r.send_at = get("send_at", std::string());
    r.max_retries = get("max_retries", 5);
    const auto headers = get("headers", nlohmann::json::object());
    for (const auto& [name, value] : headers.items()) {
      field = "headers/" + name;
      r.extras.headers.emplace_back(name, value.get<std::string>());
    }
    r.extras.tags = get("tags", std::vector<std::string>{});
    r.extras.metadata = get("metadata", std::map<std::string, std::string>{});
    if (j.contains("list_unsubscribe")) r.list_unsubscribe = get("list_unsubscribe", false);
    r.extras.unsubscribe_mailto = get("unsubscribe_mailto", std::string());
    const auto attachments = get("attachments", nlohmann::json::array());
    for (std::size_t i = 0; i < attachments.size(); ++i) {
      const auto& a = attachments[i];
      field = "attachments/" + std::to_string(i);
      db::EmailAttachment attachment;
      attachment.filename = a.value("filename", std::string());
      attachment.content_type = a.value("content_type", std::string());
      attachment.content_id = a.value("content_id", std::string());
      if (!crypto::base64_decode(a.value("content", std::string()), attachment.content))
        throw EnqueueError("attachments[" + std::to_string(i) + "].content (" + attachment.filename +
                           ") is not base64 (RFC 4648, with padding, without line breaks)");
      r.extras.attachments.push_back(std::move(attachment));
    }
  } catch (const nlohmann::json::exception&) {
    throw EnqueueError("field '" + field + "' has the wrong type");
  }
  if (!r.data.is_object()) throw EnqueueError("field 'data' must be an object");
  return r;
}

double backoff_seconds(int attempt, std::mt19937_64& rng) {
  constexpr double kCap = 6 * 3600;
  const double base = std::min(kCap, std::pow(static_cast<double>(std::max(1, attempt)), 4.0));
  std::uniform_real_distribution<double> jitter(0.9, 1.1);
  return std::min(kCap, base * jitter(rng));
}

}  // namespace mailroom::queue
