// Delivery at provider latency: the window of sends in flight per configuration, pacing to
// requests_per_second, a rate limit resting one configuration only, leases that cover sends
// rather than batches, and outcomes written as each send completes. fake_email counts the
// sends of one configuration running at once and stamps each accepted email (drain.hpp).
#include "drain.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <thread>

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using mailroom::queue::EmailRequest;

class Delivery : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ostringstream progress;
    mailroom::migrate::Migrator(url_, mailroom::migrate::embedded_migrations(), progress).up();
    fs::create_directories(dir_);
    host_.load(fs::path(MAILROOM_PLUGIN_DIR) / "fake_email.so");
    host_.load(fs::path(MAILROOM_PLUGIN_DIR) / "fake_paced_email.so");
    user_ = mailroom::db::Users(pool_).create("ada@example.com", "", false).id;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A configuration whose accepted emails are recorded in DIR/<name>.
  std::string configuration(const std::string& plugin, const std::string& name, int delay_ms) {
    mailroom::db::EmailConfiguration c;
    c.id = configs_.new_id();
    c.user_id = user_;
    c.provider = plugin;
    c.from_address = "ada@example.com";
    c.settings = {{"record_file", (dir_ / name).string()}, {"state_dir", dir_.string()}, {"delay_ms", delay_ms}};
    configs_.create(c, user_);
    return c.id;
  }

  std::vector<std::string> enqueue(const std::string& configuration, int count, const std::string& subject = "hello") {
    std::vector<EmailRequest> requests(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
      requests[i].configuration_id = configuration;
      requests[i].to = "r" + std::to_string(i) + "@example.com";
      requests[i].subject = subject;
      requests[i].text_body = "body";
    }
    std::vector<std::string> ids;
    for (const auto& r : mailroom::queue::enqueue(pool_, host_, requests, user_)) ids.push_back(r.id);
    return ids;
  }

  mailroom::queue::WorkerOptions options(const std::string& worker) {
    mailroom::queue::WorkerOptions o;
    o.worker_id = worker;
    o.poll_interval = 100ms;
    o.shutdown_deadline = 10s;
    o.until_empty = true;
    return o;
  }

  // Runs a host's sending until the queue is empty; returns how long it took.
  std::chrono::duration<double> drain(const mailroom::queue::WorkerOptions& o) {
    std::atomic<bool> stop{false};
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(mailroom::queue::run_workers(pool_, host_, box_, o, stop, stats_));
    return std::chrono::steady_clock::now() - start;
  }

  std::string status(const std::string& id) { return queue_.find(id)->status; }
  std::vector<mailroom::testing::Handed> records(const std::string& name) {
    return mailroom::testing::records(dir_ / name);
  }
  static int most_in_flight(const std::vector<mailroom::testing::Handed>& handed) {
    int most = 0;
    for (const auto& h : handed) most = std::max(most, h.in_flight);
    return most;
  }

  std::string url_ = mailroom::testing::fresh_database();
  fs::path dir_ = fs::temp_directory_path() / ("mr-delivery-" + std::to_string(::getpid()));
  mailroom::db::Pool pool_{url_, 6};
  mailroom::db::EmailConfigurations configs_{pool_};
  mailroom::db::EmailQueue queue_{pool_};
  mailroom::plugin_host::PluginHost host_;
  mailroom::crypto::SecretBox box_{mailroom::crypto::KeyRing::parse(mailroom::crypto::generate_key_entry("k1"), "t")};
  mailroom::queue::WorkerStats stats_;
  std::string user_;
};

TEST_F(Delivery, TheWindowIsFilledAndNeverExceeded) {
  // N emails of 50 ms each through a new fake_email configuration (it declares
  // sends_in_flight 8): the most sends of it ever in flight at once.
  auto most_in_flight_of = [&](const std::string& name, int count, const mailroom::queue::WorkerOptions& o,
                               std::optional<int> own_window = std::nullopt) {
    const auto id = configuration("fake_email", name, 50);
    auto row = *configs_.find(id);
    row.send_window = own_window;
    configs_.update(row, user_);
    enqueue(id, count);
    drain(o);
    EXPECT_EQ(records(name).size(), static_cast<std::size_t>(count)) << name;
    return most_in_flight(records(name));
  };
  EXPECT_EQ(most_in_flight_of("declared", 80, options("host-a")), 8);
  auto o = options("host-b");
  o.window = 3;  // workers.window overrides the plugin's
  EXPECT_EQ(most_in_flight_of("overridden", 60, o), 3);
  // A configuration's own window wins over the host's.
  EXPECT_EQ(most_in_flight_of("own", 40, o, 5), 5);
  // workers.count caps the host's sends in flight over every configuration.
  o = options("host-c");
  o.max_in_flight = 2;
  EXPECT_EQ(most_in_flight_of("capped", 30, o), 2);
}

TEST_F(Delivery, PacingHoldsTheDeclaredRateAcrossTheWindow) {
  // fake_paced_email declares 20 requests/s; 8 senders at once would go far faster.
  const auto paced = configuration("fake_paced_email", "paced", 0);
  enqueue(paced, 201);
  auto o = options("host-a");
  o.window = 8;
  drain(o);
  const auto handed = records("paced");
  ASSERT_EQ(handed.size(), 201u);
  std::vector<long long> at;
  for (const auto& h : handed) at.push_back(h.micros);
  std::sort(at.begin(), at.end());
  const double seconds = static_cast<double>(at.back() - at.front()) / 1e6;
  const double rate = 200 / seconds;
  std::cout << "[ REPORT   ] 201 sends at a declared 20/s with 8 in flight: " << seconds << " s, " << rate << "/s\n";
  EXPECT_NEAR(rate, 20.0, 2.0);
  EXPECT_GE(seconds, 9.0);
}

TEST_F(Delivery, AConfigurationsOwnPaceWinsOverThePlugins) {
  // fake_paced_email declares 20/s; this configuration asks for 5/s.
  const auto slow = configuration("fake_paced_email", "slow", 0);
  {
    auto row = *configs_.find(slow);
    row.requests_per_second = 5;
    configs_.update(row, user_);
  }
  enqueue(slow, 11);
  drain(options("host-a"));
  const auto handed = records("slow");
  ASSERT_EQ(handed.size(), 11u);
  long long first = handed.front().micros, last = handed.front().micros;
  for (const auto& h : handed) first = std::min(first, h.micros), last = std::max(last, h.micros);
  EXPECT_NEAR(static_cast<double>(last - first) / 1e6, 2.0, 0.2) << "10 intervals at 5/s";
}

TEST_F(Delivery, ARateLimitRestsThatConfigurationOnly) {
  // Every email of `limited` is refused once with Retry-After 5 s; `other` goes on meanwhile.
  const auto limited = configuration("fake_email", "limited", 20);
  const auto other = configuration("fake_email", "other", 20);
  const auto limited_ids = enqueue(limited, 20, "[rate-limit:5]");
  const auto other_ids = enqueue(other, 100);
  const auto start_micros = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count();
  drain(options("host-a"));

  const auto others = records("other");
  ASSERT_EQ(others.size(), 100u);
  long long last_other = 0;
  for (const auto& h : others) last_other = std::max(last_other, h.micros);
  // 100 sends of 20 ms, 8 at a time: about 0.25 s of work, done long before the 5 s rest ends.
  EXPECT_LT(static_cast<double>(last_other - start_micros) / 1e6, 4.0);

  ASSERT_EQ(records("limited").size(), 20u);
  long long first_limited = records("limited").front().micros;
  for (const auto& h : records("limited")) first_limited = std::min(first_limited, h.micros);
  EXPECT_GE(static_cast<double>(first_limited - start_micros) / 1e6, 4.5) << "the rest ended early";
  int rested = 0, spent = 0;
  for (const auto& id : limited_ids) {
    EXPECT_EQ(status(id), "sent");
    for (const auto& l : queue_.logs(id)) {
      rested += l.event_status == "rate_limited";
      spent += l.event_status == "retry_scheduled";
    }
  }
  // fake_email refuses each email's first send: that send spends an attempt; the emails
  // still waiting when the configuration began to rest went back unsent, spending none.
  EXPECT_EQ(spent, 20);
  EXPECT_GE(rested, 12);
  for (const auto& id : limited_ids) EXPECT_EQ(queue_.find(id)->retry_count, 1) << id;
  for (const auto& id : other_ids) EXPECT_EQ(status(id), "sent");
}

TEST_F(Delivery, ASlowRelayUnderAShortLeaseSendsEachEmailOnce) {
  // The case: 1 s a message, a 10 s lease, 30 emails in one batch, one at a time,
  // while a second host looks for expired leases to rescue.
  const auto slow = configuration("fake_email", "slow", 1000);
  const auto ids = enqueue(slow, 30);
  auto a = options("host-a");
  a.window = 1;
  a.batch_size = 30;
  a.lease_seconds = 10;
  auto b = options("host-b");
  b.window = 1;
  b.batch_size = 30;
  b.lease_seconds = 10;
  std::thread other([&] { drain(b); });
  drain(a);
  other.join();
  const auto handed = mailroom::testing::handed({url_, dir_ / "slow"});
  EXPECT_EQ(handed.size(), 30u);
  for (const auto& [id, n] : handed) EXPECT_EQ(n, 1) << id << " was sent " << n << " times";
  for (const auto& id : ids) {
    EXPECT_EQ(status(id), "sent");
    for (const auto& l : queue_.logs(id)) EXPECT_NE(l.event_status, "lease_expired") << id;
  }
  EXPECT_EQ(stats_.rescued.load(), 0);
}

TEST_F(Delivery, OutcomesAreWrittenAsSendsCompleteNotWhenTheBatchIs) {
  // Three sends that each take 2 s, one at a time: the first outcome is in the database
  // while the others are still being sent.
  const auto slow = configuration("fake_email", "slow", 0);
  const auto ids = enqueue(slow, 3, "[hang:2000]");
  auto o = options("host-a");
  o.window = 1;
  std::thread host([&] { drain(o); });
  const auto start = std::chrono::steady_clock::now();
  std::string first_done;
  double seen_after = 0;
  while (first_done.empty() && std::chrono::steady_clock::now() - start < 20s) {
    for (const auto& id : ids)
      if (status(id) == "sent") first_done = id;
    seen_after = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::this_thread::sleep_for(20ms);
  }
  int still_sending = 0;
  for (const auto& id : ids) still_sending += status(id) == "sending";
  host.join();
  EXPECT_FALSE(first_done.empty());
  EXPECT_LT(seen_after, 4.0) << "the first outcome waited for the batch";
  EXPECT_EQ(still_sending, 2);
  for (const auto& id : ids) EXPECT_EQ(status(id), "sent");
}

}  // namespace
