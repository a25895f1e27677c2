// The DNS provider conformance suite (header-only, GoogleTest): what every DNS plugin must
// do, whoever wrote it. A plugin's own CI runs it against the plugin's test backend, which
// must hold the zone zone_name() and may hold records of its own (they are left alone):
//
//   #include <mailroom/testkit/dns_conformance.hpp>
//   class MyDnsConformance : public mailroom::testkit::DnsConformance {
//    protected:
//     std::shared_ptr<mailroom::DnsProvider> make_provider() override {
//       return plugin_.create({}, {{"api_token", "good"}}, backend_url_);
//     }
//     std::shared_ptr<mailroom::DnsProvider> make_provider_with_wrong_credentials() override {
//       return plugin_.create({}, {{"api_token", "wrong"}}, backend_url_);
//     }
//     std::string zone_name() override { return "example.test"; }
//     mailroom::testkit::LoadedDnsPlugin plugin_{"build/my_dns.so"};
//   };
//   MAILROOM_DNS_CONFORMANCE_TESTS(MyDnsConformance)
//
// For ListsEveryPage to prove anything, let the backend answer with small pages (fewer
// records per page than the suite creates, 12).
#pragma once

#include <mailroom/plugin.hpp>
#include <mailroom/testkit/loaded_plugin.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mailroom::testkit {

class DnsConformance : public ::testing::Test {
 protected:
  virtual std::shared_ptr<DnsProvider> make_provider() = 0;
  virtual std::shared_ptr<DnsProvider> make_provider_with_wrong_credentials() = 0;
  // A zone the backend holds; the suite creates and removes records below "conformance.".
  virtual std::string zone_name() = 0;

  Zone zone(DnsProvider& provider) {
    for (auto& z : provider.list_zones())
      if (z.name == zone_name()) return z;
    ADD_FAILURE() << "list_zones() does not include " << zone_name();
    return {};
  }

  std::string name(const std::string& label) { return label + ".conformance." + zone_name(); }

  static std::optional<ProviderRecord> find(DnsProvider& provider, const Zone& zone, const std::string& id) {
    for (auto& r : provider.list_records(zone))
      if (r.id == id) return r;
    return std::nullopt;
  }

  // Applies one change that must succeed; returns the record's provider id.
  static std::string apply_one(DnsProvider& provider, const Zone& zone, const Change& change) {
    const auto results = provider.apply(zone, {change});
    EXPECT_EQ(results.size(), 1u);
    if (results.empty()) return "";
    EXPECT_FALSE(results[0].error.has_value()) << (results[0].error ? results[0].error->message : "");
    return results[0].provider_id;
  }

  // A change as the host makes it, for either kind of plugin: `values` and `held` say what the
  // record's set holds after and before (a per-record plugin ignores them; for the suite's
  // records, each alone at its name, the set is the record).
  static Change change(ChangeAction action, const RecordSpec& record, std::string provider_id,
                       std::optional<RecordSpec> before = {}) {
    Change c{action, record, std::move(provider_id), {}, {}};
    if (action != ChangeAction::remove) c.values = {record};
    if (action == ChangeAction::remove) c.held = {record};
    if (before) c.held = {*before};
    return c;
  }

  static RecordSpec record(RecordType type, std::string name, std::string value, std::optional<int> priority = {}) {
    RecordSpec r;
    r.type = type;
    r.name = std::move(name);
    r.value = std::move(value);
    r.ttl = 3600;
    r.priority = priority;
    return r;
  }
};

}  // namespace mailroom::testkit

// The suite's tests, for a fixture derived from mailroom::testkit::DnsConformance.
#define MAILROOM_DNS_CONFORMANCE_TESTS(Fixture)                                                           \
  TEST_F(Fixture, ConformanceListsTheZone) {                                                              \
    auto provider = make_provider();                                                                      \
    EXPECT_EQ(zone(*provider).name, zone_name());                                                         \
  }                                                                                                       \
  TEST_F(Fixture, ConformanceCreatesEachKindAndListsItBackAsSent) {                                       \
    using mailroom::RecordType;                                                                           \
    auto provider = make_provider();                                                                      \
    const auto z = zone(*provider);                                                                       \
    const std::vector<mailroom::RecordSpec> wanted = {                                                   \
        record(RecordType::A, name("a"), "192.0.2.10"),                                                   \
        record(RecordType::AAAA, name("aaaa"), "2001:db8::10"),                                           \
        record(RecordType::CNAME, name("alias"), "target.example.net"),                                   \
        record(RecordType::MX, name("mx"), "mx1.example.net", 10),                                        \
        record(RecordType::TXT, name("txt"), "hello \"quoted\" world"),                                   \
        record(RecordType::SPF, name("spf"), "v=spf1 include:_spf.example.net ~all"),                     \
        record(RecordType::DMARC, "_dmarc." + name("d"), "v=DMARC1; p=none")};                            \
    for (const auto& spec : wanted) {                                                                     \
      const auto id = apply_one(*provider, z, change(mailroom::ChangeAction::create, spec, ""));               \
      ASSERT_FALSE(id.empty()) << "no id for " << spec.name;                                             \
      const auto got = find(*provider, z, id);                                                            \
      ASSERT_TRUE(got.has_value()) << spec.name << " not listed after create";                           \
      EXPECT_EQ(got->record.name, spec.name);                                                             \
      EXPECT_EQ(got->record.value, spec.value) << spec.name;                                              \
      EXPECT_EQ(got->record.ttl, spec.ttl) << spec.name;                                                  \
      if (spec.priority) {                                                                                \
        EXPECT_EQ(got->record.priority, spec.priority) << spec.name;                                      \
      }                                                                                                   \
      apply_one(*provider, z, change(mailroom::ChangeAction::remove, spec, id));                               \
    }                                                                                                     \
  }                                                                                                       \
  TEST_F(Fixture, ConformanceJoinsLongTxtValues) {                                                        \
    auto provider = make_provider();                                                                      \
    const auto z = zone(*provider);                                                                       \
    std::string key = "v=DKIM1; k=rsa; p=";                                                               \
    while (key.size() < 700) key += "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA";                       \
    const auto spec = record(mailroom::RecordType::DKIM, "sel._domainkey." + name("long"), key);         \
    const auto id = apply_one(*provider, z, change(mailroom::ChangeAction::create, spec, ""));                 \
    const auto got = find(*provider, z, id);                                                              \
    ASSERT_TRUE(got.has_value());                                                                         \
    EXPECT_EQ(got->record.value, key) << "a TXT value over 255 octets must come back whole";              \
    apply_one(*provider, z, change(mailroom::ChangeAction::remove, spec, id));                                 \
  }                                                                                                       \
  TEST_F(Fixture, ConformanceUpdatesAndRemoves) {                                                         \
    auto provider = make_provider();                                                                      \
    const auto z = zone(*provider);                                                                       \
    auto spec = record(mailroom::RecordType::TXT, name("update"), "before");                              \
    const auto id = apply_one(*provider, z, change(mailroom::ChangeAction::create, spec, ""));                 \
    const auto before = spec;                                                                             \
    spec.value = "after";                                                                                 \
    spec.ttl = 7200;                                                                                      \
    const auto updated = apply_one(*provider, z, change(mailroom::ChangeAction::update, spec, id, before));            \
    const auto got = find(*provider, z, updated);                                                         \
    ASSERT_TRUE(got.has_value());                                                                         \
    EXPECT_EQ(got->record.value, "after");                                                                \
    EXPECT_EQ(got->record.ttl, 7200);                                                                     \
    apply_one(*provider, z, change(mailroom::ChangeAction::remove, spec, updated));                            \
    EXPECT_FALSE(find(*provider, z, updated).has_value()) << "still listed after remove";                \
  }                                                                                                       \
  TEST_F(Fixture, ConformanceListsEveryPage) {                                                            \
    auto provider = make_provider();                                                                      \
    const auto z = zone(*provider);                                                                       \
    mailroom::ChangeSet creates;                                                                          \
    for (int i = 0; i < 12; ++i)                                                                          \
      creates.push_back(change(mailroom::ChangeAction::create,                                                  \
                         record(mailroom::RecordType::TXT, name("page" + std::to_string(i)), "p"), ""));  \
    const auto results = provider->apply(z, creates);                                                     \
    ASSERT_EQ(results.size(), creates.size());                                                            \
    const auto listed = provider->list_records(z);                                                        \
    mailroom::ChangeSet removes;                                                                          \
    for (std::size_t i = 0; i < results.size(); ++i) {                                                    \
      ASSERT_FALSE(results[i].error.has_value()) << results[i].error->message;                            \
      EXPECT_TRUE(std::any_of(listed.begin(), listed.end(),                                               \
                              [&](const auto& r) { return r.id == results[i].provider_id; }))             \
          << creates[i].record.name << " missing from list_records()";                                    \
      removes.push_back(change(mailroom::ChangeAction::remove, creates[i].record, results[i].provider_id));     \
    }                                                                                                     \
    for (const auto& r : provider->apply(z, removes)) EXPECT_FALSE(r.error.has_value());                  \
  }                                                                                                       \
  TEST_F(Fixture, ConformanceOneBadChangeFailsAloneWithItsReason) {                                       \
    auto provider = make_provider();                                                                      \
    const auto z = zone(*provider);                                                                       \
    const mailroom::ChangeSet changes = {                                                                 \
        change(mailroom::ChangeAction::create, record(mailroom::RecordType::TXT, name("ok1"), "fine"), ""),     \
        change(mailroom::ChangeAction::create, record(mailroom::RecordType::CNAME, name("loop"), name("loop")), ""), \
        change(mailroom::ChangeAction::create, record(mailroom::RecordType::TXT, name("ok2"), "fine"), "")};    \
    const auto results = provider->apply(z, changes);                                                     \
    ASSERT_EQ(results.size(), 3u);                                                                        \
    EXPECT_FALSE(results[0].error.has_value());                                                           \
    ASSERT_TRUE(results[1].error.has_value()) << "a CNAME pointing at itself was accepted";               \
    EXPECT_EQ(results[1].error->kind, mailroom::ErrorKind::invalid_request);                              \
    EXPECT_FALSE(results[1].error->message.empty());                                                      \
    EXPECT_FALSE(results[2].error.has_value()) << "a bad change stopped the ones after it";               \
    for (std::size_t i : {0u, 2u})                                                                        \
      if (!results[i].error) apply_one(*provider, z, change(mailroom::ChangeAction::remove, changes[i].record, results[i].provider_id)); \
  }                                                                                                       \
  TEST_F(Fixture, ConformanceWrongCredentialsAreAnAuthError) {                                            \
    auto provider = make_provider_with_wrong_credentials();                                               \
    EXPECT_EQ(mailroom::testkit::provider_error_kind([&] { provider->list_zones(); }), mailroom::ErrorKind::auth);          \
  }
