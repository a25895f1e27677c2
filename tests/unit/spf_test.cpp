// SPF evaluation against the openspf.org RFC 7208 test suite (shared/specs/email_auth/spf,
// copied to tests/data/spf): every scenario's zone data is served by an in-memory resolver and
// every test's result (and explanation, where given) must be one the suite accepts.
#include "spf.hpp"

#include "process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

namespace {

using nlohmann::json;
using mailroom::resolver::Answer;
using mailroom::resolver::QueryStatus;
using mailroom::resolver::QueryType;

std::string lower_name(std::string name) {
  if (!name.empty() && name.back() == '.') name.pop_back();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  return name;
}

// Serves a scenario's zonedata as the suite's drivers do: SPF-type entries are served as TXT
// where a name has no TXT entry (RFC 7208 dropped type 99; {TXT: NONE} is the placeholder
// that prevents it), TIMEOUT fails a query that has nothing else to answer, CNAMEs are followed.
class ZoneResolver : public mailroom::resolver::Resolver {
 public:
  explicit ZoneResolver(const json& zonedata) {
    for (const auto& [name, records] : zonedata.items()) {
      auto& entries = zone_[lower_name(name)];
      for (const auto& r : records) entries.push_back(r);
    }
  }

  Answer query(const std::string& raw, QueryType type) override {
    ++queries;
    std::string name = lower_name(raw);
    for (int hops = 0; hops < 8; ++hops) {
      const auto it = zone_.find(name);
      if (it == zone_.end()) return {QueryStatus::no_such_name, {}, {}, ""};
      Answer answer{QueryStatus::ok, {}, {}, ""};
      std::string cname;
      bool timeout = false, has_txt = false;
      for (const auto& r : it->second) has_txt = has_txt || (r.is_object() && r.contains("TXT"));
      for (const auto& r : it->second) {
        if (r.is_string() && r == "TIMEOUT") {
          timeout = true;
          continue;
        }
        const std::string rtype = r.begin().key();
        const json& value = r.begin().value();
        if (rtype == "CNAME") cname = lower_name(value.get<std::string>());
        if (rtype == "TXT" && value == "NONE") continue;
        if ((rtype == "TXT" || (rtype == "SPF" && !has_txt)) && type == QueryType::TXT) {
          std::string joined;
          if (value.is_array())
            for (const auto& part : value) joined += part.get<std::string>();
          else
            joined = value.get<std::string>();
          answer.values.push_back(joined);
        }
        if ((rtype == "A" && type == QueryType::A) || (rtype == "AAAA" && type == QueryType::AAAA))
          answer.values.push_back(value.get<std::string>());
        if (rtype == "PTR" && type == QueryType::PTR) answer.values.push_back(lower_name(value.get<std::string>()));
        if (rtype == "MX" && type == QueryType::MX)
          answer.mx.push_back({value[0].get<int>(), lower_name(value[1].get<std::string>())});
      }
      if (!answer.values.empty() || !answer.mx.empty()) return answer;
      if (timeout) return {QueryStatus::failure, {}, {}, "timeout"};
      if (cname.empty() || type == QueryType::CNAME) return {QueryStatus::no_data, {}, {}, ""};
      name = cname;
    }
    return {QueryStatus::failure, {}, {}, "CNAME loop"};
  }

  int queries = 0;

 private:
  std::map<std::string, std::vector<json>> zone_;
};

const json& suite() {
  static const json scenarios = json::parse(mailroom::testing::run(
      "python3 -c 'import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))' "
      MAILROOM_SPF_SUITE));
  return scenarios;
}

class Rfc7208Suite : public ::testing::TestWithParam<int> {};

TEST_P(Rfc7208Suite, EveryTestOfTheScenarioGivesAnAcceptedResult) {
  const json& scenario = suite().at(static_cast<std::size_t>(GetParam()));
  int ran = 0;
  for (const auto& [name, t] : scenario["tests"].items()) {
    ZoneResolver resolver(scenario["zonedata"]);
    mailroom::spf::Request request;
    request.ip = t["host"];
    request.sender = t.value("mailfrom", "");
    request.helo = t.value("helo", "");
    const auto check = mailroom::spf::check_host(request, resolver);
    std::vector<std::string> accepted;
    if (t["result"].is_array())
      accepted = t["result"].get<std::vector<std::string>>();
    else
      accepted = {t["result"].get<std::string>()};
    const std::string got(mailroom::spf::to_string(check.result));
    EXPECT_NE(std::find(accepted.begin(), accepted.end(), got), accepted.end())
        << name << " (" << t.value("spec", "") << "): got " << got << " (" << check.reason << "), want "
        << t["result"].dump() << "\n  " << t.value("description", "");
    if (t.contains("explanation") && got == "fail") {
      const std::string explanation = check.explanation.empty() ? "DEFAULT" : check.explanation;
      EXPECT_EQ(explanation, t["explanation"].get<std::string>()) << name;
    }
    ++ran;
  }
  EXPECT_EQ(ran, static_cast<int>(scenario["tests"].size()));
}

std::string scenario_name(const ::testing::TestParamInfo<int>& info) {
  std::string name = suite().at(static_cast<std::size_t>(info.param))["description"];
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

INSTANTIATE_TEST_SUITE_P(Scenarios, Rfc7208Suite, ::testing::Range(0, 16), scenario_name);

TEST(Rfc7208SuiteFile, HasTheScenariosAndTestsItClaims) {
  int tests = 0;
  for (const auto& s : suite()) tests += static_cast<int>(s["tests"].size());
  EXPECT_EQ(suite().size(), 16u);
  EXPECT_EQ(tests, 203);
}

// --- counting lookups before publishing -------------------------------------------------

TEST(SpfLookupCount, FollowsIncludesAndNamesTheChain) {
  ZoneResolver resolver(json::parse(R"({
    "_spf.provider.test": [{"TXT": "v=spf1 include:_a.provider.test include:_b.provider.test ~all"}],
    "_a.provider.test": [{"TXT": "v=spf1 ip4:192.0.2.0/24 a mx -all"}],
    "_b.provider.test": [{"TXT": "v=spf1 exists:%{i}.x.provider.test redirect=_a.provider.test"}]
  })"));
  const auto count = mailroom::spf::count_lookups("v=spf1 include:_spf.provider.test mx -all", "example.test", resolver);
  // include(1) + [include _a (1) + a + mx] + [include _b (1) + exists + redirect(1) + a + mx] + mx
  EXPECT_EQ(count.lookups, 10);
  EXPECT_TRUE(count.problems.empty());
  ASSERT_FALSE(count.breakdown.empty());
  EXPECT_EQ(count.breakdown[0], "include:_spf.provider.test: 9");
  EXPECT_EQ(count.breakdown[1], "  include:_a.provider.test: 3");
}

TEST(SpfLookupCount, ReportsIncludesWithoutARecordAndLoops) {
  ZoneResolver resolver(json::parse(R"({
    "loop.test": [{"TXT": "v=spf1 include:example.test -all"}]
  })"));
  const auto count = mailroom::spf::count_lookups("v=spf1 include:nothing.test include:loop.test -all", "example.test", resolver);
  ASSERT_EQ(count.problems.size(), 2u);
  EXPECT_EQ(count.problems[0], "include:nothing.test: nothing.test publishes 0 SPF records");
  EXPECT_EQ(count.problems[1], "include:example.test loops back to example.test");
}

TEST(SpfSyntax, NamesWhatIsWrong) {
  EXPECT_EQ(mailroom::spf::syntax_error("v=spf1 include:_spf.google.com ~all"), "");
  EXPECT_EQ(mailroom::spf::syntax_error("v=spf1 ip4:300.1.1.1 -all"), "bad address in 'ip4:300.1.1.1'");
  EXPECT_EQ(mailroom::spf::syntax_error("v=spf1 foo:bar -all"), "unknown mechanism 'foo:bar'");
  EXPECT_EQ(mailroom::spf::syntax_error("v=spf1 redirect=a.test redirect=b.test"), "'redirect=' given twice");
}

}  // namespace

namespace {

// Found by tests/fuzz (spf): a macro transformer of many digits made std::stoul throw
// out of check_host(); it now keeps every label, as any count past 128 does.
TEST(SpfMacros, AHugeLabelCountKeepsEveryLabel) {
  ZoneResolver resolver(json::parse(R"({
    "example.test": [{"TXT": "v=spf1 exists:%{d99999999999999999999999999999999}.x.test -all"}],
    "example.test.x.test": [{"A": "127.0.0.2"}]
  })"));
  mailroom::spf::Request request;
  request.ip = "192.0.2.1";
  request.sender = "a@example.test";
  const auto check = mailroom::spf::check_host(request, resolver);
  EXPECT_EQ(mailroom::spf::to_string(check.result), "pass") << check.reason;
}

// Found by tests/fuzz (spf): includes that fan out (each name's record includes several
// names) made the counter's walk exponential; past the limit it stops following.
TEST(SpfLookupCount, StopsFollowingPastTheLimit) {
  json zone = json::object();
  std::string fan = "v=spf1";
  for (int i = 0; i < 8; ++i) fan += " include:n" + std::to_string(i) + ".test";
  for (int i = 0; i < 8; ++i) zone["n" + std::to_string(i) + ".test"] = json::array({{{"TXT", fan + " -all"}}});
  ZoneResolver resolver(zone);
  const auto count = mailroom::spf::count_lookups(fan + " -all", "example.test", resolver);
  EXPECT_TRUE(count.stopped_early);
  EXPECT_GT(count.lookups, mailroom::spf::kMaxLookups);
  EXPECT_LT(resolver.queries, 40) << "the walk kept following past the limit";
}

}  // namespace
