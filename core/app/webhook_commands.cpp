// `mailroom webhooks ...`: event webhook subscriptions (docs/webhooks.md), the same
// operations as /v1/webhook-subscriptions.
#include "commands.hpp"
#include "db.hpp"
#include "webhooks.hpp"

#include <iostream>

namespace mailroom::app {
namespace {

struct Options {
  std::string user, url, description, id, since;
  std::vector<std::string> events;
  long grace_seconds = 86400;
  std::size_t limit = 20;
};

struct Session {
  config::Config config;
  std::unique_ptr<db::Pool> pool;
  std::unique_ptr<crypto::SecretBox> box;
  std::unique_ptr<resolver::Resolver> resolver;
  std::unique_ptr<webhooks::Subscriptions> subscriptions;

  explicit Session(const Globals& globals) : config(load_config(globals)) {
    pool = std::make_unique<db::Pool>(database_url(config), 1);
    box = std::make_unique<crypto::SecretBox>(load_key_ring(config));
    resolver::ResolverOptions options;
    options.servers = config.dns_resolver;
    resolver = resolver::make_resolver(options);
    subscriptions = std::make_unique<webhooks::Subscriptions>(
        *pool, *box, webhooks::TargetPolicy{config.webhooks_allow_http, config.webhooks_allow_private_networks}, *resolver);
  }

  db::WebhookSubscription find(const std::string& id) {
    auto row = db::WebhookSubscriptions(*pool).find(id);
    if (!row) throw std::invalid_argument("no webhook subscription '" + id + "' (see `mailroom webhooks list`)");
    return *row;
  }
};

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

void print(const db::WebhookSubscription& s) {
  std::cout << s.id << "  " << s.status << "  " << s.url << "  " << joined(s.event_types) << "\n";
  if (!s.paused_reason.empty()) std::cout << "  paused: " << s.paused_reason << "\n";
  if (!s.failing_since.empty()) std::cout << "  failing since " << s.failing_since << "\n";
}

int create(const Globals& globals, const Options& o) {
  Session s(globals);
  const auto user = db::Users(*s.pool).find_by_email(o.user);
  if (!user) throw std::invalid_argument("no user '" + o.user + "' (add it with `mailroom users add " + o.user + "`)");
  const auto created = s.subscriptions->create(user->id, {o.url, o.events, o.description}, "");
  std::cout << created.row.id << "\n";
  std::cerr << "signing secret (shown once; give it to the receiver's Standard Webhooks library):\n";
  std::cout << created.secret << "\n";
  return 0;
}

int list(const Globals& globals, const Options& o) {
  Session s(globals);
  std::string user_id;
  if (!o.user.empty()) {
    const auto user = db::Users(*s.pool).find_by_email(o.user);
    if (!user) throw std::invalid_argument("no user '" + o.user + "'");
    user_id = user->id;
  }
  for (const auto& row : db::WebhookSubscriptions(*s.pool).list(user_id)) print(row);
  return 0;
}

int set_status(const Globals& globals, const std::string& id, const std::string& status) {
  Session s(globals);
  auto row = s.find(id);
  row.status = status;
  row.paused_reason.clear();
  s.subscriptions->update(row, "");
  print(row);
  return 0;
}

int rotate(const Globals& globals, const Options& o) {
  Session s(globals);
  const auto row = s.find(o.id);
  const std::string secret = s.subscriptions->rotate(row, o.grace_seconds, "");
  std::cerr << "new signing secret (shown once); the old one keeps signing beside it for " << o.grace_seconds << " s:\n";
  std::cout << secret << "\n";
  return 0;
}

int attempts(const Globals& globals, const Options& o) {
  Session s(globals);
  const auto row = s.find(o.id);
  for (const auto& a : db::WebhookSubscriptions(*s.pool).attempts(row.id, o.limit))
    std::cout << a.attempted_at << "  " << a.event_type << "  " << a.message_id << "  attempt " << a.attempt << "  "
              << a.outcome << "  " << (a.status_code ? "HTTP " + std::to_string(*a.status_code) : std::string("no answer"))
              << "  " << a.latency_ms << " ms" << (a.error.empty() ? "" : "  " + a.error) << "\n";
  return 0;
}

int replay(const Globals& globals, const Options& o) {
  Session s(globals);
  const auto row = s.find(o.id);
  const auto n = db::WebhookSubscriptions(*s.pool).replay(row.id, o.since, "");
  std::cout << n << " event(s) will be sent again\n";
  return 0;
}

int remove(const Globals& globals, const Options& o) {
  Session s(globals);
  const auto row = s.find(o.id);
  db::WebhookSubscriptions(*s.pool).remove(row.id, "");
  std::cout << "deleted " << row.id << "\n";
  return 0;
}

}  // namespace

void add_webhook_commands(CLI::App& app, const Globals& globals, Action& action) {
  auto* cmd = app.add_subcommand(
      "webhooks", "Event webhooks to applications: signed (Standard Webhooks) POSTs of email and DNS events");
  cmd->require_subcommand(1);
  auto o = std::make_shared<Options>();
  std::string types;
  for (const auto& t : webhooks::kEventTypes) types += (types.empty() ? "" : ", ") + t;

  auto* create_cmd = cmd->add_subcommand("create", "Subscribe a URL; prints its id, then its signing secret (once)");
  create_cmd->add_option("--user", o->user, "Owner's email address")->required();
  create_cmd->add_option("--url", o->url, "Where events are POSTed (https://; see docs/webhooks.md for the rules)")->required();
  create_cmd->add_option("--event", o->events, "An event type wanted (repeatable; default: all of " + types + ")");
  create_cmd->add_option("--description", o->description, "A note for people");
  create_cmd->callback([&, o] { action = [&, o] { return create(globals, *o); }; });

  auto* list_cmd = cmd->add_subcommand("list", "List subscriptions (never their secrets)");
  list_cmd->add_option("--user", o->user, "Only this user's");
  list_cmd->callback([&, o] { action = [&, o] { return list(globals, *o); }; });

  auto* pause = cmd->add_subcommand("pause", "Stop delivering to a subscription (events meanwhile: see replay)");
  pause->add_option("ID", o->id, "Subscription id")->required();
  pause->callback([&, o] { action = [&, o] { return set_status(globals, o->id, "paused"); }; });

  auto* resume = cmd->add_subcommand("resume", "Deliver again (clears a pause mailroom made after failures)");
  resume->add_option("ID", o->id, "Subscription id")->required();
  resume->callback([&, o] { action = [&, o] { return set_status(globals, o->id, "active"); }; });

  auto* rotate_cmd = cmd->add_subcommand("rotate-secret", "Make a new signing secret; prints it once");
  rotate_cmd->add_option("ID", o->id, "Subscription id")->required();
  rotate_cmd->add_option("--grace", o->grace_seconds, "Seconds the old secret keeps signing beside the new one")
      ->check(CLI::Range(0L, 604800L))
      ->capture_default_str();
  rotate_cmd->callback([&, o] { action = [&, o] { return rotate(globals, *o); }; });

  auto* attempts_cmd = cmd->add_subcommand("attempts", "Delivery attempts, newest first");
  attempts_cmd->add_option("ID", o->id, "Subscription id")->required();
  attempts_cmd->add_option("--limit", o->limit, "How many")->check(CLI::Range(1, 500))->capture_default_str();
  attempts_cmd->callback([&, o] { action = [&, o] { return attempts(globals, *o); }; });

  auto* replay_cmd = cmd->add_subcommand("replay", "Send again the subscription's events since a time (same webhook-id)");
  replay_cmd->add_option("ID", o->id, "Subscription id")->required();
  replay_cmd->add_option("--since", o->since, "A time PostgreSQL reads, e.g. 2026-12-01T00:00:00Z")->required();
  replay_cmd->callback([&, o] { action = [&, o] { return replay(globals, *o); }; });

  auto* remove_cmd = cmd->add_subcommand("remove", "Delete a subscription and its undelivered events");
  remove_cmd->add_option("ID", o->id, "Subscription id")->required();
  remove_cmd->callback([&, o] { action = [&, o] { return remove(globals, *o); }; });
}

}  // namespace mailroom::app
