// The DNS engine end to end: real PostgreSQL, the cloudflare plugin against the validating
// Cloudflare mock (fake behind Prism), and Knot DNS serving what the fake holds.
#include "cloudflare_mock.hpp"
#include "crypto.hpp"
#include "db.hpp"
#include "dns.hpp"
#include "dns_server.hpp"
#include "harness.hpp"
#include "migrate.hpp"
#include "plugin_host.hpp"
#include "resolver.hpp"

#include <chrono>

namespace {

using mailroom::RecordSpec;
using mailroom::RecordType;
using mailroom::dns::PlanAction;
using nlohmann::json;


class DnsEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = mailroom::testing::fresh_database();
    std::ostringstream progress;
    mailroom::migrate::Migrator(url_, mailroom::migrate::embedded_migrations(), progress).up();
    pool_ = std::make_unique<mailroom::db::Pool>(url_, 2);
    user_ = mailroom::db::Users(*pool_).create("ada@example.test", "Ada", false).id;
    host_.load_directory(MAILROOM_PLUGIN_DIR);
    engine_ = std::make_unique<mailroom::dns::Engine>(*pool_, host_, &box_, resolver_.get());
    mailroom::dns::ZoneInput input;
    input.user_id = user_;
    input.name = "example.test";
    input.provider = "cloudflare";
    input.settings = {{"base_url", mock_.url()}};
    input.secrets = {{"api_token", mock_.token()}};
    zone_ = engine_->add_zone(input, user_);
  }
  void TearDown() override { EXPECT_EQ(mock_.violations(), "") << "requests or answers at odds with Cloudflare's schema"; }

  std::string add(RecordType type, const std::string& name, const std::string& value, std::optional<int> priority = {}) {
    return engine_->add_record(zone_, RecordSpec{type, name, value, 3600, priority}, user_);
  }
  std::map<std::string, mailroom::db::DnsRecordRow> rows() {
    std::map<std::string, mailroom::db::DnsRecordRow> out;
    for (auto& r : mailroom::db::DnsRecords(*pool_).list(zone_.id)) out[r.id] = r;
    return out;
  }
  // A record created at the provider behind mailroom's back.
  std::string foreign(const std::string& type, const std::string& name, const std::string& content) {
    mailroom::plugin_host::ProviderSettings settings;
    settings.config = {{"base_url", mock_.url()}};
    settings.secrets = {{"api_token", mock_.token()}};
    auto provider = host_.create_dns_provider("cloudflare", settings);
    const auto z = provider->list_zones().at(0);
    RecordSpec r{*mailroom::record_type_from_string(type), name, content, 3600, std::nullopt};
    const auto results = provider->apply(z, {{mailroom::ChangeAction::create, r, ""}});
    EXPECT_FALSE(results.at(0).error.has_value());
    return results.at(0).provider_id;
  }
  std::size_t writes(const std::string& method) {
    std::size_t n = 0;
    for (const auto& r : mock_.requests()) n += r[0] == method;
    return n;
  }

  std::string url_;
  std::unique_ptr<mailroom::db::Pool> pool_;
  std::string user_;
  mailroom::testing::CloudflareMock mock_{{.token = "cf-token", .zones = {"example.test"}, .max_per_page = 5}};
  mailroom::plugin_host::PluginHost host_;
  const mailroom::crypto::SecretBox box_{
      mailroom::crypto::KeyRing::parse(mailroom::crypto::generate_key_entry("k1"), "test")};
  mailroom::testing::DnsServer dns_{"example.test", ""};
  std::unique_ptr<mailroom::resolver::Resolver> resolver_ =
      mailroom::resolver::make_resolver({dns_.address(), std::chrono::milliseconds(1000), 2});
  std::unique_ptr<mailroom::dns::Engine> engine_;
  mailroom::db::DnsZoneRow zone_;
};

TEST_F(DnsEngineTest, PlanAppliesAndThenHasNothingLeftToDo) {
  const auto foreign_id = foreign("TXT", "keep.example.test", "not mailroom's");
  const auto spf = add(RecordType::SPF, "@", "v=spf1 ip4:192.0.2.25 ~all");
  add(RecordType::MX, "@", "mx1.example.net", 10);
  add(RecordType::A, "www", "192.0.2.80");

  const auto plan = engine_->plan(zone_);
  EXPECT_EQ(plan.creates, 3u);
  EXPECT_EQ(plan.owned, 0u);
  EXPECT_NE(plan.to_text().find("+ create  SPF example.test \"v=spf1 ip4:192.0.2.25 ~all\""), std::string::npos)
      << plan.to_text();

  mailroom::dns::ApplyOptions options;
  options.plan_checksum = plan.checksum;
  const auto report = engine_->apply(zone_, options, user_);
  EXPECT_EQ(report.applied, 3u);
  EXPECT_EQ(report.failed, 0u);
  for (const auto& [id, row] : rows()) {
    EXPECT_EQ(row.status, "active") << row.name;
    EXPECT_EQ(row.provider_record_id.size(), 32u) << row.name;
  }
  const auto audit = mailroom::db::audit_for(*pool_, "dns_record", spf);
  ASSERT_GE(audit.size(), 2u) << "create and the apply's update are audited";
  EXPECT_EQ(audit.back().user_id, user_);

  const auto again = engine_->plan(zone_);
  EXPECT_EQ(again.unchanged, 3u);
  EXPECT_EQ(again.creates + again.updates + again.removes, 0u);
  EXPECT_EQ(again.owned, 3u);
  bool foreign_kept = false;
  for (const auto& r : mock_.records("example.test")) foreign_kept = foreign_kept || r["id"] == foreign_id;
  EXPECT_TRUE(foreign_kept) << "a record mailroom does not own was touched";
}

TEST_F(DnsEngineTest, UpdatesAndDeletesOnlyWhatItOwnsDeletesFirst) {
  const auto dmarc = add(RecordType::DMARC, "_dmarc", "v=DMARC1; p=none");
  const auto txt = add(RecordType::TXT, "old", "bye");
  engine_->apply(zone_, {}, user_);
  mailroom::db::DnsRecordRow changed = rows()[dmarc];
  changed.value = "v=DMARC1; p=reject";
  mailroom::db::DnsRecords(*pool_).save(zone_.id, {}, {changed}, user_);
  engine_->remove_record(zone_, txt, user_);
  add(RecordType::TXT, "new", "hello");

  const auto plan = engine_->plan(zone_);
  ASSERT_EQ(plan.changes.size(), 3u);
  EXPECT_EQ(plan.changes[0].action, PlanAction::remove);
  EXPECT_EQ(plan.changes[1].action, PlanAction::update);
  EXPECT_EQ(plan.changes[1].held->value, "v=DMARC1; p=none");
  EXPECT_EQ(plan.changes[2].action, PlanAction::create);
  const auto report = engine_->apply(zone_, {}, user_);
  EXPECT_EQ(report.failed, 0u);
  EXPECT_EQ(rows().count(txt), 0u) << "the deleted record's row is gone";
  std::vector<std::string> held;
  for (const auto& r : mock_.records("example.test")) held.push_back(r["name"].get<std::string>() + "=" + r["content"].get<std::string>());
  std::sort(held.begin(), held.end());
  EXPECT_EQ(held, (std::vector<std::string>{"_dmarc.example.test=v=DMARC1; p=reject", "new.example.test=hello"}));
}

TEST_F(DnsEngineTest, ApplyRefusesAPlanThatChangedSinceReview) {
  add(RecordType::TXT, "a", "1");
  const auto reviewed = engine_->plan(zone_).checksum;
  add(RecordType::TXT, "b", "2");
  mailroom::dns::ApplyOptions options;
  options.plan_checksum = reviewed;
  try {
    engine_->apply(zone_, options, user_);
    FAIL() << "applied a plan that is not the reviewed one";
  } catch (const mailroom::dns::DnsError& e) {
    EXPECT_NE(std::string(e.what()).find("changed since the plan you reviewed"), std::string::npos) << e.what();
  }
  EXPECT_EQ(writes("POST"), 0u) << "nothing may reach the provider";
}

// Found by the API fuzzer: a refused apply stored the provider's zone id on the way.
TEST_F(DnsEngineTest, ARefusedApplyWritesNothing) {
  add(RecordType::TXT, "a", "1");
  auto zone_row = [&] {
    pqxx::connection c(url_);
    pqxx::read_transaction tx(c);
    return tx.exec("SELECT z::text FROM dns_zones z")[0][0].as<std::string>();
  };
  const std::string before = zone_row();
  mailroom::dns::ApplyOptions options;
  options.plan_checksum = "0123456789abcdef";
  EXPECT_THROW(engine_->apply(zone_, options, user_), mailroom::dns::DnsError);
  EXPECT_EQ(zone_row(), before);
}

TEST_F(DnsEngineTest, PlansPastTheSafetyLimitNeedForce) {
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(add(RecordType::TXT, "r" + std::to_string(i), "v"));
  engine_->apply(zone_, {}, user_);
  for (int i = 0; i < 4; ++i) engine_->remove_record(zone_, ids[static_cast<std::size_t>(i)], user_);
  const auto plan = engine_->plan(zone_);
  EXPECT_TRUE(plan.unsafe);
  EXPECT_EQ(plan.unsafe_reason,
            "the plan updates or deletes 4 of the 10 records mailroom owns in example.test (more than 30 %); "
            "review it and apply with --force");
  EXPECT_THROW(engine_->apply(zone_, {}, user_), mailroom::dns::DnsError);
  EXPECT_EQ(writes("DELETE"), 0u);
  mailroom::dns::ApplyOptions force;
  force.force = true;
  EXPECT_EQ(engine_->apply(zone_, force, user_).failed, 0u);
  EXPECT_EQ(writes("DELETE"), 4u);
  EXPECT_EQ(mock_.records("example.test").size(), 6u);
}

TEST_F(DnsEngineTest, AnIdenticalPublishedRecordIsAdoptedNotDuplicated) {
  const auto provider_id = foreign("TXT", "example.test", "google-site-verification=abc");
  const auto id = add(RecordType::TXT, "@", "google-site-verification=abc");
  const auto plan = engine_->plan(zone_);
  ASSERT_EQ(plan.unchanged, 1u);
  EXPECT_TRUE(plan.changes[0].adopt);
  engine_->apply(zone_, {}, user_);
  EXPECT_EQ(rows()[id].provider_record_id, provider_id);
  EXPECT_EQ(rows()[id].status, "active");
  EXPECT_EQ(writes("POST"), 1u) << "only the foreign record's own create";
}

TEST_F(DnsEngineTest, AProviderRefusalFailsThatRecordWithTheProvidersMessage) {
  foreign("A", "www.example.test", "192.0.2.1");
  const auto cname = add(RecordType::CNAME, "www", "elsewhere.example.net");
  const auto ok = add(RecordType::TXT, "fine", "x");
  const auto report = engine_->apply(zone_, {}, user_);
  EXPECT_EQ(report.failed, 1u);
  EXPECT_EQ(report.applied, 1u);
  EXPECT_EQ(rows()[cname].status, "failed");
  EXPECT_EQ(rows()[cname].last_error, "An A, AAAA, or CNAME record with that host already exists. (81053)");
  EXPECT_EQ(rows()[ok].status, "active");
}

TEST_F(DnsEngineTest, RateLimitedChangesAreRetriedAfterRetryAfter) {
  add(RecordType::TXT, "a", "1");
  add(RecordType::TXT, "b", "2");
  mock_.rate_limit(1, 1);
  const auto started = std::chrono::steady_clock::now();
  const auto report = engine_->apply(zone_, {}, user_);
  EXPECT_EQ(report.failed, 0u);
  EXPECT_EQ(report.applied, 2u);
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::seconds(1)) << "Retry-After was not honoured";
  EXPECT_EQ(writes("POST"), 3u) << "one refused, two accepted";
}

TEST_F(DnsEngineTest, RecordsThePluginCannotTakeAreRefusedWhenAddedAndBeforePlanning) {
  try {
    engine_->add_record(zone_, RecordSpec{RecordType::TXT, "short", "x", 30, std::nullopt}, user_);
    FAIL() << "took a TTL below the plugin's minimum";
  } catch (const mailroom::dns::DnsError& e) {
    EXPECT_STREQ(e.what(), "TXT record short.example.test: ttl 30 is outside what plugin cloudflare declares (min_ttl 60, max_ttl 86400)");
  }
  EXPECT_TRUE(rows().empty()) << "nothing is written for a refused record";
  // A row written before that check existed (an older release, or SQL) is still refused by the plan.
  mailroom::db::DnsRecordRow row;
  row.zone_id = zone_.id;
  mailroom::dns::set_record(row, RecordSpec{RecordType::TXT, "short.example.test", "x", 30, std::nullopt});
  mailroom::db::DnsRecords(*pool_).save(zone_.id, {row}, {}, user_);
  try {
    engine_->plan(zone_);
    FAIL() << "planned a TTL below the plugin's minimum";
  } catch (const mailroom::dns::DnsError& e) {
    EXPECT_NE(std::string(e.what()).find("TXT short.example.test: ttl 30 is outside what plugin cloudflare declares (min_ttl 60, max_ttl 86400)"),
              std::string::npos) << e.what();
  }
}

TEST_F(DnsEngineTest, NamesEndingInADotAreAbsolute) {
  EXPECT_EQ(mailroom::dns::checked_record("example.test", {RecordType::TXT, "www.example.test.", "x", 300, std::nullopt}).name,
            "www.example.test");
  EXPECT_EQ(mailroom::dns::checked_record("example.test", {RecordType::TXT, "www.example.test", "x", 300, std::nullopt}).name,
            "www.example.test");
  EXPECT_EQ(mailroom::dns::checked_record("example.test", {RecordType::TXT, "www.other.test", "x", 300, std::nullopt}).name,
            "www.other.test.example.test");
  try {
    add(RecordType::TXT, "www.other.test.", "x");
    FAIL() << "took a name outside the zone";
  } catch (const mailroom::dns::DnsError& e) {
    EXPECT_STREQ(e.what(), "TXT record www.other.test.: the name is outside the zone example.test");
  }
  EXPECT_THROW(add(RecordType::TXT, "line", "a\nb"), mailroom::dns::DnsError);
  EXPECT_TRUE(rows().empty());
}

TEST_F(DnsEngineTest, RemovingAMissingRecordIsNotFound) {
  EXPECT_THROW(engine_->remove_record(zone_, "00000000-0000-0000-0000-000000000001", user_), mailroom::dns::NotFound);
  EXPECT_THROW(engine_->remove_record(zone_, "not-a-uuid", user_), mailroom::dns::NotFound);
}

TEST_F(DnsEngineTest, BadRecordsAreRefusedByName) {
  EXPECT_THROW(add(RecordType::A, "www", "not-an-ip"), mailroom::dns::DnsError);
  EXPECT_THROW(add(RecordType::CNAME, "@", "x.example.net"), mailroom::dns::DnsError);
  EXPECT_THROW(add(RecordType::DMARC, "nope", "v=DMARC1; p=none"), mailroom::dns::DnsError);
  try {
    add(RecordType::AAAA, "v6", "192.0.2.1");
    FAIL();
  } catch (const mailroom::dns::DnsError& e) {
    EXPECT_STREQ(e.what(), "AAAA record v6.example.test: '192.0.2.1' is not an IPv6 address");
  }
  EXPECT_TRUE(rows().empty()) << "nothing is written for a refused record";
}

TEST_F(DnsEngineTest, ValidateComparesWhatDnsServesWithWhatIsDesired) {
  const auto spf = add(RecordType::SPF, "@", "v=spf1 ip4:192.0.2.25 ~all");
  const auto dmarc = add(RecordType::DMARC, "_dmarc", "v=DMARC1; p=quarantine");
  const auto mx = add(RecordType::MX, "@", "mx1.example.net", 10);
  std::string key = "v=DKIM1; k=rsa; p=";
  key += std::string(400, 'Q');
  const auto dkim = add(RecordType::DKIM, "sel._domainkey", key);
  engine_->apply(zone_, {}, user_);
  // DNS serves the provider's records, except that DMARC differs and MX is missing.
  std::string served;
  for (const auto& r : mock_.records("example.test"))
    if (r["type"] != "MX" && r["name"] != "_dmarc.example.test") served += mailroom::testing::CloudflareMock::zone_file_lines(json::array({r}));
  served += "_dmarc TXT \"v=DMARC1; p=none\"\n";
  dns_.serve(served);

  std::map<std::string, std::string> status;
  for (const auto& v : engine_->validate(zone_, user_)) status[v.record_id] = v.status;
  EXPECT_EQ(status[spf], "valid");
  EXPECT_EQ(status[dkim], "valid") << "the 400-octet key is served as two strings and compared joined";
  EXPECT_EQ(status[dmarc], "mismatch");
  EXPECT_EQ(status[mx], "missing");
  auto r = rows();
  EXPECT_EQ(r[spf].status, "active");
  EXPECT_EQ(r[dmarc].status, "invalid");
  EXPECT_EQ(r[dmarc].served_value, "v=DMARC1; p=none");
  EXPECT_EQ(r[mx].status, "invalid");
  EXPECT_FALSE(r[mx].validated_at.empty());

  dns_.serve(mailroom::testing::CloudflareMock::zone_file_lines(mock_.records("example.test")));
  for (const auto& v : engine_->validate(zone_, user_)) EXPECT_EQ(v.status, "valid") << v.record.name;
  for (const auto& [id, row] : rows()) EXPECT_EQ(row.status, "active") << row.name;
}

TEST_F(DnsEngineTest, ValidateReportsAnUnreachableResolverAsError) {
  add(RecordType::TXT, "a", "1");
  engine_->apply(zone_, {}, user_);
  auto dead = mailroom::resolver::make_resolver(
      {"127.0.0.1:" + std::to_string(mailroom::testing::free_port()), std::chrono::milliseconds(200), 1});
  mailroom::dns::Engine engine(*pool_, host_, &box_, dead.get());
  const auto results = engine.validate(zone_, user_);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status, "error");
  EXPECT_EQ(rows().begin()->second.status, "active") << "a DNS failure says nothing about the record";
}

TEST_F(DnsEngineTest, ZoneSecretsAreSealedAndZonesAreCheckedAtTheProvider) {
  pqxx::connection c(url_);
  pqxx::nontransaction tx(c);
  const auto sealed = tx.exec("SELECT secrets_encrypted FROM dns_zones")[0][0].as<std::string>();
  EXPECT_EQ(sealed.rfind("v1:k1:", 0), 0u);
  EXPECT_EQ(sealed.find(mock_.token()), std::string::npos);
  const auto audit = tx.exec("SELECT details::text FROM audit_logs WHERE resource_type = 'dns_zone'");
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0][0].as<std::string>().find(mock_.token()), std::string::npos);

  mailroom::dns::ZoneInput other;
  other.user_id = user_;
  other.name = "not-there.test";
  other.provider = "cloudflare";
  other.settings = {{"base_url", mock_.url()}};
  other.secrets = {{"api_token", mock_.token()}};
  const auto missing = engine_->add_zone(other, user_);
  try {
    engine_->plan(missing);
    FAIL();
  } catch (const mailroom::dns::DnsError& e) {
    EXPECT_STREQ(e.what(), "the cloudflare account does not hold zone not-there.test (it holds: example.test)");
  }
  other.name = "example.test";
  EXPECT_THROW(engine_->add_zone(other, user_), mailroom::dns::DnsError) << "the same zone twice";
  other.name = "bad..name";
  EXPECT_THROW(engine_->add_zone(other, user_), mailroom::dns::DnsError);
}

}  // namespace

namespace {

class EmailSetupTest : public DnsEngineTest {
 protected:
  std::string configuration(const std::string& provider, const std::string& plugin, json settings,
                            const std::string& host = "") {
    mailroom::db::EmailConfigurations configs(*pool_);
    mailroom::db::EmailConfiguration c;
    c.id = configs.new_id();
    c.user_id = user_;
    c.provider = provider;
    c.plugin = plugin;
    c.smtp_host = host;
    if (!host.empty()) c.smtp_port = 587;
    c.from_address = "ada@example.test";
    c.settings = std::move(settings);
    configs.create(c, user_);
    return c.id;
  }
};

TEST_F(EmailSetupTest, RefusesAnSpfRecordPastTenLookupsNamingTheIncludeChain) {
  dns_.serve("_spf TXT \"v=spf1 include:_a.example.test include:_b.example.test -all\"\n"
             "_a TXT \"v=spf1 a mx ptr exists:x.example.test include:_c.example.test -all\"\n"
             "_b TXT \"v=spf1 a mx a:x.example.test mx:y.example.test -all\"\n"
             "_c TXT \"v=spf1 a mx -all\"\n");
  configuration("sendgrid", "fake_email", {{"spf", "include:_spf.example.test"}});
  try {
    engine_->email_setup(zone_, {}, user_);
    FAIL() << "published an SPF record receivers would reject";
  } catch (const mailroom::dns::DnsError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("needs 14 DNS lookups, more than the 10 RFC 7208 allows"), std::string::npos) << message;
    EXPECT_NE(message.find("\n  include:_spf.example.test: 14"), std::string::npos) << message;
    EXPECT_NE(message.find("\n    include:_a.example.test: 8"), std::string::npos) << message;
    EXPECT_NE(message.find("\n      include:_c.example.test: 3"), std::string::npos) << message;
  }
  EXPECT_TRUE(rows().empty()) << "nothing is stored for a refused setup";
}

TEST_F(EmailSetupTest, MergesOneSpfRecordAddsDkimDmarcMxAndIsIdempotent) {
  dns_.serve("_spf TXT \"v=spf1 include:_a.example.test -all\"\n_a TXT \"v=spf1 ip4:198.51.100.0/24 -all\"\n");
  const auto relay = configuration("smtp_relay", "", {{"tls", "none"}}, "192.0.2.25");
  configuration("sendgrid", "fake_email", {{"spf", "include:_spf.example.test"}});
  mailroom::dns::EmailSetupOptions options;
  options.dmarc_policy = "quarantine";
  options.dmarc_report_address = "dmarc@example.test";
  options.mx = {"10 mx1.example.net"};
  const auto report = engine_->email_setup(zone_, options, user_);
  EXPECT_EQ(report.spf_lookups, 2);
  ASSERT_EQ(report.notes.size(), 1u);
  EXPECT_NE(report.notes[0].find(relay), std::string::npos);
  EXPECT_EQ(report.added, 4u);
  std::map<std::string, std::string> by_type;
  for (const auto& r : report.records) by_type[std::string(mailroom::to_string(r.type))] = r.name + " " + r.value;
  EXPECT_EQ(by_type["SPF"], "example.test v=spf1 ip4:192.0.2.25 include:_spf.example.test ~all");
  EXPECT_EQ(by_type["DMARC"], "_dmarc.example.test v=DMARC1; p=quarantine; rua=mailto:dmarc@example.test");
  EXPECT_EQ(by_type["MX"], "example.test mx1.example.net");
  EXPECT_EQ(by_type["DKIM"].rfind("mailroom._domainkey.example.test v=DKIM1; k=rsa; p=", 0), 0u) << by_type["DKIM"];
  const auto config = mailroom::db::EmailConfigurations(*pool_).find(relay);
  EXPECT_EQ(config->settings.value("dkim_domain", ""), "example.test");
  EXPECT_EQ(config->settings.value("dkim_selector", ""), "mailroom");
  EXPECT_TRUE(config->ciphertexts.count("secrets_encrypted")) << "the private key is stored encrypted";

  const auto again = engine_->email_setup(zone_, options, user_);
  EXPECT_EQ(again.added, 0u);
  EXPECT_EQ(again.changed, 0u);
  EXPECT_EQ(again.kept, 4u);
  EXPECT_TRUE(again.notes.empty()) << "the key is not generated twice";
  EXPECT_EQ(rows().size(), 4u);

  options.dmarc_policy = "reject";
  const auto changed = engine_->email_setup(zone_, options, user_);
  EXPECT_EQ(changed.changed, 1u);
  EXPECT_EQ(changed.kept, 3u);
}

TEST_F(EmailSetupTest, NeedsAConfigurationSendingAsTheDomain) {
  try {
    engine_->email_setup(zone_, {}, user_);
    FAIL();
  } catch (const mailroom::dns::DnsError& e) {
    EXPECT_STREQ(e.what(), "no active email configuration sends as example.test (its from address must end in @example.test)");
  }
  mailroom::dns::EmailSetupOptions bad;
  bad.dmarc_policy = "maybe";
  EXPECT_THROW(engine_->email_setup(zone_, bad, user_), mailroom::dns::DnsError);
}

}  // namespace
