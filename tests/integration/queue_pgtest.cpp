// The queue against a real PostgreSQL and the fake_email plugin: every transition and its
// delivery log, retry timing, Retry-After, max_retries, permanent failures, the quota gate,
// idempotency, suppression and strict templates.
#include "crypto.hpp"
#include "db.hpp"
#include "harness.hpp"
#include "migrate.hpp"
#include "plugin_host.hpp"
#include "queue.hpp"

#include <filesystem>

namespace {

namespace fs = std::filesystem;
using mailroom::queue::EmailRequest;
using mailroom::queue::EnqueueError;
using nlohmann::json;

class Queue : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ostringstream progress;
    mailroom::migrate::Migrator(url_, mailroom::migrate::embedded_migrations(), progress).up();
    fs::create_directories(state_);
    host_.load(fs::path(MAILROOM_PLUGIN_DIR) / "fake_email.so");
    host_.load(fs::path(MAILROOM_PLUGIN_DIR) / "fake_quota_email.so");
    user_ = one("INSERT INTO users (email) VALUES ('ada@example.com') RETURNING id::text");
    config_ = make_config("fake_email");
  }
  void TearDown() override { fs::remove_all(state_); }

  std::string make_config(const std::string& provider) {
    mailroom::db::EmailConfiguration c;
    c.id = configs_.new_id();
    c.user_id = user_;
    c.provider = provider;
    c.from_address = "ada@example.com";
    c.settings = json{{"state_dir", state_.string()}, {"record_file", (state_ / "record").string()}};
    configs_.create(c, user_);
    return c.id;
  }
  std::string one(const std::string& sql) {
    pqxx::connection c(url_);
    pqxx::work tx(c);
    const auto r = tx.exec(sql);
    tx.commit();
    return r.empty() || r[0][0].is_null() ? "" : r[0][0].as<std::string>();
  }
  EmailRequest email(const std::string& subject, int max_retries = 5) {
    EmailRequest r;
    r.configuration_id = config_;
    r.to = "bob@example.com";
    r.subject = subject;
    r.text_body = "hello";
    r.max_retries = max_retries;
    return r;
  }
  std::string enqueue(const EmailRequest& r) { return mailroom::queue::enqueue(pool_, host_, {r}, user_).at(0).id; }
  std::size_t pass(bool stopping = false) {
    std::atomic<bool> stop{stopping};
    return mailroom::queue::process_batch(pool_, host_, box_, options_, stop, stats_);
  }
  std::string field(const std::string& id, const std::string& expr) {
    return one("SELECT (" + expr + ")::text FROM email_queue WHERE id = '" + id + "'");
  }
  // Seconds from now until the email's run_at.
  double due_in(const std::string& id) { return std::stod(field(id, "extract(epoch FROM run_at - now())")); }
  void make_due(const std::string& id) { one("UPDATE email_queue SET run_at = now() WHERE id = '" + id + "'"); }
  std::vector<std::string> log(const std::string& id) {
    std::vector<std::string> out;
    for (const auto& l : queue_.logs(id)) out.push_back(l.event_type + "/" + l.event_status + (l.error_code.empty() ? "" : "/" + l.error_code));
    return out;
  }

  std::string url_ = mailroom::testing::fresh_database();
  fs::path state_ = fs::temp_directory_path() / ("mr-queue-" + std::to_string(::getpid()));
  mailroom::db::Pool pool_{url_, 4};
  mailroom::db::EmailConfigurations configs_{pool_};
  mailroom::db::EmailQueue queue_{pool_};
  mailroom::plugin_host::PluginHost host_;
  mailroom::crypto::SecretBox box_{mailroom::crypto::KeyRing::parse(mailroom::crypto::generate_key_entry("k1"), "t")};
  mailroom::queue::WorkerOptions options_ = [] {
    mailroom::queue::WorkerOptions o;
    o.worker_id = "test-worker";
    o.max_in_flight = 1;
    o.lease_seconds = 60;
    o.poll_interval = std::chrono::milliseconds(100);
    o.shutdown_deadline = std::chrono::seconds(5);
    return o;
  }();
  mailroom::queue::WorkerStats stats_;
  std::string user_, config_;
};

TEST_F(Queue, WhatThePluginDoesNotDeclareIsRefusedAtEnqueueNotAtSendTime) {
  auto crowd = email("many");
  for (int i = 0; i < 100; ++i) crowd.cc.push_back("c" + std::to_string(i) + "@example.com");
  try {
    enqueue(crowd);
    FAIL() << "queued more recipients than fake_email declares";
  } catch (const EnqueueError& e) {
    EXPECT_STREQ(e.what(), "101 recipients (to, cc and bcc together), but plugin fake_email declares max_recipients 100");
  }
  // 8 MB of text that quoted-printable makes three times larger: over fake_email's 10 MiB.
  auto big = email("big");
  for (int i = 0; i < 4'000'000; ++i) big.text_body += "\xc3\xa9";
  try {
    enqueue(big);
    FAIL() << "queued a message larger than fake_email declares";
  } catch (const EnqueueError& e) {
    EXPECT_NE(std::string(e.what()).find("bytes, but plugin fake_email declares max_message_bytes 10485760"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(one("SELECT count(*)::text FROM email_queue"), "0") << "nothing is written for a refused email";
}

TEST_F(Queue, QueuedSendingSentWithTheirLogs) {
  const auto id = enqueue(email("Hello"));
  EXPECT_EQ(field(id, "status"), "queued");
  EXPECT_EQ(log(id), (std::vector<std::string>{"queued/enqueued"}));
  EXPECT_EQ(pass(), 1u);
  EXPECT_EQ(field(id, "status"), "sent");
  EXPECT_EQ(field(id, "message_id"), "fake-" + id);
  EXPECT_EQ(field(id, "sent_at IS NOT NULL"), "true");
  EXPECT_EQ(field(id, "locked_by IS NULL"), "true");
  EXPECT_EQ(log(id), (std::vector<std::string>{"queued/enqueued", "sending/claimed", "sent/accepted"}));
  EXPECT_EQ(one("SELECT provider FROM email_delivery_logs WHERE event_type = 'sent'"), "fake_email");
  EXPECT_EQ(pass(), 0u);
}

TEST_F(Queue, TransientFailuresBackOffThenExhaustMaxRetries) {
  const auto id = enqueue(email("[transient] x", 2));
  pass();
  EXPECT_EQ(field(id, "status"), "queued");
  EXPECT_EQ(field(id, "retry_count"), "1");
  EXPECT_EQ(field(id, "last_error_kind"), "transient");
  const double first = due_in(id);  // 1^4 s, +-10 %
  EXPECT_GT(first, 0.8);
  EXPECT_LT(first, 1.11);
  EXPECT_EQ(pass(), 0u) << "not due yet";
  make_due(id);
  pass();
  const double second = due_in(id);  // 2^4 = 16 s, +-10 %
  EXPECT_GT(second, 14.3);
  EXPECT_LT(second, 17.7);
  make_due(id);
  pass();
  EXPECT_EQ(field(id, "status"), "failed");
  EXPECT_EQ(field(id, "retry_count"), "3");
  EXPECT_EQ(log(id), (std::vector<std::string>{"queued/enqueued", "sending/claimed", "failed/retry_scheduled/451",
                                               "sending/claimed", "failed/retry_scheduled/451", "sending/claimed",
                                               "failed/retries_exhausted/451"}));
}

TEST_F(Queue, TransientOnceThenSent) {
  const auto id = enqueue(email("[transient-once] x"));
  pass();
  EXPECT_EQ(field(id, "status"), "queued");
  make_due(id);
  pass();
  EXPECT_EQ(field(id, "status"), "sent");
  EXPECT_EQ(field(id, "retry_count"), "1");
  EXPECT_EQ(field(id, "last_error IS NULL"), "true");
}

TEST_F(Queue, ProvidersRetryAfterWinsOverBackoff) {
  const auto id = enqueue(email("[rate-limit:42] x"));
  pass();
  EXPECT_EQ(field(id, "last_error_kind"), "rate_limited");
  const double wait = due_in(id);
  EXPECT_GT(wait, 41.0);
  EXPECT_LE(wait, 42.0);
  make_due(id);
  pass();
  EXPECT_EQ(field(id, "status"), "sent");
}

TEST_F(Queue, PermanentFailureIsNotRetried) {
  const auto id = enqueue(email("[permanent] x"));
  pass();
  EXPECT_EQ(field(id, "status"), "failed");
  EXPECT_EQ(field(id, "last_error"), "mailbox unavailable");
  EXPECT_EQ(field(id, "last_error_kind"), "invalid_request");
  EXPECT_EQ(log(id).back(), "failed/permanent/550");
}

TEST_F(Queue, QuotaErrorsRescheduleWithoutSpendingAnAttempt) {
  const auto id = enqueue(email("[quota] x", 0));
  pass();
  EXPECT_EQ(field(id, "status"), "queued");
  EXPECT_EQ(field(id, "retry_count"), "0");
  EXPECT_NEAR(due_in(id), 2.0, 0.6);
  EXPECT_EQ(log(id).back(), "queued/quota_deferred/dailyLimitExceeded");
  make_due(id);
  pass();
  EXPECT_EQ(field(id, "status"), "sent");
}

// The provider's own quota count (Google's rolling day) said no: the configuration rests with
// its claimed emails given back unsent and unspent, and the user's gate holds every later send,
// on every host, until the time the refusal named.
TEST_F(Queue, AProvidersQuotaRefusalLocksTheUserOutUntilTheTimeItNames) {
  config_ = make_config("fake_quota_email");
  auto first = email("[quota] refused by the provider", 0);
  first.priority = 0;  // sent first
  const auto refused = enqueue(first);
  const auto waiting = enqueue(email("waiting"));
  pass();
  EXPECT_EQ(field(refused, "status"), "queued");
  EXPECT_EQ(field(refused, "retry_count"), "0");
  EXPECT_EQ(field(waiting, "status"), "queued") << "sent while the provider said the quota was used up";
  EXPECT_EQ(field(waiting, "retry_count"), "0");
  EXPECT_EQ(log(waiting).back(), "queued/quota_deferred");
  EXPECT_NEAR(due_in(waiting), 2.0, 0.6) << "given back until the time the provider named";
  EXPECT_EQ(one("SELECT is_quota_exceeded::text FROM google_workspace_quota"), "true");
  EXPECT_NEAR(std::stod(one("SELECT extract(epoch FROM locked_until - now()) FROM google_workspace_quota")), 2.0, 0.6);
  // Due again but before the lock ends: the gate refuses without asking the provider.
  make_due(waiting);
  pass();
  EXPECT_EQ(field(waiting, "status"), "queued");
  EXPECT_EQ(log(waiting).back(), "queued/quota_deferred/quota_exceeded");
  // The lock ends: both go out.
  one("UPDATE google_workspace_quota SET locked_until = now() - interval '1 second'");
  make_due(refused);
  make_due(waiting);
  pass();
  pass();
  EXPECT_EQ(field(refused, "status"), "sent");
  EXPECT_EQ(field(waiting, "status"), "sent");
}

// Google's limits belong to a mailbox: each configuration counts its own sends against its own
// limits; a send the provider refused gives its count back in the transaction that records the
// refusal, and one that may have been sent (a transient failure) keeps it.
TEST_F(Queue, EachConfigurationCountsItsOwnSendsAndRefusedSendsGiveTheirCountBack) {
  config_ = make_config("fake_quota_email");
  const std::string trial = config_;
  one("UPDATE email_configurations SET daily_limit = 2 WHERE id = '" + trial + "'");
  const auto refused = enqueue(email("[permanent] refused"));
  pass();
  EXPECT_EQ(field(refused, "status"), "failed");
  EXPECT_EQ(one("SELECT count(*)::text FROM quota_sends"), "0") << "a refused send still counted";
  EXPECT_EQ(one("SELECT daily_quota_used::text FROM google_workspace_quota"), "0");
  auto flaky = email("[transient] maybe sent", 0);
  const auto maybe_sent = enqueue(flaky);
  pass();
  EXPECT_EQ(field(maybe_sent, "status"), "failed");
  EXPECT_EQ(one("SELECT count(*)::text FROM quota_sends"), "1") << "a transient failure may have been sent";
  const auto first = enqueue(email("first"));
  const auto over = enqueue(email("over the limit"));
  pass();
  EXPECT_EQ(field(first, "status"), "sent");
  EXPECT_EQ(field(over, "status"), "queued");

  // A second mailbox of the same user: its own count, its plugin's default limit.
  config_ = make_config("fake_quota_email");
  const auto other = enqueue(email("from the other mailbox"));
  pass();
  EXPECT_EQ(field(other, "status"), "sent");
  EXPECT_EQ(one("SELECT string_agg(daily_quota_limit || '/' || daily_quota_used, ' ' ORDER BY daily_quota_limit)"
                " FROM google_workspace_quota"),
            "2/2 2000/1");
}

// The quota windows follow the workers' clock, here fixed.
class FixedClock : public mailroom::Clock {
 public:
  explicit FixedClock(std::chrono::system_clock::time_point at) : at_(at) {}
  std::chrono::system_clock::time_point now() const override { return at_; }
  void set(std::chrono::system_clock::time_point at) { at_ = at; }

 private:
  std::chrono::system_clock::time_point at_;
};

// Google counts the daily limit over the last 24 hours: two sends at 23:30 still count at
// 00:30, where a calendar day would have let two more through.
TEST_F(Queue, TheDailyLimitCountsTheLast24HoursNotTheCalendarDay) {
  using namespace std::chrono;
  const auto midnight = sys_days(year(2030) / 6 / 16);
  FixedClock clock(midnight - minutes(30));
  options_.clock = &clock;
  config_ = make_config("fake_quota_email");
  one("UPDATE email_configurations SET daily_limit = 2 WHERE id = '" + config_ + "'");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(enqueue(email("m" + std::to_string(i))));
  pass();
  EXPECT_EQ(field(ids[0], "status"), "sent");
  EXPECT_EQ(field(ids[1], "status"), "sent");
  EXPECT_EQ(field(ids[2], "status"), "queued");
  EXPECT_EQ(field(ids[2], "retry_count"), "0");
  EXPECT_NEAR(due_in(ids[2]), 24 * 3600, 5) << "until the first of the day's sends is 24 hours old";
  EXPECT_EQ(one("SELECT is_quota_exceeded::text FROM google_workspace_quota"), "true");
  EXPECT_EQ(one("SELECT (daily_quota_reset_at = '2030-06-16T23:30:00Z')::text FROM google_workspace_quota"), "true");
  // Past midnight: still refused.
  clock.set(midnight + minutes(30));
  make_due(ids[2]);
  pass();
  EXPECT_EQ(field(ids[2], "status"), "queued");
  EXPECT_NEAR(due_in(ids[2]), 23 * 3600, 5);
  // 24 hours after the first two: room again, counted in the window that starts then.
  clock.set(midnight + hours(23) + minutes(31));
  make_due(ids[2]);
  pass();
  EXPECT_EQ(field(ids[2], "status"), "sent");
  EXPECT_EQ(one("SELECT daily_quota_used::text || ' ' || hourly_quota_used::text || ' ' || is_quota_exceeded::text"
                " FROM google_workspace_quota"),
            "1 1 false");
  EXPECT_EQ(one("SELECT count(*)::text FROM quota_sends"), "1") << "sends older than a day are forgotten";
}

TEST_F(Queue, TheHourlyLimitCountsTheLastHour) {
  using namespace std::chrono;
  const auto at = sys_days(year(2030) / 6 / 15) + hours(13) + minutes(5);
  FixedClock clock(at);
  options_.clock = &clock;
  config_ = make_config("fake_quota_email");
  one("UPDATE email_configurations SET hourly_limit = 1 WHERE id = '" + config_ + "'");
  const auto first = enqueue(email("first"));
  pass();
  EXPECT_EQ(field(first, "status"), "sent");
  EXPECT_EQ(one("SELECT (daily_quota_reset_at = '2030-06-16T13:05:00Z' AND hourly_quota_reset_at = '2030-06-15T14:05:00Z')::text"
                " FROM google_workspace_quota"),
            "true");
  clock.set(at + minutes(50));
  const auto second = enqueue(email("second"));
  pass();
  EXPECT_EQ(field(second, "status"), "queued");
  EXPECT_NEAR(due_in(second), 10 * 60, 5) << "until the first send is an hour old";
  clock.set(at + minutes(61));
  make_due(second);
  pass();
  EXPECT_EQ(field(second, "status"), "sent");
}

TEST_F(Queue, IdempotencyKeyReturnsTheFirstEmail) {
  auto r = email("once");
  r.idempotency_key = "order-42";
  const auto first = mailroom::queue::enqueue(pool_, host_, {r}, user_).at(0);
  const auto again = mailroom::queue::enqueue(pool_, host_, {r}, user_).at(0);
  EXPECT_FALSE(first.duplicate);
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(one("SELECT count(*)::text FROM email_queue"), "1");
  pass();
  EXPECT_EQ(mailroom::queue::enqueue(pool_, host_, {r}, user_).at(0).id, first.id) << "sent emails keep their key";
  // A failed email frees its key.
  one("UPDATE email_queue SET status = 'failed'");
  EXPECT_NE(mailroom::queue::enqueue(pool_, host_, {r}, user_).at(0).id, first.id);
}

TEST_F(Queue, SuppressedRecipientsAreDroppedWithAReason) {
  mailroom::db::Suppressions(pool_).add(user_, "Bob@Example.com", "hard_bounce");
  mailroom::db::Suppressions(pool_).add(user_, "carol@example.com", "complaint");
  const auto blocked = mailroom::queue::enqueue(pool_, host_, {email("x")}, user_).at(0);
  EXPECT_EQ(blocked.id, "");
  EXPECT_EQ(blocked.not_queued, "recipient bob@example.com is suppressed");
  auto r = email("y");
  r.to = "dave@example.com";
  r.cc = {"carol@example.com", "erin@example.com"};
  const auto kept = mailroom::queue::enqueue(pool_, host_, {r}, user_).at(0);
  EXPECT_EQ(kept.suppressed, (std::vector<std::string>{"carol@example.com"}));
  EXPECT_EQ(field(kept.id, "cc"), "{erin@example.com}");
}

TEST_F(Queue, StrictTemplatesAndBadInputWriteNothing) {
  EmailRequest t;
  t.configuration_id = config_;
  t.to = "bob@example.com";
  t.template_name = "password_reset";
  t.data = json{{"name", "Bob"}};
  try {
    mailroom::queue::enqueue(pool_, host_, {email("fine"), t}, user_);
    FAIL();
  } catch (const EnqueueError& e) {
    EXPECT_EQ(std::string(e.what()),
              "email 2: template 'password_reset': text_body: missing variables 'expires_in', 'reset_url'; "
              "html_body: missing variables 'expires_in', 'reset_url'");
  }
  auto bad = email("x");
  bad.to = "not-an-address";
  EXPECT_THROW(mailroom::queue::enqueue(pool_, host_, {email("fine"), bad}, user_), EnqueueError);
  EXPECT_EQ(one("SELECT count(*)::text FROM email_queue"), "0") << "one bad email writes none";
  t.data = json{{"name", "Bob"}, {"reset_url", "https://x.example/r?a=1&b=2"}, {"expires_in", "1 hour"}};
  const auto id = mailroom::queue::enqueue(pool_, host_, {t}, user_).at(0).id;
  EXPECT_EQ(field(id, "subject"), "Reset your password");
  EXPECT_NE(field(id, "html_body").find("https://x.example/r?a=1&amp;b=2"), std::string::npos);
  EXPECT_NE(field(id, "text_body").find("https://x.example/r?a=1&b=2"), std::string::npos);
}

TEST_F(Queue, AUsersTemplateWinsOverTheSystemOne) {
  mailroom::db::TemplateRow mine;
  mine.user_id = user_;
  mine.name = "welcome";
  mine.subject = "Hey {{name}}!";
  mine.text_body = "yo";
  mailroom::db::Templates(pool_).save(mine, user_);
  EmailRequest t;
  t.configuration_id = config_;
  t.to = "bob@example.com";
  t.template_name = "welcome";
  t.data = json{{"name", "Bob"}};
  EXPECT_EQ(field(mailroom::queue::enqueue(pool_, host_, {t}, user_).at(0).id, "subject"), "Hey Bob!");
}

TEST_F(Queue, LateCompletionNeverOverwritesARescue) {
  const auto id = enqueue(email("late"));
  const auto claimed = queue_.claim("worker-a", 10, 60);
  ASSERT_EQ(claimed.size(), 1u);
  one("UPDATE email_queue SET locked_until = now() - interval '1 second'");
  EXPECT_EQ(queue_.rescue(), 1u);
  EXPECT_EQ(field(id, "status"), "queued");
  EXPECT_EQ(queue_.claim("worker-b", 10, 60).size(), 1u);
  mailroom::db::Completion late{id, mailroom::db::EmailStatus::sent, "from-a", 0, 0, "", "", "", mailroom::db::LogEvent::sent, "accepted", "fake_email"};
  EXPECT_EQ(queue_.complete("worker-a", {late}), 0u);
  EXPECT_EQ(field(id, "locked_by"), "worker-b");
  EXPECT_EQ(field(id, "status"), "sending");
  EXPECT_NE(log(id)[2], "sent/accepted");
  EXPECT_EQ(log(id)[2], "queued/lease_expired");
}

TEST_F(Queue, StoppingReleasesClaimedEmailsUnsent) {
  const auto id = enqueue(email("later"));
  EXPECT_EQ(pass(/*stopping=*/true), 1u);
  EXPECT_EQ(field(id, "status"), "queued");
  EXPECT_EQ(field(id, "retry_count"), "0");
  EXPECT_EQ(log(id).back(), "queued/released");
  EXPECT_FALSE(fs::exists(state_ / "record"));
}

TEST_F(Queue, CancelAndRetry) {
  const auto id = enqueue(email("x"));
  EXPECT_TRUE(queue_.cancel(id, user_));
  EXPECT_EQ(field(id, "status"), "failed");
  EXPECT_EQ(field(id, "last_error"), "cancelled");
  EXPECT_FALSE(queue_.cancel(id, user_));
  EXPECT_TRUE(queue_.retry(id, user_));
  EXPECT_EQ(field(id, "status"), "queued");
  pass();
  EXPECT_EQ(field(id, "status"), "sent");
  EXPECT_FALSE(queue_.retry(id, user_)) << "only failed emails";
}

TEST_F(Queue, ClaimTakesDueEmailsByPriorityAndNoMoreThanAsked) {
  auto low = email("low");
  low.priority = 500;
  auto high = email("high");
  high.priority = 1;
  auto later = email("later");
  later.send_at = "2999-01-01T00:00:00Z";
  const auto low_id = enqueue(low), high_id = enqueue(high);
  enqueue(later);
  const auto first = queue_.claim("w", 1, 60);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].id, high_id);
  const auto rest = queue_.claim("w", 10, 60);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].id, low_id);
}

}  // namespace
