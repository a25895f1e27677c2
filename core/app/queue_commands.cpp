// `mailroom send`, `mailroom serve`, `mailroom queue ...`, `mailroom templates ...`,
// `mailroom suppressions ...`.
#include "commands.hpp"
#include "api.hpp"
#include "db.hpp"
#include "plugin_host.hpp"
#include "queue.hpp"
#include "templates.hpp"
#include "webhooks.hpp"

#include <spdlog/spdlog.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace mailroom::app {
namespace {

using nlohmann::json;

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop = true; }

std::string read_file_or_throw(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw queue::EnqueueError(std::string("cannot read ") + what + " file " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

struct SendOptions {
  std::string configuration, to, to_name, subject, text, html, text_file, html_file, template_name, data, key, at, file;
  std::vector<std::string> cc, bcc, attach, inline_files, headers, tags, meta;
  std::string unsubscribe_mailto;
  bool list_unsubscribe = false;
  int priority = 100, max_retries = 5;
};

// "KEY=VALUE" (or "Name: value" with `separator` ':') split at the first separator.
std::pair<std::string, std::string> split_pair(const std::string& text, char separator, const std::string& option) {
  const auto at = text.find(separator);
  if (at == std::string::npos || at == 0)
    throw queue::EnqueueError(option + " '" + text + "' is not " + (separator == ':' ? "'Name: value'" : "KEY=VALUE"));
  std::string value = text.substr(at + 1);
  if (separator == ':' && !value.empty() && value.front() == ' ') value.erase(0, 1);
  return {text.substr(0, at), value};
}

// A file to attach: its name without the directory, its type by extension.
db::EmailAttachment attachment_from_file(const std::string& path, const std::string& content_id) {
  db::EmailAttachment a;
  a.filename = std::filesystem::path(path).filename().string();
  a.content_type = queue::content_type_for(a.filename);
  a.content_id = content_id;
  a.content = read_file_or_throw(path, "attachment");
  return a;
}

int send(const Globals& globals, const SendOptions& o) {
  std::vector<queue::EmailRequest> requests;
  if (!o.file.empty()) {
    std::ifstream in(o.file == "-" ? "/dev/stdin" : o.file);
    if (!in) throw queue::EnqueueError("cannot read " + o.file);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) {
      ++n;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      json j;
      try {
        j = json::parse(line);
      } catch (const json::exception&) {  // syntax, or a number too large (out_of_range)
        throw queue::EnqueueError("line " + std::to_string(n) + ": not valid JSON");
      }
      if (const auto problem = api::schema_problem(j, "NewEmail"); !problem.empty())
        throw queue::EnqueueError("line " + std::to_string(n) + ": " + problem);
      try {
        requests.push_back(queue::email_request_from_json(j));
      } catch (const queue::EnqueueError& e) {
        throw queue::EnqueueError("line " + std::to_string(n) + ": " + e.what());
      }
    }
  } else {
    if (o.configuration.empty() || o.to.empty()) throw queue::EnqueueError("--configuration and --to are required (or --file)");
    queue::EmailRequest r;
    r.configuration_id = o.configuration;
    r.to = o.to;
    r.to_name = o.to_name;
    r.cc = o.cc;
    r.bcc = o.bcc;
    r.subject = o.subject;
    r.text_body = o.text_file.empty() ? o.text : read_file_or_throw(o.text_file, "text");
    r.html_body = o.html_file.empty() ? o.html : read_file_or_throw(o.html_file, "html");
    r.template_name = o.template_name;
    if (!o.data.empty()) {
      try {
        r.data = json::parse(o.data);
      } catch (const json::exception&) {  // syntax, or a number too large (out_of_range)
        throw queue::EnqueueError("--data is not valid JSON");
      }
    }
    r.idempotency_key = o.key;
    r.priority = o.priority;
    r.send_at = o.at;
    r.max_retries = o.max_retries;
    for (const auto& path : o.attach) r.extras.attachments.push_back(attachment_from_file(path, ""));
    for (const auto& spec : o.inline_files) {
      const auto [content_id, path] = split_pair(spec, '=', "--inline");
      r.extras.attachments.push_back(attachment_from_file(path, content_id));
    }
    for (const auto& h : o.headers) r.extras.headers.push_back(split_pair(h, ':', "--header"));
    r.extras.tags = o.tags;
    for (const auto& m : o.meta) r.extras.metadata.insert(split_pair(m, '=', "--meta"));
    if (o.list_unsubscribe) r.list_unsubscribe = true;
    r.extras.unsubscribe_mailto = o.unsubscribe_mailto;
    requests.push_back(std::move(r));
  }
  const auto config = load_config(globals);
  db::Pool pool(database_url(config), 2);
  plugin_host::PluginHost plugins;
  load_plugins(plugins, config);
  const auto results = queue::enqueue(pool, plugins, requests, "", {config.api_public_url});
  int not_queued = 0;
  for (const auto& r : results) {
    if (r.id.empty()) {
      std::cout << "not queued: " << r.not_queued << "\n";
      ++not_queued;
      continue;
    }
    std::cout << r.id << (r.duplicate ? "  (already queued with this idempotency key)" : "");
    if (!r.suppressed.empty()) {
      std::cout << "  (suppressed, not sent to:";
      for (const auto& a : r.suppressed) std::cout << " " << a;
      std::cout << ")";
    }
    std::cout << "\n";
  }
  return not_queued == 0 ? 0 : 1;
}

std::string hostname() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

int serve(const Globals& globals, bool until_empty, double lease, int deadline, bool with_api, bool with_workers) {
  if (!with_api && !with_workers) throw std::invalid_argument("--no-api and --no-workers leave nothing to run");
  const auto config = load_config(globals);
  const std::string url = database_url(config);
  plugin_host::PluginHost host;
  load_plugins(host, config);
  std::string names;
  for (const auto* p : host.plugins())
    if (p->loaded) names += (names.empty() ? "" : ", ") + p->manifest.name;
  const crypto::SecretBox box(load_key_ring(config));
  // Sends hold no connection: the claimer, the outcome writer and the heartbeat each use
  // one, and senders briefly for the quota gate.
  db::Pool pool(url, 6);

  queue::WorkerOptions options;
  options.worker_id = hostname() + ":" + std::to_string(::getpid());
  options.max_in_flight = static_cast<std::size_t>(config.workers_count);
  options.window = static_cast<std::size_t>(config.workers_window);
  options.batch_size = static_cast<std::size_t>(config.workers_batch_size);
  options.lease_seconds = lease;
  options.shutdown_deadline = std::chrono::seconds(deadline);
  options.until_empty = until_empty;
  options.public_url = config.api_public_url;
  spdlog::info("serving as {}: at most {} send(s) in flight, window {}, batch {}, lease {} s; plugins: {}",
               options.worker_id, options.max_in_flight,
               options.window > 0 ? std::to_string(options.window) : std::string("as each plugin declares"),
               options.batch_size, lease, names.empty() ? "none" : names);

  std::unique_ptr<api::Server> server;
  const api::ApiOptions api_defaults;
  db::Pool api_pool(url, api_defaults.threads);  // one connection per API thread
  if (with_api) {
    api::ApiOptions api_options;
    api_options.listen = config.api_listen;
    api_options.dns_resolver = config.dns_resolver;
    api_options.tls_cert_file = config.api_tls_cert_file;
    api_options.tls_key_file = config.api_tls_key_file;
    api_options.max_body_bytes = static_cast<std::size_t>(config.api_max_body_bytes);
    api_options.public_url = config.api_public_url;
    api_options.webhooks_allow_http = config.webhooks_allow_http;
    api_options.webhooks_allow_private_networks = config.webhooks_allow_private_networks;
    server = std::make_unique<api::Server>(api_pool, api_options, &box, &host);
    const auto port = server->start();
    spdlog::info("API listening on {}://{}:{}", config.api_tls_cert_file.empty() ? "http" : "https",
                 config.api_listen.substr(0, config.api_listen.rfind(':')), port);
  }

  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGINT, on_stop_signal);
  queue::WorkerStats stats;
  const bool tty = ::isatty(2) != 0;
  std::thread progress([&] {
    long last_total = -1;
    const auto every = std::chrono::seconds(tty ? 1 : 10);
    auto next = std::chrono::steady_clock::now() + every;
    while (!g_stop) {
      // Short naps, so that stopping never waits for the next report.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (std::chrono::steady_clock::now() < next) continue;
      next += every;
      const long total = stats.sent + stats.retried + stats.failed + stats.deferred;
      if (!tty && total == last_total) continue;
      last_total = total;
      const std::string line = fmt::format("sent {}, retried {}, failed {}, deferred {}, rescued {}", stats.sent.load(),
                                           stats.retried.load(), stats.failed.load(), stats.deferred.load(),
                                           stats.rescued.load());
      if (tty) std::cerr << "\r" << line << std::flush;
      else spdlog::info("{}", line);
    }
  });
  bool clean = true;
  // Event webhooks go out on their own threads and connections: a slow receiver never holds
  // up email delivery.
  webhooks::DeliveryStats webhook_stats;
  std::atomic<bool> webhooks_stop{false};
  std::thread webhook_deliverer;
  db::Pool webhook_pool(url, 2);
  webhooks::DelivererOptions webhook_options;
  if (with_workers) {
    webhook_options.worker_id = options.worker_id;
    webhook_options.policy = {config.webhooks_allow_http, config.webhooks_allow_private_networks};
    webhook_options.resolver_servers = config.dns_resolver;
    webhook_options.timeout = std::chrono::seconds(config.webhooks_timeout_seconds);
    webhook_options.concurrency = static_cast<std::size_t>(config.webhooks_concurrency);
    webhook_options.retry_schedule_seconds = config.webhooks_retry_schedule_seconds;
    webhook_options.pause_after_seconds = 3600L * config.webhooks_pause_after_hours;
    webhook_options.shutdown_deadline = std::chrono::seconds(deadline);
    webhook_deliverer = std::thread([&] {
      webhooks::run_deliverer(webhook_pool, box, webhook_options, webhooks_stop, webhook_stats);
    });
  }
  if (with_workers) {
    clean = queue::run_workers(pool, host, box, options, g_stop, stats);
  } else {
    spdlog::info("no workers on this host (--no-workers): serving the API only");
    while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  g_stop = true;
  webhooks_stop = true;
  if (webhook_deliverer.joinable()) webhook_deliverer.join();
  if (server) server->stop();
  progress.join();
  if (tty) std::cerr << "\n";
  spdlog::info("stopped: sent {}, retried {}, failed {}, deferred {}, released {}, rescued {}, late {}", stats.sent.load(),
               stats.retried.load(), stats.failed.load(), stats.deferred.load(), stats.released.load(),
               stats.rescued.load(), stats.late.load());
  if (with_workers)
    spdlog::info("webhooks: delivered {}, retried {}, failed {}, refused {}", webhook_stats.delivered.load(),
                 webhook_stats.retried.load(), webhook_stats.failed.load(), webhook_stats.refused.load());
  if (!clean) {
    spdlog::warn("sends still running after {} s; their leases will expire and another worker will retry them", deadline);
    std::cerr.flush();
    std::_Exit(1);
  }
  return 0;
}

int queue_status(const Globals& globals) {
  const auto config = load_config(globals);
  db::Pool pool(database_url(config), 1);
  const auto counts = db::EmailQueue(pool).status_counts("");
  for (const auto status : db::kEmailStatuses) {
    const std::string s(db::to_string(status));
    auto it = counts.find(s);
    std::cout << s << "  " << (it == counts.end() ? 0 : it->second) << "\n";
  }
  return 0;
}

int queue_show(const Globals& globals, const std::string& id) {
  const auto config = load_config(globals);
  db::Pool pool(database_url(config), 1);
  db::EmailQueue queue(pool);
  const auto e = queue.find(id);
  if (!e) throw queue::EnqueueError("no email " + id);
  // The API's two answers in one: GET /v1/emails/{id} with the logs of GET .../logs.
  json out = queue::to_json(*e);
  out["logs"] = json::array();
  for (const auto& l : queue.logs(id)) out["logs"].push_back(queue::to_json(l));
  std::cout << out.dump(2) << "\n";
  return 0;
}

int queue_change(const Globals& globals, const std::string& id, bool retry) {
  const auto config = load_config(globals);
  db::Pool pool(database_url(config), 1);
  db::EmailQueue queue(pool);
  const auto e = queue.find(id);
  if (!e) throw queue::EnqueueError("no email " + id);
  const bool done = retry ? queue.retry(id, e->user_id) : queue.cancel(id, e->user_id);
  if (!done) {
    std::cerr << "mailroom: email " << id << " is " << e->status << "; only " << (retry ? "failed" : "queued")
              << " emails can be " << (retry ? "retried" : "cancelled") << "\n";
    return 1;
  }
  std::cout << (retry ? "queued again: " : "cancelled: ") << id << "\n";
  return 0;
}

db::User user_or_throw(db::Pool& pool, const std::string& email) {
  auto user = db::Users(pool).find_by_email(email);
  if (!user) throw queue::EnqueueError("no user '" + email + "'");
  return *user;
}

struct TemplateOptions {
  std::string user, name, description, subject, text_file, html_file;
};

int templates_save(const Globals& globals, const TemplateOptions& o) {
  db::TemplateRow row;
  row.name = o.name;
  row.description = o.description;
  row.subject = o.subject;
  if (!o.text_file.empty()) row.text_body = read_file_or_throw(o.text_file, "text");
  if (!o.html_file.empty()) row.html_body = read_file_or_throw(o.html_file, "html");
  if (row.text_body.empty() && row.html_body.empty()) throw queue::EnqueueError("a template needs --text-file or --html-file");
  row.variables = templates::variables({row.subject, row.text_body, row.html_body});
  const auto config = load_config(globals);
  db::Pool pool(database_url(config), 1);
  row.user_id = user_or_throw(pool, o.user).id;
  std::cout << db::Templates(pool).save(row, row.user_id) << "\n";
  std::cerr << "variables: " << json(row.variables).dump() << "\n";
  return 0;
}

int templates_list(const Globals& globals, const std::string& user) {
  const auto config = load_config(globals);
  db::Pool pool(database_url(config), 1);
  const std::string user_id = user.empty() ? "" : user_or_throw(pool, user).id;
  for (const auto& t : db::Templates(pool).list(user_id))
    std::cout << t.name << "  " << (t.is_system_template ? "system" : "user") << "  " << json(t.variables).dump()
              << (t.description.empty() ? "" : "  " + t.description) << "\n";
  return 0;
}

int suppressions(const Globals& globals, const std::string& action, const std::string& user, const std::string& email,
                 const std::string& reason) {
  const auto config = load_config(globals);
  db::Pool pool(database_url(config), 1);
  const auto u = user_or_throw(pool, user);
  db::Suppressions s(pool);
  if (action == "add") {
    s.add(u.id, email, reason);
    std::cout << "suppressed " << email << " (" << reason << ")\n";
  } else if (action == "remove") {
    if (!s.remove(u.id, email)) {
      std::cerr << "mailroom: " << email << " is not suppressed\n";
      return 1;
    }
    std::cout << "no longer suppressed: " << email << "\n";
  } else {
    for (const auto& [address, why] : s.list(u.id)) std::cout << address << "  " << why << "\n";
  }
  return 0;
}

}  // namespace

void add_queue_commands(CLI::App& app, const Globals& globals, Action& action) {
  auto o = std::make_shared<SendOptions>();
  auto* send_cmd = app.add_subcommand("send", "Queue an email (or many, with --file); prints each email's id");
  send_cmd->add_option("--configuration", o->configuration, "Email configuration id (see email-config list)");
  send_cmd->add_option("--to", o->to, "Recipient address");
  send_cmd->add_option("--to-name", o->to_name, "Recipient display name");
  send_cmd->add_option("--cc", o->cc, "Cc address (repeatable)");
  send_cmd->add_option("--bcc", o->bcc, "Bcc address (repeatable; never in the headers)");
  send_cmd->add_option("--subject", o->subject, "Subject");
  send_cmd->add_option("--text", o->text, "Plain-text body");
  send_cmd->add_option("--text-file", o->text_file, "Plain-text body from FILE");
  send_cmd->add_option("--html", o->html, "HTML body");
  send_cmd->add_option("--html-file", o->html_file, "HTML body from FILE");
  send_cmd->add_option("--template", o->template_name, "Render this template instead of subject and bodies");
  send_cmd->add_option("--data", o->data, "Template data as a JSON object");
  send_cmd->add_option("--idempotency-key", o->key, "Queue at most once per key (per user, among live emails)");
  send_cmd->add_option("--priority", o->priority, "0..1000, lower first (default 100)");
  send_cmd->add_option("--at", o->at, "Send not before this time (ISO 8601)");
  send_cmd->add_option("--max-retries", o->max_retries, "Retries after transient failures (default 5)");
  send_cmd->add_option("--attach", o->attach, "Attach FILE (repeatable; its type by its extension)");
  send_cmd->add_option("--inline", o->inline_files,
                       "CID=FILE: an inline part the HTML shows as <img src=\"cid:CID\"> (repeatable)");
  send_cmd->add_option("--header", o->headers,
                       "'Name: value' header field to add (repeatable): X-*, List-*, In-Reply-To, References, ...");
  send_cmd->add_option("--tag", o->tags, "A tag, to filter emails by (repeatable)");
  send_cmd->add_option("--meta", o->meta, "KEY=VALUE metadata kept with the email and its events (repeatable)");
  send_cmd->add_flag("--list-unsubscribe", o->list_unsubscribe,
                     "Add one-click List-Unsubscribe (RFC 8058) pointing at api.public_url: a POST there suppresses the "
                     "recipient");
  send_cmd->add_option("--unsubscribe-mailto", o->unsubscribe_mailto, "A mailto: address beside the one-click URL");
  send_cmd->add_option("--file", o->file,
                       "Queue every email of a JSON-lines FILE (- for stdin) in one transaction; fields: configuration, "
                       "to, to_name, cc, bcc, subject, text, html, template, data, idempotency_key, priority, send_at, "
                       "max_retries, attachments, headers, tags, metadata, list_unsubscribe, unsubscribe_mailto (as the "
                       "API's POST /v1/emails)");
  send_cmd->callback([&, o] { action = [&, o] { return send(globals, *o); }; });

  struct ServeOptions {
    bool until_empty = false;
    double lease = 300;
    int deadline = 30;
    bool no_api = false;
    bool no_workers = false;
  };
  auto so = std::make_shared<ServeOptions>();
  auto* serve_cmd = app.add_subcommand("serve", "Run the HTTP API (api.listen) and the queue workers until SIGTERM or SIGINT");
  serve_cmd->add_flag("--until-empty", so->until_empty, "Exit once nothing is queued or sending (batch jobs, benchmarks)");
  serve_cmd->add_option("--lease", so->lease, "Seconds a claimed email stays ours before another host may rescue it")
      ->check(CLI::Range(1.0, 86400.0));
  serve_cmd->add_option("--shutdown-deadline", so->deadline, "Seconds in-flight sends get to finish on SIGTERM")
      ->check(CLI::Range(0, 3600));
  serve_cmd->add_flag("--no-api", so->no_api, "Run the workers only, without the HTTP API");
  serve_cmd->add_flag("--no-workers", so->no_workers, "Run the HTTP API only (hosts that only take requests)");
  serve_cmd->callback([&, so] {
    action = [&, so] { return serve(globals, so->until_empty, so->lease, so->deadline, !so->no_api, !so->no_workers); };
  });

  auto* queue_cmd = app.add_subcommand("queue", "Inspect and steer queued emails");
  queue_cmd->require_subcommand(1);
  queue_cmd->add_subcommand("status", "Emails per status")->callback([&] { action = [&] { return queue_status(globals); }; });
  auto id = std::make_shared<std::string>();
  auto* show = queue_cmd->add_subcommand("show", "One email with its delivery log, as JSON");
  show->add_option("ID", *id, "Email id")->required();
  show->callback([&, id] { action = [&, id] { return queue_show(globals, *id); }; });
  auto* retry = queue_cmd->add_subcommand("retry", "Queue a failed email again, with fresh attempts");
  retry->add_option("ID", *id, "Email id")->required();
  retry->callback([&, id] { action = [&, id] { return queue_change(globals, *id, true); }; });
  auto* cancel = queue_cmd->add_subcommand("cancel", "Cancel a queued email (it becomes failed: cancelled)");
  cancel->add_option("ID", *id, "Email id")->required();
  cancel->callback([&, id] { action = [&, id] { return queue_change(globals, *id, false); }; });

  auto to = std::make_shared<TemplateOptions>();
  auto* templates_cmd = app.add_subcommand("templates", "Email templates (Mustache)");
  templates_cmd->require_subcommand(1);
  auto* save = templates_cmd->add_subcommand("save", "Create or replace a user's template; fills its variables");
  save->add_option("--user", to->user, "Owner's email")->required();
  save->add_option("--name", to->name, "Template name")->required();
  save->add_option("--description", to->description, "One line");
  save->add_option("--subject", to->subject, "Subject template")->required();
  save->add_option("--text-file", to->text_file, "Plain-text body template");
  save->add_option("--html-file", to->html_file, "HTML body template (values are HTML-escaped)");
  save->callback([&, to] { action = [&, to] { return templates_save(globals, *to); }; });
  auto* remove = templates_cmd->add_subcommand("remove", "Delete a user's template (system templates stay)");
  remove->add_option("--user", to->user, "Owner's email")->required();
  remove->add_option("--name", to->name, "Template name")->required();
  remove->callback([&, to] {
    action = [&, to] {
      const auto config = load_config(globals);
      db::Pool pool(database_url(config), 1);
      if (!db::Templates(pool).remove(user_or_throw(pool, to->user).id, to->name)) {
        std::cerr << "mailroom: " << to->user << " has no template '" << to->name << "'\n";
        return 1;
      }
      std::cout << "removed " << to->name << "\n";
      return 0;
    };
  });
  auto* list = templates_cmd->add_subcommand("list", "A user's templates and the system templates");
  list->add_option("--user", to->user, "Owner's email");
  list->callback([&, to] { action = [&, to] { return templates_list(globals, to->user); }; });

  struct SuppressionOptions {
    std::string user, email, reason = "manual";
  };
  auto sup = std::make_shared<SuppressionOptions>();
  auto* sup_cmd = app.add_subcommand("suppressions", "Addresses never sent to, per user");
  sup_cmd->require_subcommand(1);
  for (const char* verb : {"add", "remove", "list"}) {
    auto* sub = sup_cmd->add_subcommand(verb, std::string(verb) + " suppressed addresses");
    sub->add_option("--user", sup->user, "Owner's email")->required();
    if (std::string(verb) != "list") sub->add_option("EMAIL", sup->email, "Address")->required();
    if (std::string(verb) == "add")
      sub->add_option("--reason", sup->reason, "hard_bounce, complaint, manual (default), unsubscribe or group_unsubscribe")
          ->check(CLI::IsMember({"hard_bounce", "complaint", "manual", "unsubscribe", "group_unsubscribe"}));
    sub->callback([&, sup, verb] {
      action = [&, sup, verb] { return suppressions(globals, verb, sup->user, sup->email, sup->reason); };
    });
  }
}

}  // namespace mailroom::app
