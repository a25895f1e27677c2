// email-setup: the records a domain needs for the email configurations that send as it.
// Each configuration's plugin states its requirements (EmailProvider::dns_requirements);
// SPF mechanisms are merged into one record whose DNS-lookup cost is counted through the
// resolver before anything is stored; a DMARC record is added; where mailroom signs itself
// (the plugin declares the secret dkim_private_key) and no key exists, one is generated and
// stored encrypted in the configuration first, so a published key always has its private half.
#include "dns.hpp"
#include "email_config.hpp"
#include "providers.hpp"
#include "spf.hpp"

#include <algorithm>
#include <set>

namespace mailroom::dns {
namespace {

std::string domain_of(const std::string& address) {
  const auto at = address.rfind('@');
  std::string d = at == std::string::npos ? "" : address.substr(at + 1);
  std::transform(d.begin(), d.end(), d.begin(), [](unsigned char c) { return std::tolower(c); });
  return d;
}

// Which desired row a built record replaces: one SPF, DMARC, DKIM or CNAME per name; MX,
// TXT, A and AAAA rows are told apart by value.
bool same_slot(const db::DnsRecordRow& row, const RecordSpec& r) {
  if (row.record_type != to_string(r.type) || row.name != r.name || row.desired != "present") return false;
  switch (r.type) {
    case RecordType::SPF:
    case RecordType::DMARC:
    case RecordType::DKIM:
    case RecordType::CNAME: return true;
    default: return row.value == r.value;
  }
}

}  // namespace

EmailSetupReport Engine::email_setup(const db::DnsZoneRow& zone, const EmailSetupOptions& options,
                                     const std::string& actor_id) {
  if (!box_) throw DnsError("email-setup needs a master key (MAILROOM_MASTER_KEY or master_key.file)");
  if (options.dmarc_policy != "none" && options.dmarc_policy != "quarantine" && options.dmarc_policy != "reject")
    throw DnsError("dmarc_policy must be none, quarantine or reject");
  if (options.spf_all != "~all" && options.spf_all != "-all" && options.spf_all != "?all")
    throw DnsError("spf_all must be ~all, -all or ?all");
  if (options.dkim_selector.empty() ||
      !std::all_of(options.dkim_selector.begin(), options.dkim_selector.end(),
                   [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; }))
    throw DnsError("dkim_selector must be letters, digits, '-' or '_'");
  const std::string& domain = zone.name;
  EmailSetupReport report;

  db::EmailConfigurations configs(pool_);
  std::vector<db::EmailConfiguration> senders;
  for (const auto& c : configs.list(zone.user_id))
    if (c.is_active && domain_of(c.from_address) == domain) senders.push_back(c);
  if (senders.empty())
    throw DnsError("no active email configuration sends as " + domain + " (its from address must end in @" + domain + ")");

  std::vector<RecordSpec> wanted;
  std::vector<std::string> spf_terms;
  for (auto& config : senders) {
    const std::string& plugin_name = config.plugin_name();
    const plugin_host::Plugin* plugin = nullptr;
    try {
      plugin = &providers::loaded_plugin(plugins_, plugin_name, plugin_host::PluginKind::email);
    } catch (const ProviderError& e) {
      throw DnsError("configuration " + config.id + ": " + e.info().message);
    }
    // The SDK's DKIM convention (docs/writing-a-plugin.md): a plugin that declares the secret
    // dkim_private_key and the settings dkim_domain and dkim_selector signs with that key.
    const auto& secrets = plugin->manifest.secrets;
    const bool signs_here = std::find(secrets.begin(), secrets.end(), "dkim_private_key") != secrets.end();
    if (signs_here && !config.settings.contains("dkim_domain")) {
      email_config::Input input;
      input.settings = {{"dkim_domain", domain}, {"dkim_selector", options.dkim_selector}};
      input.secrets["dkim_private_key"] = crypto::generate_dkim_key(options.dkim_algorithm);
      try {
        email_config::apply(input, config, plugins_, *box_, false);
      } catch (const email_config::InputError& e) {
        throw DnsError("configuration " + config.id + ": " + e.what());
      }
      configs.update(config, actor_id);
      report.notes.push_back("configuration " + config.id + " (" + plugin_name + ") got a new " + options.dkim_algorithm +
                             " DKIM key, selector " + options.dkim_selector);
    }
    std::vector<RecordSpec> needs;
    try {
      needs = providers::make_email_provider(config, plugins_, *box_)->dns_requirements(domain);
    } catch (const ProviderError& e) {
      throw DnsError("configuration " + config.id + " (" + plugin_name + "): " + e.info().message);
    }
    for (auto& r : needs) {
      if (r.type == RecordType::SPF) {
        if (std::find(spf_terms.begin(), spf_terms.end(), r.value) == spf_terms.end()) spf_terms.push_back(r.value);
        continue;
      }
      if (r.type == RecordType::MX && !options.mx.empty()) continue;  // the user's MX list wins
      r.ttl = options.ttl;
      wanted.push_back(checked_record(domain, r));
    }
  }

  std::string spf = "v=spf1";
  for (const auto& term : spf_terms) spf += " " + term;
  spf += " " + options.spf_all;
  if (const auto error = spf::syntax_error(spf); !error.empty()) throw DnsError("the merged SPF record '" + spf + "' is invalid: " + error);
  if (resolver_) {
    const auto count = spf::count_lookups(spf, domain, *resolver_);
    report.spf_lookups = count.lookups;
    report.spf_breakdown = count.breakdown;
    std::string detail;
    for (const auto& line : count.breakdown) detail += "\n  " + line;
    for (const auto& problem : count.problems) detail += "\n  problem: " + problem;
    if (count.lookups > spf::kMaxLookups)
      throw DnsError("the merged SPF record for " + domain + " needs " + (count.stopped_early ? "at least " : "") +
                     std::to_string(count.lookups) +
                     " DNS lookups, more than the " + std::to_string(spf::kMaxLookups) +
                     " RFC 7208 allows (receivers would answer permerror):" + detail + "\n  record: " + spf);
    if (!count.problems.empty())
      throw DnsError("the merged SPF record for " + domain + " would not evaluate:" + detail + "\n  record: " + spf);
  }
  wanted.insert(wanted.begin(), checked_record(domain, {RecordType::SPF, domain, spf, options.ttl, std::nullopt}));

  std::string dmarc = "v=DMARC1; p=" + options.dmarc_policy;
  if (!options.dmarc_report_address.empty()) {
    if (options.dmarc_report_address.find('@') == std::string::npos || options.dmarc_report_address.find_first_of(" ;,!") != std::string::npos)
      throw DnsError("dmarc_report '" + options.dmarc_report_address + "' is not an email address");
    dmarc += "; rua=mailto:" + options.dmarc_report_address;
  }
  wanted.push_back(checked_record(domain, {RecordType::DMARC, "_dmarc." + domain, dmarc, options.ttl, std::nullopt}));
  for (const auto& mx : options.mx) {
    const auto space = mx.find(' ');
    RecordSpec r{RecordType::MX, domain, space == std::string::npos ? mx : mx.substr(space + 1), options.ttl, 10};
    try {
      if (space != std::string::npos) r.priority = std::stoi(mx.substr(0, space));
    } catch (const std::exception&) {
      throw DnsError("mx '" + mx + "' is not 'PRIORITY HOST'");
    }
    wanted.push_back(checked_record(domain, r));
  }

  for (const auto& r : wanted) check_against_plugin(zone, r);

  // Into dns_records, in one transaction: new rows, changed rows, the rest kept.
  db::DnsRecords records(pool_);
  const auto existing = records.list(zone.id);
  std::vector<db::DnsRecordRow> added, changed;
  std::set<std::string> claimed;
  for (const auto& r : wanted) {
    const auto it = std::find_if(existing.begin(), existing.end(),
                                 [&](const db::DnsRecordRow& row) { return !claimed.count(row.id) && same_slot(row, r); });
    db::DnsRecordRow row;
    if (it != existing.end()) {
      claimed.insert(it->id);
      if (it->value == r.value && it->ttl == r.ttl && it->priority == r.priority) {
        ++report.kept;
        continue;
      }
      row = *it;
    }
    row.zone_id = zone.id;
    set_record(row, r);
    (row.id.empty() ? added : changed).push_back(row);
  }
  try {
    records.save(zone.id, added, changed, actor_id);
  } catch (const db::DbError& e) {
    throw DnsError(e.what());
  }
  report.added = added.size();
  report.changed = changed.size();
  report.records = wanted;
  return report;
}

}  // namespace mailroom::dns
