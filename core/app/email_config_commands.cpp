// `mailroom users ...` and `mailroom email-config ...`.
#include "commands.hpp"
#include "db.hpp"
#include "email_config.hpp"
#include "plugin_host.hpp"
#include "providers.hpp"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace mailroom::app {
namespace {

struct Options {
  std::string user, provider, dsn, from, from_name, reply_to, plugin;
  std::vector<std::string> settings;  // key=value
  std::vector<std::string> secrets;   // NAME, NAME=file:PATH, NAME=env:VAR
  std::string id;
  bool activate = false, deactivate = false;
  std::optional<long long> window;
  std::optional<double> rate;
  std::optional<long long> daily_limit, hourly_limit;
  std::optional<bool> list_unsubscribe;
  std::optional<std::string> unsubscribe_mailto;
};

struct Session {
  config::Config config;
  std::unique_ptr<db::Pool> pool;
  plugin_host::PluginHost plugins;
  explicit Session(const Globals& globals) : config(load_config(globals)) {
    pool = std::make_unique<db::Pool>(database_url(config), 1);
  }
  // Only the commands that need plugins load them.
  void load_plugins() { app::load_plugins(plugins, config); }
};

// The options as email_config's input. The provider comes from the DSN, from --provider or
// (on update) from the row; `provider_of_row` is empty when creating.
email_config::Input input_from(const Options& o, const plugin_host::PluginHost& plugins, const std::string& provider_of_row) {
  email_config::Input in;
  if (!o.dsn.empty()) {
    in = email_config::parse_dsn(o.dsn, plugins);
    if (!o.provider.empty() && o.provider != in.provider)
      throw email_config::InputError("--provider " + o.provider + " contradicts the DSN (" + in.provider + ")");
  } else {
    in.provider = o.provider;
  }
  in.from_address = o.from;
  in.from_name = o.from_name;
  in.reply_to_address = o.reply_to;
  in.plugin = o.plugin;
  in.send_window = o.window;
  in.requests_per_second = o.rate;
  in.daily_limit = o.daily_limit;
  in.hourly_limit = o.hourly_limit;
  in.list_unsubscribe = o.list_unsubscribe;
  in.unsubscribe_mailto = o.unsubscribe_mailto;
  const std::string plugin = !o.plugin.empty() ? o.plugin : !provider_of_row.empty() ? provider_of_row : in.provider;
  const auto& manifest = email_config::manifest_for(plugin, plugins);
  for (const auto& kv : o.settings) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) throw email_config::InputError("--setting takes key=value, got '" + kv.substr(0, eq) + "'");
    const std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
    in.settings[key] = value.empty() ? nlohmann::json() : email_config::setting_value(manifest, key, value);
  }
  std::map<std::string, std::string> secrets;
  try {
    secrets = read_named_secrets(o.secrets);
  } catch (const std::invalid_argument& e) {
    throw email_config::InputError(e.what());
  }
  for (auto& [name, value] : secrets) {
    if (in.secrets.contains(name)) throw email_config::InputError("the DSN already carries the secret " + name + "; give it once");
    in.secrets[name] = std::move(value);
  }
  if (in.secret_from_dsn)
    std::cerr << "mailroom: warning: a secret in the DSN is visible to other users while this runs; "
                 "prefer --secret NAME (stdin), NAME=file:PATH or NAME=env:VAR\n";
  return in;
}

// What its plugin would refuse at send time (settings its schema refuses, its factory's own
// checks) is refused now; the plugin must be installed and enabled where this runs.
std::shared_ptr<EmailProvider> check_with_plugin(const Session& s, const db::EmailConfiguration& row,
                                                 const crypto::SecretBox& box) {
  try {
    return providers::make_email_provider(row, s.plugins, box);
  } catch (const ProviderError& e) {
    throw email_config::InputError(e.info().message);
  }
}

// The records the sender's domain needs for this configuration: what to publish (or let
// `mailroom dns email-setup` publish).
void print_dns_requirements(EmailProvider& provider, const db::EmailConfiguration& row) {
  const std::string domain = row.from_address.substr(row.from_address.find('@') + 1);
  std::vector<RecordSpec> needs;
  try {
    needs = provider.dns_requirements(domain);
  } catch (const ProviderError&) {
    return;  // advice only; sending does not depend on it
  }
  if (needs.empty()) return;
  std::cerr << domain << " needs these DNS records for this configuration (`mailroom dns email-setup` writes them):\n";
  for (const auto& r : needs) std::cerr << "  " << to_string(r.type) << " " << r.name << "  " << r.value << "\n";
}

db::User user_by_email(db::Pool& pool, const std::string& email) {
  auto user = db::Users(pool).find_by_email(email);
  if (!user) throw email_config::InputError("no user '" + email + "' (add it with `mailroom users add " + email + "`)");
  return *user;
}

int users_add(const Globals& globals, const std::string& email, const std::string& name, bool admin) {
  Session s(globals);
  const auto user = db::Users(*s.pool).create(email, name, admin);
  std::cout << user.id << "\n";
  return 0;
}

int users_list(const Globals& globals) {
  Session s(globals);
  for (const auto& u : db::Users(*s.pool).list())
    std::cout << u.id << "  " << u.email << (u.is_admin ? "  (admin)" : "") << (u.name.empty() ? "" : "  " + u.name) << "\n";
  return 0;
}

int config_add(const Globals& globals, const Options& o) {
  if (o.user.empty()) throw email_config::InputError("--user is required");
  Session s(globals);
  s.load_plugins();
  const auto input = input_from(o, s.plugins, "");
  const crypto::SecretBox box(load_key_ring(s.config));
  const auto user = user_by_email(*s.pool, o.user);
  db::EmailConfigurations repo(*s.pool);
  db::EmailConfiguration row;
  row.id = repo.new_id();
  row.user_id = user.id;
  row.is_active = !o.deactivate;
  email_config::apply(input, row, s.plugins, box, true);
  const auto provider = check_with_plugin(s, row, box);
  repo.create(row, user.id);
  std::cout << row.id << std::endl;
  print_dns_requirements(*provider, row);
  return 0;
}

db::EmailConfiguration existing(db::EmailConfigurations& repo, const std::string& id) {
  auto row = repo.find(id);
  if (!row) throw email_config::InputError("no email configuration " + id);
  return *row;
}

int config_update(const Globals& globals, const Options& o) {
  if (o.activate && o.deactivate) throw email_config::InputError("--activate and --deactivate contradict each other");
  Session s(globals);
  s.load_plugins();
  const crypto::SecretBox box(load_key_ring(s.config));
  db::EmailConfigurations repo(*s.pool);
  auto row = existing(repo, o.id);
  const auto input = input_from(o, s.plugins, row.plugin_name());
  if (o.activate) row.is_active = true;
  if (o.deactivate) row.is_active = false;
  email_config::apply(input, row, s.plugins, box, false);
  check_with_plugin(s, row, box);
  repo.update(row, row.user_id);
  std::cout << "updated " << row.id << std::endl;
  return 0;
}

int config_list(const Globals& globals, const std::string& user_email) {
  Session s(globals);
  const std::string user_id = user_email.empty() ? "" : user_by_email(*s.pool, user_email).id;
  for (const auto& row : db::EmailConfigurations(*s.pool).list(user_id))
    std::cout << row.id << "  " << row.provider << "  " << row.from_address << "  "
              << (row.is_active ? "active" : "inactive") << "  " << (row.is_verified ? "verified" : "unverified")
              << "  secrets: " << row.ciphertexts.size() << "\n";
  return 0;
}

int config_show(const Globals& globals, const std::string& id) {
  Session s(globals);
  s.load_plugins();
  const crypto::SecretBox box(load_key_ring(s.config));
  db::EmailConfigurations repo(*s.pool);
  const auto row = existing(repo, id);
  const auto* plugin = s.plugins.find(row.plugin_name());
  std::cout << email_config::view(row, plugin ? &plugin->manifest : nullptr, &box).dump(2) << "\n";
  return 0;
}

int config_verify(const Globals& globals, const std::string& id) {
  Session s(globals);
  const crypto::SecretBox box(load_key_ring(s.config));
  db::EmailConfigurations repo(*s.pool);
  auto row = existing(repo, id);
  s.load_plugins();
  try {
    row.verify_unchecked = providers::make_email_provider(row, s.plugins, box, s.pool.get())->verify().unchecked;
  } catch (const ProviderError& e) {
    if (row.is_verified || !row.verify_unchecked.empty()) {
      row.is_verified = false;
      row.verify_unchecked.clear();
      repo.update(row, row.user_id);
    }
    std::cerr << "mailroom: not verified: " << e.what() << "\n";
    return 1;
  }
  row.is_verified = true;
  repo.update(row, row.user_id);
  std::cout << "verified " << row.id << "\n";
  for (const auto& unchecked : row.verify_unchecked) std::cout << "  not checked: " << unchecked << "\n";
  return 0;
}

int config_remove(const Globals& globals, const std::string& id) {
  Session s(globals);
  db::EmailConfigurations repo(*s.pool);
  const auto row = existing(repo, id);
  repo.remove(row.id, row.user_id, row.user_id);
  std::cout << "removed " << row.id << "\n";
  return 0;
}

void add_fields(CLI::App* cmd, Options& o) {
  cmd->add_option("--dsn", o.dsn,
                  "A URL in a scheme an email plugin owns (`mailroom plugins list` shows them), e.g. "
                  "smtp://USER@HOST:587; query parameters are settings");
  cmd->add_option("--from", o.from, "Sender address (From)");
  cmd->add_option("--from-name", o.from_name, "Sender display name");
  cmd->add_option("--reply-to", o.reply_to, "Reply-To address");
  cmd->add_option("--setting", o.settings,
                  "A plugin setting KEY=VALUE, typed by the plugin's schema; KEY= removes it (repeatable)");
  cmd->add_option("--secret", o.secrets,
                  "A secret the plugin declares: NAME reads it from stdin, NAME=file:PATH from a file, "
                  "NAME=env:VAR from a variable (repeatable; stored encrypted)");
  cmd->add_option("--plugin", o.plugin, "The email plugin that sends (default: the one named like the provider)");
  cmd->add_option("--window", o.window,
                  "Sends in flight at once for this configuration on each host, 1-1000 (0: what the plugin "
                  "declares; see docs/queue.md)");
  cmd->add_option("--rate", o.rate,
                  "Requests per second to the provider, at most, per host (0: what the plugin declares)");
  cmd->add_option("--daily-limit", o.daily_limit,
                  "For plugins with a sending quota: sends over any 24 hours, 1-1000000 (0: the plugin's default, "
                  "e.g. 2000 for a Google Workspace user; 500 for a trial account)");
  cmd->add_option("--hourly-limit", o.hourly_limit,
                  "For plugins with a sending quota: sends over any hour, 1-1000000 (0: the plugin's default)");
  cmd->add_option("--list-unsubscribe", o.list_unsubscribe,
                  "true: its emails carry one-click List-Unsubscribe (RFC 8058) unless one says otherwise "
                  "(needs api.public_url)");
  cmd->add_option("--unsubscribe-mailto", o.unsubscribe_mailto, "A mailto: address beside the one-click URL ('' removes it)");
}

}  // namespace

void add_user_commands(CLI::App& app, const Globals& globals, Action& action) {
  auto* users = app.add_subcommand("users", "Users who own configurations");
  users->require_subcommand(1);
  struct UserOptions {
    std::string email, name;
    bool admin = false;
  };
  auto o = std::make_shared<UserOptions>();
  auto* add = users->add_subcommand("add", "Add a user; prints its id");
  add->add_option("EMAIL", o->email, "The user's email address")->required();
  add->add_option("--name", o->name, "Display name");
  add->add_flag("--admin", o->admin, "May act for every user");
  add->callback([&, o] { action = [&, o] { return users_add(globals, o->email, o->name, o->admin); }; });
  users->add_subcommand("list", "List users")->callback([&] { action = [&] { return users_list(globals); }; });
}

void add_token_commands(CLI::App& app, const Globals& globals, Action& action) {
  struct TokenOptions {
    std::string user, name, id;
    bool admin = false;
    int expires_in_days = 0;
  };
  auto o = std::make_shared<TokenOptions>();
  auto* tokens = app.add_subcommand("tokens", "API tokens (only their SHA-256 hashes are stored)");
  tokens->require_subcommand(1);
  auto* create = tokens->add_subcommand("create", "Make a token for a user and print it, once");
  create->add_option("--user", o->user, "The user the token acts for")->required();
  create->add_option("--name", o->name, "What the token is for")->required();
  create->add_flag("--admin", o->admin, "May act for every user (the user must be an admin)");
  create->add_option("--expires-in-days", o->expires_in_days, "Expire after this many days (default: never)")
      ->check(CLI::Range(1, 3650));
  create->callback([&, o] {
    action = [&, o] {
      Session s(globals);
      const auto user = user_by_email(*s.pool, o->user);
      if (o->admin && !user.is_admin)
        throw email_config::InputError("only an admin user can hold an admin token (users add --admin)");
      const std::string secret = "mr_" + crypto::random_token(32);
      const auto token = db::ApiTokens(*s.pool).create(
          user.id, o->name, secret, o->admin,
          o->expires_in_days > 0 ? std::optional<int>(o->expires_in_days) : std::nullopt);
      std::cout << secret << "\n";
      std::cerr << "token " << token.id << " (" << token.prefix << "...) for " << o->user
                << ": store it now, it cannot be shown again\n";
      return 0;
    };
  });
  auto* list = tokens->add_subcommand("list", "Tokens with their prefix, never the token itself");
  list->add_option("--user", o->user, "Only this user's");
  list->callback([&, o] {
    action = [&, o] {
      Session s(globals);
      const std::string user_id = o->user.empty() ? "" : user_by_email(*s.pool, o->user).id;
      for (const auto& t : db::ApiTokens(*s.pool).list(user_id))
        std::cout << t.id << "  " << t.prefix << "...  " << t.name << (t.is_admin ? "  admin" : "")
                  << (t.revoked_at.empty() ? "" : "  revoked " + t.revoked_at)
                  << (t.expires_at.empty() ? "" : "  expires " + t.expires_at)
                  << (t.last_used_at.empty() ? "" : "  last used " + t.last_used_at) << "\n";
      return 0;
    };
  });
  auto* revoke = tokens->add_subcommand("revoke", "Revoke a token at once");
  revoke->add_option("ID", o->id, "Token id (tokens list)")->required();
  revoke->callback([&, o] {
    action = [&, o] {
      Session s(globals);
      if (!db::ApiTokens(*s.pool).revoke(o->id)) {
        std::cerr << "mailroom: no active token " << o->id << "\n";
        return 1;
      }
      std::cout << "revoked " << o->id << "\n";
      return 0;
    };
  });
}

void add_email_config_commands(CLI::App& app, const Globals& globals, Action& action) {
  auto* cmd = app.add_subcommand("email-config", "Email provider configurations (secrets encrypted at rest)");
  cmd->require_subcommand(1);
  auto o = std::make_shared<Options>();

  auto* add = cmd->add_subcommand("add", "Add a configuration for a user; prints its id");
  add->add_option("--user", o->user, "Owner's email address")->required();
  add->add_option("--provider", o->provider, "The email plugin's name (`mailroom plugins list`), or give --dsn");
  add->add_flag("--inactive", o->deactivate, "Create it inactive");
  add_fields(add, *o);
  add->callback([&, o] { action = [&, o] { return config_add(globals, *o); }; });

  auto* update = cmd->add_subcommand("update", "Change a configuration; options not given keep their value");
  update->add_option("ID", o->id, "Configuration id")->required();
  update->add_flag("--activate", o->activate, "Mark active");
  update->add_flag("--deactivate", o->deactivate, "Mark inactive");
  add_fields(update, *o);
  update->callback([&, o] { action = [&, o] { return config_update(globals, *o); }; });

  auto* list = cmd->add_subcommand("list", "List configurations (never their secrets)");
  list->add_option("--user", o->user, "Only this user's");
  list->callback([&, o] { action = [&, o] { return config_list(globals, o->user); }; });

  auto* show = cmd->add_subcommand("show", "Show one configuration as JSON; secrets appear only as \"(set)\"");
  show->add_option("ID", o->id, "Configuration id")->required();
  show->callback([&, o] { action = [&, o] { return config_show(globals, o->id); }; });

  auto* verify = cmd->add_subcommand("verify", "Check the credentials with the provider (nothing is sent); sets is_verified");
  verify->add_option("ID", o->id, "Configuration id")->required();
  verify->callback([&, o] { action = [&, o] { return config_verify(globals, o->id); }; });

  auto* remove = cmd->add_subcommand("remove", "Delete a configuration (audited)");
  remove->add_option("ID", o->id, "Configuration id")->required();
  remove->callback([&, o] { action = [&, o] { return config_remove(globals, o->id); }; });
}

}  // namespace mailroom::app
