// The host's sending: one claimer, a window of concurrent sends per configuration, one
// outcome writer, and a maintenance thread (LISTEN, lease heartbeat, rescue).
//
//   claim (batch) -> lane of its configuration (pending) -> sender threads (<= window per
//   lane, <= max_in_flight per host) -> outbox -> one statement per flush (<= flush_interval)
//
// Plugins are synchronous (send() blocks until the provider answers), so a send in flight is
// a thread with a provider object of its own: a configuration's providers are pooled and
// reused (an SMTP connection, an HTTP keep-alive connection each), and no thread holds a
// database connection while it sends. Threads rather than curl multi or HTTP/2 in the
// plugins: the SDK's interface stays one call per email for every plugin, and at the
// provider latencies that matter (20-300 ms) a thread per in-flight send costs nothing
// measurable next to the wait (bench/provider_latency).
#include "queue.hpp"

#include "metrics.hpp"
#include "outgoing.hpp"
#include "providers.hpp"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace mailroom::queue {
namespace {

using SteadyClock = std::chrono::steady_clock;

// A sender thread with nothing to do for this long ends (its idle providers stay pooled).
constexpr auto kIdleSender = std::chrono::seconds(10);
// How often a lane re-reads its configuration (a change rebuilds its providers).
constexpr auto kRecheck = std::chrono::seconds(1);
// How long a configuration rests after a rate_limited refusal that names no Retry-After.
constexpr auto kDefaultRateLimitPause = std::chrono::seconds(1);
// ... and after a quota refusal that names no time.
constexpr auto kDefaultQuotaPause = std::chrono::seconds(3600);

// Wakes the claimer: a LISTEN connection turns NOTIFYs into a condition variable; the
// timeout of every wait is the poll interval, so a lost NOTIFY costs latency only.
class Wakeup {
 public:
  void notify() {
    {
      std::lock_guard lock(mutex_);
      ++generation_;
    }
    cv_.notify_all();
  }
  void wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    const auto seen = generation_;
    cv_.wait_for(lock, timeout, [&] { return generation_ != seen; });
  }
  unsigned long generation() {
    std::lock_guard lock(mutex_);
    return generation_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  unsigned long generation_ = 0;
};

class Listener final : public pqxx::notification_receiver {
 public:
  Listener(pqxx::connection& connection, Wakeup& wakeup)
      : pqxx::notification_receiver(connection, "mailroom_email_queue"), wakeup_(wakeup) {}
  void operator()(const std::string&, int) override { wakeup_.notify(); }

 private:
  Wakeup& wakeup_;
};

// One configuration's sends on this host.
struct Lane {
  std::deque<db::ClaimedEmail> pending;  // claimed, not yet handed to a sender
  std::size_t in_flight = 0;
  std::size_t window = kDefaultWindow;
  SteadyClock::time_point paused_until{};  // after a rate_limited refusal

  // What sending needs, re-read at most once per kRecheck; a change starts a new generation.
  std::shared_ptr<const db::EmailConfiguration> row;
  std::optional<ErrorInfo> unusable;  // set: every email of this lane gets this outcome
  std::string provider_name;
  std::optional<db::QuotaLimits> quota;  // set: the quota gate applies, with these limits
  std::uint64_t generation = 0;
  SteadyClock::time_point checked{};
  std::vector<std::pair<std::uint64_t, std::shared_ptr<EmailProvider>>> idle;  // (generation, provider)

  bool ready(SteadyClock::time_point now) const {
    return !pending.empty() && in_flight < window && now >= paused_until;
  }
};

db::Completion outcome_of_error(const db::ClaimedEmail& e, const ErrorInfo& error, const std::string& provider,
                                std::mt19937_64& rng, WorkerStats& stats) {
  db::Completion c;
  c.id = e.id;
  c.provider = provider;
  c.error_kind = std::string(to_string(error.kind));
  c.error_code = error.code;
  c.error_message = error.message;
  if (error.kind == ErrorKind::quota) {
    // Quota is not the email's fault: wait for the reset, spend no attempt.
    c.status = db::EmailStatus::queued;
    c.delay_seconds = static_cast<double>(error.retry_after.value_or(kDefaultQuotaPause).count());
    c.event_type = db::LogEvent::queued;
    c.event_status = "quota_deferred";
    ++stats.deferred;
    return c;
  }
  const bool retryable = error.kind == ErrorKind::transient || error.kind == ErrorKind::rate_limited;
  c.retry_increment = 1;
  c.event_type = db::LogEvent::failed;
  if (retryable && e.retry_count < e.max_retries) {
    c.status = db::EmailStatus::queued;
    c.delay_seconds = error.retry_after ? static_cast<double>(error.retry_after->count())
                                        : backoff_seconds(e.retry_count + 1, rng);
    c.event_status = "retry_scheduled";
    ++stats.retried;
    return c;
  }
  c.status = db::EmailStatus::failed;
  c.event_status = retryable ? "retries_exhausted" : "permanent";
  ++stats.failed;
  return c;
}

// Back to the queue unsent, no attempt spent (stopping, or its configuration is resting).
db::Completion handed_back(const db::ClaimedEmail& email, const char* why, double delay_seconds) {
  db::Completion c;
  c.id = email.id;
  c.status = db::EmailStatus::queued;
  c.delay_seconds = delay_seconds;
  c.event_type = db::LogEvent::queued;
  c.event_status = why;
  return c;
}

OutgoingEmail to_outgoing_email(const db::ClaimedEmail& e, const crypto::SecretBox& box, const std::string& public_url) {
  OutgoingEmail out = to_outgoing(e);
  out.id = e.id;
  if (e.extras.list_unsubscribe) {
    if (public_url.empty())
      throw ProviderError(ErrorKind::permanent, "no_public_url",
                          "the email asks for one-click List-Unsubscribe, but this host has no api.public_url "
                          "(MAILROOM_API_PUBLIC_URL) to put in it");
    for (auto& header : list_unsubscribe_headers(public_url, unsubscribe_token(box, e.id), e.extras.unsubscribe_mailto))
      out.message.extra_headers.push_back(std::move(header));
  }
  // The same on every attempt, so a resend after a crash is recognisable as the same message.
  const auto at = e.from_address.rfind('@');
  out.message.message_id =
      "<" + e.id + "@" + (at == std::string::npos ? std::string("mailroom.invalid") : e.from_address.substr(at + 1)) + ">";
  return out;
}

long elapsed_ms(SteadyClock::time_point since) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - since).count());
}

class Dispatcher : public std::enable_shared_from_this<Dispatcher> {
 public:
  Dispatcher(db::Pool& pool, const plugin_host::PluginHost& host, const crypto::SecretBox& box,
             const WorkerOptions& options, std::atomic<bool>& stop, WorkerStats& stats, Wakeup& wakeup)
      : pool_(pool), host_(host), box_(box), options_(options), stop_(stop), stats_(stats), wakeup_(wakeup),
        queue_(pool), configurations_(pool) {}

  void start_writer() {
    writer_ = std::thread([self = shared_from_this()] { self->write_outcomes(); });
  }

  // Claims while the host has room, until stopped (or drained, with until_empty).
  void claim_loop() {
    while (!stop_) {
      std::vector<std::string> skip;
      std::size_t room = 0;
      {
        std::unique_lock lock(mutex_);
        spawn_senders();  // e.g. a lane whose rest ended after its threads went idle
        room = capacity() - std::min(capacity(), held_);
        if (room == 0 || (room < options_.batch_size / 2 && held_ > 0)) {
          settled_.wait_for(lock, options_.poll_interval);
          continue;
        }
        skip = backed_up();
      }
      std::vector<db::ClaimedEmail> batch;
      try {
        batch = claim(std::min(room, options_.batch_size), skip);
      } catch (const std::exception& e) {
        spdlog::error("claim failed: {}", e.what());
      }
      if (!batch.empty()) {
        route(std::move(batch));
        continue;
      }
      if (options_.until_empty) {
        // Done once the last outcomes are written and nothing else is queued anywhere.
        std::unique_lock lock(mutex_);
        settled_.wait_for(lock, options_.poll_interval, [&] { return held_ == 0; });
        const bool settled = held_ == 0;
        lock.unlock();
        if (settled && drained()) {
          stop_ = true;
          break;
        }
      }
      if (skip.empty()) {
        wakeup_.wait(options_.poll_interval);
      } else {
        wait_for_room(skip.size());
      }
    }
  }

  // Claims one batch and hands it to the senders, or back to the queue when stopping.
  std::size_t claim_once() {
    auto batch = claim(options_.batch_size, {});
    const auto n = batch.size();
    if (stop_) {
      std::lock_guard lock(mutex_);
      held_ += n;
      for (const auto& email : batch) release(email);
    } else {
      route(std::move(batch));
    }
    return n;
  }

  // Stops handing out work: what no sender has started goes back to the queue.
  void release_pending() {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& [id, lane] : lanes_) {
      for (const auto& email : lane->pending) release(email);
      lane->pending.clear();
    }
    work_.notify_all();
  }

  // Waits until every claimed email's outcome is written (or the deadline, if any, passes).
  bool wait_settled(std::optional<SteadyClock::time_point> deadline) {
    std::unique_lock lock(mutex_);
    if (!deadline) {
      settled_.wait(lock, [&] { return held_ == 0; });
      return true;
    }
    return settled_.wait_until(lock, *deadline, [&] { return held_ == 0; });
  }

  // Ends the writer after it wrote what it has; sends still running then are left to their lease.
  void finish() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      writer_done_ = true;
    }
    work_.notify_all();
    outbox_cv_.notify_all();
    if (writer_.joinable()) writer_.join();
  }

  // Once the senders have ended (within `deadline`), destroys the pooled providers here,
  // so that no plugin code runs on a sender thread after the host moved on. Senders still
  // sending at the deadline keep theirs.
  void retire(SteadyClock::time_point deadline) {
    std::unique_lock lock(mutex_);
    if (!settled_.wait_until(lock, deadline, [&] { return senders_ == 0; })) return;
    auto lanes = std::move(lanes_);
    lanes_.clear();
    lock.unlock();
    lanes.clear();
  }

  std::size_t held() {
    std::lock_guard lock(mutex_);
    return held_;
  }

 private:
  // Claimed emails the host holds at most: its sends in flight, a batch of outcomes being
  // written and the next batch waiting, so that claiming, sending and writing overlap.
  std::size_t capacity() const { return options_.max_in_flight + 2 * options_.batch_size; }

  // Emails of one configuration waiting for a slot, beyond which claims skip it: a batch (so
  // a fast provider never waits for a claim), or its window when that is larger.
  std::size_t backlog_limit(const Lane& lane) const { return std::max(lane.window, options_.batch_size); }

  std::vector<db::ClaimedEmail> claim(std::size_t limit, const std::vector<std::string>& skip) {
    const auto t0 = SteadyClock::now();
    auto batch = queue_.claim(options_.worker_id, limit, options_.lease_seconds, skip);
    if (!batch.empty())
      spdlog::debug("{}: claimed {} email(s) in {} ms", options_.worker_id, batch.size(), elapsed_ms(t0));
    return batch;
  }

  // Nothing else was due, but configurations were skipped as backed up: claims again as soon
  // as one of them has room (its senders say so), a NOTIFY arrives, or a poll interval passes.
  void wait_for_room(std::size_t skipped) {
    const auto seen = wakeup_.generation();
    const auto until = SteadyClock::now() + options_.poll_interval;
    std::unique_lock lock(mutex_);
    while (!stop_ && SteadyClock::now() < until && wakeup_.generation() == seen && backed_up().size() >= skipped)
      settled_.wait_for(lock, std::chrono::milliseconds(20));
  }

  // Configurations with a full backlog, or that rest after a rate limit: the next claim
  // leaves their emails to other hosts and to later.
  std::vector<std::string> backed_up() {
    std::vector<std::string> out;
    const auto now = SteadyClock::now();
    for (const auto& [id, lane] : lanes_)
      if (!id.empty() && (lane->pending.size() >= backlog_limit(*lane) || now < lane->paused_until)) out.push_back(id);
    return out;
  }

  bool drained() {
    try {
      return !queue_.has_unfinished();
    } catch (const std::exception& e) {
      spdlog::error("counting the queue failed: {}", e.what());
      return false;
    }
  }

  // Puts each email in its configuration's lane (reading the configuration first when the
  // last look is older than kRecheck), then starts the senders the work needs.
  void route(std::vector<db::ClaimedEmail> batch) {
    std::map<std::string, std::optional<db::EmailConfiguration>> fresh;
    std::map<std::string, std::string> read_errors;
    {
      std::lock_guard lock(mutex_);
      const auto now = SteadyClock::now();
      for (const auto& email : batch) {
        auto it = lanes_.find(email.configuration_id);
        if (!email.configuration_id.empty() && (it == lanes_.end() || now - it->second->checked > kRecheck))
          fresh.emplace(email.configuration_id, std::nullopt);
      }
    }
    for (auto& [id, row] : fresh) {
      try {
        row = configurations_.find(id);
      } catch (const std::exception& e) {
        read_errors[id] = e.what();
      }
    }
    std::lock_guard lock(mutex_);
    held_ += batch.size();
    for (auto& [id, row] : fresh) {
      auto& lane = lane_of(id);
      if (auto error = read_errors.find(id); error != read_errors.end()) {
        if (!lane.row) lane.unusable = ErrorInfo{ErrorKind::transient, "host_error", error->second, std::nullopt};
        continue;
      }
      update(lane, row);
    }
    for (auto& email : batch) lane_of(email.configuration_id).pending.push_back(std::move(email));
    spawn_senders();
    work_.notify_all();
  }

  Lane& lane_of(const std::string& configuration_id) {
    auto& lane = lanes_[configuration_id];
    if (!lane) {
      lane = std::make_unique<Lane>();
      if (configuration_id.empty())
        lane->unusable = ErrorInfo{ErrorKind::permanent, "no_configuration", "the email names no configuration", std::nullopt};
    }
    return *lane;
  }

  void update(Lane& lane, const std::optional<db::EmailConfiguration>& row) {
    lane.checked = SteadyClock::now();
    if (!row) {
      lane.unusable = ErrorInfo{ErrorKind::permanent, "no_configuration", "the email configuration was removed", std::nullopt};
      lane.row.reset();
      return;
    }
    if (lane.row && lane.row->updated_at == row->updated_at && !lane.unusable) return;
    ++lane.generation;
    lane.idle.clear();
    lane.row = std::make_shared<const db::EmailConfiguration>(*row);
    lane.provider_name = row->provider;
    lane.unusable.reset();
    if (!row->is_active) {
      lane.unusable = ErrorInfo{ErrorKind::permanent, "inactive", "the email configuration is inactive", std::nullopt};
      return;
    }
    try {
      const auto& plugin = providers::loaded_plugin(host_, row->plugin_name(), plugin_host::PluginKind::email);
      const auto& caps = std::get<EmailCapabilities>(plugin.manifest.parsed_capabilities);
      lane.quota = providers::quota_limits(*row, plugin.manifest);
      // The configuration's own window, else the host's (workers.window), else the plugin's.
      lane.window = row->send_window            ? static_cast<std::size_t>(*row->send_window)
                    : options_.window > 0        ? options_.window
                    : caps.sends_in_flight > 0 ? caps.sends_in_flight
                                                : kDefaultWindow;
    } catch (const ProviderError& e) {
      lane.unusable = e.info();
    }
  }

  // Enough sender threads for the work that can start now, within max_in_flight.
  void spawn_senders() {
    if (stopping_) return;
    const auto now = SteadyClock::now();
    std::size_t startable = 0;
    for (const auto& [id, lane] : lanes_)
      if (now >= lane->paused_until)
        startable += std::min(lane->pending.size(), lane->window - std::min(lane->window, lane->in_flight));
    while (senders_ < options_.max_in_flight && senders_ - busy_ < startable) {
      ++senders_;
      std::thread([self = shared_from_this()] { self->send_loop(); }).detach();
    }
  }

  // Lanes in turn, so one configuration's backlog does not starve another's.
  Lane* next_ready(SteadyClock::time_point now) {
    if (lanes_.empty()) return nullptr;
    auto it = lanes_.upper_bound(last_served_);
    for (std::size_t i = 0; i < lanes_.size(); ++i, ++it) {
      if (it == lanes_.end()) it = lanes_.begin();
      if (it->second->ready(now)) {
        last_served_ = it->first;
        return it->second.get();
      }
    }
    return nullptr;
  }

  std::optional<SteadyClock::time_point> earliest_rest_end(SteadyClock::time_point now) const {
    std::optional<SteadyClock::time_point> out;
    for (const auto& [id, lane] : lanes_)
      if (!lane->pending.empty() && lane->paused_until > now && (!out || lane->paused_until < *out))
        out = lane->paused_until;
    return out;
  }

  void send_loop() {
    std::unique_lock lock(mutex_);
    auto idle_since = SteadyClock::now();
    while (true) {
      const auto now = SteadyClock::now();
      Lane* lane = stopping_ ? nullptr : next_ready(now);
      if (lane == nullptr) {
        if (stopping_ || now - idle_since >= kIdleSender) break;
        auto until = idle_since + kIdleSender;
        if (const auto rest_end = earliest_rest_end(now); rest_end && *rest_end < until) until = *rest_end;
        work_.wait_until(lock, until);
        continue;
      }
      db::ClaimedEmail email = std::move(lane->pending.front());
      lane->pending.pop_front();
      if (lane->pending.size() + 1 == backlog_limit(*lane)) settled_.notify_all();  // room again: claim for it
      ++lane->in_flight;
      ++busy_;
      std::shared_ptr<EmailProvider> provider;
      while (!lane->idle.empty() && !provider) {
        auto [generation, pooled] = std::move(lane->idle.back());
        lane->idle.pop_back();
        if (generation == lane->generation) provider = std::move(pooled);
      }
      const auto generation = lane->generation;
      const auto row = lane->row;
      const auto unusable = lane->unusable;
      const auto provider_name = lane->provider_name;
      const auto quota = lane->quota;
      lock.unlock();

      std::optional<ErrorInfo> refusal;
      const auto started = SteadyClock::now();
      const auto completion = unusable ? outcome_of_error(email, *unusable, provider_name, rng(), stats_)
                                       : send(email, row, provider, provider_name, quota, refusal);
      count(completion, provider_name, started);

      lock.lock();
      --lane->in_flight;
      --busy_;
      if (provider && generation == lane->generation) lane->idle.emplace_back(generation, std::move(provider));
      if (refusal && refusal->kind == ErrorKind::rate_limited) rest(*lane, refusal->retry_after, kDefaultRateLimitPause, "rate_limited");
      if (refusal && refusal->kind == ErrorKind::quota) rest(*lane, refusal->retry_after, kDefaultQuotaPause, "quota_deferred");
      outbox_.push_back(completion);
      outbox_cv_.notify_one();
      idle_since = SteadyClock::now();
    }
    --senders_;
    settled_.notify_all();
  }

  // A rate-limited configuration, or one whose quota is used up, rests on this host for the
  // time the refusal names (or `fallback`); its claimed emails go back to the queue until then
  // as `why`, and no attempt is spent. Other configurations go on.
  void rest(Lane& lane, std::optional<std::chrono::seconds> retry_after, std::chrono::seconds fallback, const char* why) {
    const auto pause = std::chrono::duration_cast<SteadyClock::duration>(retry_after.value_or(fallback));
    lane.paused_until = std::max(lane.paused_until, SteadyClock::now() + pause);
    const double delay = std::chrono::duration<double>(pause).count();
    for (const auto& email : lane.pending) give_back(email, why, delay);
    lane.pending.clear();
  }

  void give_back(const db::ClaimedEmail& email, const char* why, double delay_seconds) {
    outbox_.push_back(handed_back(email, why, delay_seconds));
    outbox_cv_.notify_one();
  }

  // Claimed but not started when stopping.
  void release(const db::ClaimedEmail& email) {
    ++stats_.released;
    give_back(email, "released", 0);
  }

  std::mt19937_64& rng() {
    thread_local std::mt19937_64 generator(std::random_device{}());
    return generator;
  }

  db::Completion send(const db::ClaimedEmail& email, const std::shared_ptr<const db::EmailConfiguration>& row,
                      std::shared_ptr<EmailProvider>& provider, const std::string& provider_name,
                      const std::optional<db::QuotaLimits>& quota, std::optional<ErrorInfo>& refusal) {
    db::Completion c;
    const auto now = (options_.clock ? *options_.clock : system_clock()).now();
    bool counted = false, handed_over = false;
    try {
      if (!provider) provider = providers::make_email_provider(*row, host_, box_, &pool_);
      if (quota) {
        // The gate's own refusal reschedules this email to the reset; the configuration does
        // not rest (a raised limit or a cleared lock takes effect at the next claim).
        const auto decision = db::take_quota(pool_, row->id, email.user_id, *quota, email.id, now);
        if (!decision.allowed)
          return outcome_of_error(email,
                                  ErrorInfo{ErrorKind::quota, "quota_exceeded",
                                            "the daily or hourly sending quota (the plugin's quota model) is used up",
                                            std::chrono::seconds(static_cast<long>(decision.retry_in_seconds))},
                                  provider_name, rng(), stats_);
        counted = true;
      }
      auto outgoing = to_outgoing_email(email, box_, options_.public_url);
      handed_over = true;
      const auto receipt = provider->send(outgoing);
      c.id = email.id;
      c.status = db::EmailStatus::sent;
      c.message_id = receipt.provider_message_id;
      c.event_type = db::LogEvent::sent;
      c.event_status = "accepted";
      c.provider = provider_name;
      ++stats_.sent;
    } catch (const ProviderError& e) {
      refusal = e.info();
      // The provider's own count says the quota is used up: every host's gate holds the
      // configuration's sends until the time it names, instead of each asking the provider again.
      if (quota && e.kind() == ErrorKind::quota)
        db::lock_out_quota(pool_, row->id, email.user_id, now, now + e.info().retry_after.value_or(kDefaultQuotaPause));
      c = outcome_of_error(email, *refusal, provider_name, rng(), stats_);
      // Refused, so not sent: the count goes back. A transient failure may have sent it.
      c.uncount_quota = counted && e.kind() != ErrorKind::transient;
    } catch (const std::exception& e) {
      c = outcome_of_error(email, ErrorInfo{ErrorKind::transient, "host_error", e.what(), std::nullopt}, provider_name,
                           rng(), stats_);
      c.uncount_quota = counted && !handed_over;
    }
    return c;
  }

  static void count(const db::Completion& c, const std::string& provider_name, SteadyClock::time_point started) {
    const std::string label = provider_name.empty() ? std::string("unknown") : provider_name;
    const std::string outcome = c.status == db::EmailStatus::queued ? (c.event_status.empty() ? "retry" : c.event_status)
                                                                    : std::string(db::to_string(c.status));
    auto& registry = metrics::Registry::global();
    registry.add("mailroom_sends_total", {{"provider", label}, {"outcome", outcome}});
    registry.observe("mailroom_send_duration_seconds", {{"provider", label}},
                     std::chrono::duration<double>(SteadyClock::now() - started).count());
  }

  // Writes outcomes as sends complete: the first one waits at most flush_interval for
  // company, a full batch goes at once; one statement per write.
  void write_outcomes() {
    std::unique_lock lock(mutex_);
    while (true) {
      outbox_cv_.wait(lock, [&] { return !outbox_.empty() || writer_done_; });
      if (outbox_.empty()) break;
      outbox_cv_.wait_for(lock, options_.flush_interval,
                          [&] { return outbox_.size() >= options_.batch_size || writer_done_; });
      std::vector<db::Completion> done;
      done.swap(outbox_);
      lock.unlock();
      write(done);
      lock.lock();
      held_ -= done.size();
      settled_.notify_all();
    }
  }

  void write(const std::vector<db::Completion>& done) {
    const auto t0 = SteadyClock::now();
    for (int attempt = 1;; ++attempt) {
      try {
        const auto applied = queue_.complete(options_.worker_id, done);
        stats_.late += static_cast<long>(done.size() - applied);
        spdlog::debug("{}: wrote {} outcome(s) in {} ms", options_.worker_id, done.size(), elapsed_ms(t0));
        return;
      } catch (const std::exception& e) {
        // The outcome must not be lost: retry until the database answers (the heartbeat
        // keeps the rows ours meanwhile, and a rescue after the lease is the last resort).
        spdlog::error("writing {} outcomes failed (attempt {}): {}", done.size(), attempt, e.what());
        if (attempt >= 30) return;
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }
  }

  db::Pool& pool_;
  const plugin_host::PluginHost& host_;
  const crypto::SecretBox& box_;
  const WorkerOptions options_;
  std::atomic<bool>& stop_;
  WorkerStats& stats_;
  Wakeup& wakeup_;
  db::EmailQueue queue_;
  db::EmailConfigurations configurations_;

  std::mutex mutex_;
  std::condition_variable work_;        // senders: a lane became ready, or stopping
  std::condition_variable outbox_cv_;   // writer: an outcome arrived, or finishing
  std::condition_variable settled_;     // claimer and waiters: outcomes written, a sender ended
  std::map<std::string, std::unique_ptr<Lane>> lanes_;
  std::string last_served_;
  std::size_t held_ = 0;  // claimed by this host, outcome not yet written
  std::size_t senders_ = 0, busy_ = 0;
  std::vector<db::Completion> outbox_;
  bool stopping_ = false, writer_done_ = false;
  std::thread writer_;
};

}  // namespace

bool run_workers(db::Pool& pool, const plugin_host::PluginHost& host, const crypto::SecretBox& box,
                 const WorkerOptions& options, std::atomic<bool>& stop, WorkerStats& stats) {
  auto wakeup = std::make_shared<Wakeup>();
  auto dispatcher = std::make_shared<Dispatcher>(pool, host, box, options, stop, stats, *wakeup);
  dispatcher->start_writer();
  std::atomic<bool> maintenance_done{false};

  // Listener, heartbeat and rescuer share one thread and one connection of their own.
  std::thread maintenance([&] {
    db::EmailQueue queue(pool);
    auto last_rescue = SteadyClock::now() - std::chrono::hours(1);
    auto last_beat = SteadyClock::now();
    const auto quarter_lease =
        std::chrono::milliseconds(static_cast<long>(std::max(0.25, options.lease_seconds / 4) * 1000));
    std::unique_ptr<pqxx::connection> connection;
    std::unique_ptr<Listener> listener;
    while (!maintenance_done) {
      try {
        if (!connection) {
          connection = std::make_unique<pqxx::connection>(pool.url());
          listener = std::make_unique<Listener>(*connection, *wakeup);
        }
        connection->await_notification(0, 50'000);
        // A live host keeps what it holds: no email is rescued while its sender is alive.
        if (SteadyClock::now() - last_beat >= quarter_lease) {
          last_beat = SteadyClock::now();
          if (dispatcher->held() > 0) queue.extend_leases(options.worker_id, options.lease_seconds);
        }
        if (SteadyClock::now() - last_rescue > quarter_lease) {
          last_rescue = SteadyClock::now();
          if (const auto n = queue.rescue(); n > 0) {
            stats.rescued += static_cast<long>(n);
            spdlog::warn("rescued {} email(s) whose host stopped while sending", n);
            wakeup->notify();
          }
        }
      } catch (const std::exception& e) {
        spdlog::error("queue maintenance: {}", e.what());
        listener.reset();
        connection.reset();
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }
  });

  std::thread claimer([&] {
    try {
      dispatcher->claim_loop();
    } catch (const std::exception& e) {
      spdlog::error("the claimer stopped: {}", e.what());
      stop = true;
    }
  });
  while (!stop) wakeup->wait(std::chrono::milliseconds(50));
  wakeup->notify();
  claimer.join();
  dispatcher->release_pending();
  const bool finished = dispatcher->wait_settled(SteadyClock::now() + options.shutdown_deadline);
  dispatcher->finish();
  maintenance_done = true;
  maintenance.join();
  if (finished) dispatcher->retire(SteadyClock::now() + std::chrono::seconds(5));
  return finished;
}

std::size_t process_batch(db::Pool& pool, const plugin_host::PluginHost& host, const crypto::SecretBox& box,
                          const WorkerOptions& options, std::atomic<bool>& stop, WorkerStats& stats) {
  Wakeup wakeup;
  auto dispatcher = std::make_shared<Dispatcher>(pool, host, box, options, stop, stats, wakeup);
  dispatcher->start_writer();
  const auto n = dispatcher->claim_once();
  dispatcher->wait_settled(std::nullopt);
  dispatcher->finish();
  dispatcher->retire(SteadyClock::now() + std::chrono::seconds(5));
  return n;
}

}  // namespace mailroom::queue
