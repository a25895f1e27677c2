// `mailroom dns ...`: zones, desired records, plan, apply, validate, email-setup.
#include "commands.hpp"
#include "db.hpp"
#include "dns.hpp"
#include "email_config.hpp"
#include "plugin_host.hpp"
#include "resolver.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <unistd.h>

namespace mailroom::app {
namespace {

using nlohmann::json;

struct Options {
  std::string user, zone, provider, plugin, secret_name, secret_file, secret_env;
  std::vector<std::string> secrets;  // NAME, NAME=file:PATH, NAME=env:VAR
  std::vector<std::string> settings;
  bool secret_stdin = false;
  std::string type, name, value, record_id;
  int ttl = 3600;
  int priority = -1;
  bool json = false, force = false;
  std::string plan_checksum;
  dns::EmailSetupOptions setup;
};

// What every dns command opens: the database, the plugins, the keys, the resolver.
struct Session {
  config::Config config;
  std::unique_ptr<db::Pool> pool;
  plugin_host::PluginHost host;
  std::unique_ptr<crypto::SecretBox> box;
  std::unique_ptr<resolver::Resolver> resolver;
  std::unique_ptr<dns::Engine> engine;
  db::User user;

  Session(const Globals& globals, const std::string& user_email) : config(load_config(globals)) {
    if (user_email.empty()) throw dns::DnsError("--user is required");
    pool = std::make_unique<db::Pool>(database_url(config), 2);
    load_plugins(host, config);
    box = std::make_unique<crypto::SecretBox>(load_key_ring(config));
    resolver::ResolverOptions ro;
    ro.servers = config.dns_resolver;
    resolver = resolver::make_resolver(ro);
    engine = std::make_unique<dns::Engine>(*pool, host, box.get(), resolver.get());
    auto found = db::Users(*pool).find_by_email(user_email);
    if (!found) throw dns::DnsError("no user '" + user_email + "' (add it with `mailroom users add " + user_email + "`)");
    user = *found;
  }
};

int zones_add(const Globals& globals, const Options& o) {
  Session s(globals, o.user);
  dns::ZoneInput input;
  input.user_id = s.user.id;
  input.name = o.zone;
  input.provider = o.provider;
  input.plugin = o.plugin;
  const auto* plugin = s.host.find(o.plugin.empty() ? o.provider : o.plugin);
  for (const auto& kv : o.settings) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) throw dns::DnsError("--setting takes key=value, got '" + kv.substr(0, eq) + "'");
    // Typed as the plugin's schema declares it (change_wait_seconds=30 is the number 30).
    input.settings[kv.substr(0, eq)] = plugin ? email_config::setting_value(plugin->manifest, kv.substr(0, eq), kv.substr(eq + 1))
                                              : json(kv.substr(eq + 1));
  }
  std::optional<std::string> given;
  try {
    given = read_secret({o.secret_stdin, o.secret_file, o.secret_env});
    input.secrets = read_named_secrets(o.secrets);
  } catch (const std::invalid_argument& e) {
    throw dns::DnsError(e.what());
  }
  if (given && !input.secrets.empty())
    throw dns::DnsError("give secrets either with --secret NAME=... or with one --secret-stdin/--secret-file/--secret-env");
  if (given) {
    const std::string& secret = *given;
    std::string name = o.secret_name;
    if (name.empty()) {
      if (plugin && plugin->manifest.secrets.size() == 1) name = plugin->manifest.secrets.front();
      else throw dns::DnsError("--secret-name is needed: say which of the plugin's secrets this is");
    }
    input.secrets[name] = secret;
  }
  const auto zone = s.engine->add_zone(input, s.user.id);
  std::cout << zone.id << "\n";
  return 0;
}

int zones_list(const Globals& globals, const Options& o) {
  Session s(globals, o.user);
  json out = json::array();
  for (const auto& z : db::DnsZones(*s.pool).list(s.user.id)) {
    out.push_back(dns::to_json(z));
    if (!o.json)
      std::cout << z.id << "  " << z.name << "  " << z.provider << (z.plugin.empty() ? "" : " via " + z.plugin) << "\n";
  }
  if (o.json) std::cout << out.dump(2) << "\n";
  return 0;
}

int zones_remove(const Globals& globals, const Options& o) {
  Session s(globals, o.user);
  const auto zone = s.engine->zone(s.user.id, o.zone);
  db::DnsZones(*s.pool).remove(zone.id, s.user.id);
  std::cout << "removed zone " << zone.name << " and its desired records (nothing was deleted at the provider)\n";
  return 0;
}

int records_list(const Globals& globals, const Options& o) {
  Session s(globals, o.user);
  const auto zone = s.engine->zone(s.user.id, o.zone);
  json out = json::array();
  for (const auto& r : db::DnsRecords(*s.pool).list(zone.id)) {
    out.push_back(dns::to_json(r));
    if (!o.json)
      std::cout << r.id << "  " << r.record_type << "  " << r.name << "  "
                << (r.priority ? std::to_string(*r.priority) + " " : "") << r.value << "  [" << r.status
                << (r.desired == "absent" ? ", to delete" : "")
                << (r.validation_status.empty() ? "" : ", " + r.validation_status) << "]"
                << (r.last_error.empty() ? "" : "  " + r.last_error) << "\n";
  }
  if (o.json) std::cout << out.dump(2) << "\n";
  return 0;
}

int records_add(const Globals& globals, const Options& o) {
  Session s(globals, o.user);
  const auto zone = s.engine->zone(s.user.id, o.zone);
  const auto type = record_type_from_string(o.type);
  if (!type) throw dns::DnsError("--type must be one of A, AAAA, CNAME, MX, TXT, SPF, DKIM, DMARC");
  RecordSpec record{*type, o.name, o.value, o.ttl, std::nullopt};
  if (o.priority >= 0) record.priority = o.priority;
  std::cout << s.engine->add_record(zone, record, s.user.id) << "\n";
  return 0;
}

int records_remove(const Globals& globals, const Options& o) {
  Session s(globals, o.user);
  const auto zone = s.engine->zone(s.user.id, o.zone);
  s.engine->remove_record(zone, o.record_id, s.user.id);
  std::cout << "record " << o.record_id << " will be deleted at the provider by the next apply\n";
  return 0;
}

int plan(const Globals& globals, const Options& o) {
  Session s(globals, o.user);
  const auto p = s.engine->plan(s.engine->zone(s.user.id, o.zone));
  std::cout << (o.json ? p.to_json().dump(2) + "\n" : p.to_text());
  return 0;
}

int apply(const Globals& globals, const Options& o) {
  Session s(globals, o.user);
  dns::ApplyOptions options;
  options.force = o.force;
  options.plan_checksum = o.plan_checksum;
  const auto report = s.engine->apply(s.engine->zone(s.user.id, o.zone), options, s.user.id);
  if (o.json) {
    std::cout << dns::to_json(report).dump(2) << "\n";
  } else {
    std::cout << report.plan.to_text() << "Applied " << report.applied << ", failed " << report.failed << ".\n";
    for (const auto& e : report.errors) std::cout << "  failed: " << e << "\n";
    for (const auto& n : report.notes) std::cout << "  " << n << "\n";
  }
  return report.failed == 0 ? 0 : 1;
}

int validate(const Globals& globals, const Options& o) {
  Session s(globals, o.user);
  const auto results = s.engine->validate(s.engine->zone(s.user.id, o.zone), s.user.id);
  bool all_valid = true;
  for (const auto& r : results) {
    all_valid = all_valid && r.status == "valid";
    if (!o.json)
      std::cout << r.status << "  " << to_string(r.record.type) << "  " << r.record.name
                << (r.status == "valid" ? "" : "  served: " + (r.served.empty() ? std::string("nothing") : r.served)) << "\n";
  }
  if (o.json) std::cout << dns::to_json(results).dump(2) << "\n";
  return all_valid ? 0 : 1;
}

int email_setup(const Globals& globals, const Options& o) {
  Session s(globals, o.user);
  const auto report = s.engine->email_setup(s.engine->zone(s.user.id, o.zone), o.setup, s.user.id);
  if (o.json) {
    std::cout << dns::to_json(report).dump(2) << "\n";
    return 0;
  }
  for (const auto& note : report.notes) std::cout << "note: " << note << "\n";
  for (const auto& r : report.records)
    std::cout << "  " << to_string(r.type) << "  " << r.name << "  "
              << (r.priority ? std::to_string(*r.priority) + " " : "") << r.value << "\n";
  std::cout << "SPF costs " << report.spf_lookups << " of " << 10 << " DNS lookups.\n"
            << report.added << " added, " << report.changed << " changed, " << report.kept
            << " kept. Next: mailroom dns plan " << o.zone << " --user " << o.user << "\n";
  return 0;
}

}  // namespace

void add_dns_commands(CLI::App& app, const Globals& globals, Action& action) {
  auto o = std::make_shared<Options>();
  auto* dns_cmd = app.add_subcommand(
      "dns", "DNS records that make email deliverable: desired records -> plan -> apply -> validate");
  dns_cmd->require_subcommand(1);
  auto user_option = [&](CLI::App* cmd) {
    cmd->add_option("--user", o->user, "The user (email) who owns the zone")->required();
  };
  auto json_flag = [&](CLI::App* cmd) { cmd->add_flag("--json", o->json, "Print JSON instead of text"); };
  auto bind = [&](CLI::App* cmd, int (*fn)(const Globals&, const Options&)) {
    cmd->callback([&action, &globals, o, fn] { action = [&globals, o, fn] { return fn(globals, *o); }; });
  };

  auto* zones = dns_cmd->add_subcommand("zones", "Zones mailroom manages, with the DNS plugin and credentials that reach each");
  zones->require_subcommand(1);
  auto* zadd = zones->add_subcommand("add", "Add a zone; prints its id. The credentials are stored encrypted");
  zadd->add_option("zone", o->zone, "Zone name, e.g. example.com")->required();
  user_option(zadd);
  zadd->add_option("--provider", o->provider, "The DNS provider: a DNS plugin's name (see `mailroom plugins list`)")->required();
  zadd->add_option("--plugin", o->plugin, "Another DNS plugin that speaks for the provider (default: the provider's own)");
  zadd->add_option("--setting", o->settings, "A plugin setting, key=value (repeatable)");
  zadd->add_option("--secret", o->secrets,
                   "A secret the plugin declares: NAME reads it from stdin, NAME=file:PATH from a file, NAME=env:VAR "
                   "from a variable (repeatable, one per secret the plugin declares; stored encrypted)");
  zadd->add_option("--secret-name", o->secret_name, "Which plugin secret the given secret is (default: its only one)");
  zadd->add_flag("--secret-stdin", o->secret_stdin, "Read the secret (e.g. the API token) from stdin");
  zadd->add_option("--secret-file", o->secret_file, "Read the secret from this file");
  zadd->add_option("--secret-env", o->secret_env, "Read the secret from this environment variable");
  bind(zadd, zones_add);
  auto* zlist = zones->add_subcommand("list", "List the user's zones (never their secrets)");
  user_option(zlist);
  json_flag(zlist);
  bind(zlist, zones_list);
  auto* zremove = zones->add_subcommand("remove", "Forget a zone and its desired records; nothing changes at the provider");
  zremove->add_option("zone", o->zone, "Zone name")->required();
  user_option(zremove);
  bind(zremove, zones_remove);

  auto* records = dns_cmd->add_subcommand("records", "Desired records of a zone");
  records->require_subcommand(1);
  auto* rlist = records->add_subcommand("list", "List desired records with status, validation and last error");
  rlist->add_option("zone", o->zone, "Zone name")->required();
  user_option(rlist);
  json_flag(rlist);
  bind(rlist, records_list);
  auto* radd = records->add_subcommand("add", "Add a desired record (status pending until applied); prints its id");
  radd->add_option("zone", o->zone, "Zone name")->required();
  user_option(radd);
  radd->add_option("--type", o->type, "A | AAAA | CNAME | MX | TXT | SPF | DKIM | DMARC")->required();
  radd->add_option("--name", o->name, "Name: fully qualified, relative to the zone, or @ for the apex")->required();
  radd->add_option("--value", o->value, "Value; TXT-like values are one string (split at 255 octets by the plugin)")->required();
  radd->add_option("--ttl", o->ttl, "TTL in seconds")->capture_default_str();
  radd->add_option("--priority", o->priority, "MX priority (default 10)");
  bind(radd, records_add);
  auto* rremove = records->add_subcommand("remove", "Mark a record for deletion at the provider by the next apply");
  rremove->add_option("zone", o->zone, "Zone name")->required();
  rremove->add_option("id", o->record_id, "Record id (see records list)")->required();
  user_option(rremove);
  bind(rremove, records_remove);

  auto* plan_cmd = dns_cmd->add_subcommand("plan", "Compare desired records with what the provider holds; changes nothing");
  plan_cmd->add_option("zone", o->zone, "Zone name")->required();
  user_option(plan_cmd);
  json_flag(plan_cmd);
  bind(plan_cmd, plan);

  auto* apply_cmd = dns_cmd->add_subcommand(
      "apply", "Apply the plan through the zone's DNS plugin (deletes first); exit 1 when a change failed");
  apply_cmd->add_option("zone", o->zone, "Zone name")->required();
  user_option(apply_cmd);
  apply_cmd->add_option("--plan-checksum", o->plan_checksum, "Apply only if the plan is still the one with this checksum");
  apply_cmd->add_flag("--force", o->force, "Apply a plan past the safety limit (over 30 % of owned records changed)");
  json_flag(apply_cmd);
  bind(apply_cmd, apply);

  auto* validate_cmd = dns_cmd->add_subcommand(
      "validate", "Query DNS (dns.resolver) and compare with the desired records; exit 1 unless all are valid");
  validate_cmd->add_option("zone", o->zone, "Zone name")->required();
  user_option(validate_cmd);
  json_flag(validate_cmd);
  bind(validate_cmd, validate);

  auto* setup = dns_cmd->add_subcommand(
      "email-setup", "Build the SPF, DKIM, DMARC and MX records the domain's email configurations need");
  setup->add_option("domain", o->zone, "The sending domain (a zone added with `dns zones add`)")->required();
  user_option(setup);
  setup->add_option("--dmarc-policy", o->setup.dmarc_policy, "none | quarantine | reject")->capture_default_str();
  setup->add_option("--dmarc-report", o->setup.dmarc_report_address, "Where aggregate DMARC reports go (rua=mailto:)");
  setup->add_option("--spf-all", o->setup.spf_all, "The SPF record's last term: ~all | -all | ?all")->capture_default_str();
  setup->add_option("--dkim-selector", o->setup.dkim_selector, "Selector of keys mailroom generates")->capture_default_str();
  setup->add_option("--dkim-algorithm", o->setup.dkim_algorithm, "rsa (2048 bits) | ed25519")->capture_default_str();
  setup->add_option("--mx", o->setup.mx, "An MX record, \"PRIORITY HOST\" (repeatable; replaces the plugins' MX)");
  setup->add_option("--ttl", o->setup.ttl, "TTL of the records built")->capture_default_str();
  json_flag(setup);
  bind(setup, email_setup);
}

}  // namespace mailroom::app
