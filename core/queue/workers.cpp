#include "queue.hpp"

#include "metrics.hpp"
#include "outgoing.hpp"
#include "providers.hpp"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace mailroom::queue {
namespace {

using Clock = std::chrono::steady_clock;

// Wakes idle workers: a LISTEN connection turns NOTIFYs into a condition variable; the
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

// One provider object per configuration per worker thread (plugins are called from one
// thread at a time), rebuilt when the configuration changes.
class Providers {
 public:
  Providers(db::Pool& pool, const plugin_host::PluginHost& host, const crypto::SecretBox& box)
      : pool_(pool), host_(host), box_(box) {}

  struct Entry {
    std::shared_ptr<EmailProvider> provider;
    std::string provider_name;  // the configuration's provider column
    bool quota_gate = false;
    std::string updated_at;
  };

  // Configurations are re-read once per batch, not once per email.
  void begin_batch() { checked_.clear(); }

  // Throws ProviderError{permanent} when the configuration cannot be used.
  Entry& get(const std::string& configuration_id) {
    auto it = cache_.find(configuration_id);
    if (it != cache_.end() && checked_.contains(configuration_id)) return it->second;
    auto row = db::EmailConfigurations(pool_).find(configuration_id);
    if (!row) throw ProviderError(ErrorKind::permanent, "no_configuration", "the email configuration was removed");
    checked_.insert(configuration_id);
    if (it != cache_.end() && it->second.updated_at == row->updated_at) return it->second;
    if (!row->is_active) throw ProviderError(ErrorKind::permanent, "inactive", "the email configuration is inactive");
    Entry entry;
    entry.provider = providers::make_email_provider(*row, host_, box_);
    const auto& plugin = providers::loaded_plugin(host_, row->plugin_name(), plugin_host::PluginKind::email);
    entry.provider_name = row->provider;
    entry.quota_gate = std::get<EmailCapabilities>(plugin.manifest.parsed_capabilities).quota == QuotaModel::daily_hourly;
    entry.updated_at = row->updated_at;
    return cache_[configuration_id] = std::move(entry);
  }

 private:
  db::Pool& pool_;
  const plugin_host::PluginHost& host_;
  const crypto::SecretBox& box_;
  std::map<std::string, Entry> cache_;
  std::set<std::string> checked_;
};

OutgoingEmail to_outgoing_email(const db::ClaimedEmail& e) {
  OutgoingEmail out = to_outgoing(e);
  out.id = e.id;
  return out;
}

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
    c.delay_seconds = error.retry_after ? static_cast<double>(error.retry_after->count()) : 3600;
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

class Worker {
 public:
  Worker(db::Pool& pool, const plugin_host::PluginHost& host, const crypto::SecretBox& box, const WorkerOptions& options,
         std::atomic<bool>& stop, WorkerStats& stats, Wakeup& wakeup)
      : pool_(pool), queue_(pool), providers_(pool, host, box), options_(options), stop_(stop), stats_(stats),
        wakeup_(wakeup), rng_(std::random_device{}()) {}

  // The next batch is claimed, on a helper thread, while this one is being sent. Outcomes
  // are written before the next batch is sent, so that what a killed worker has handed to
  // the provider without recording it never exceeds one batch.
  void run() {
    std::vector<db::ClaimedEmail> batch;
    if (!stop_) batch = claim_or_nothing();
    while (true) {
      if (batch.empty()) {
        if (stop_) break;
        if (options_.until_empty && drained()) {
          stop_ = true;
          wakeup_.notify();  // the other workers are waiting for work that will not come
          break;
        }
        wakeup_.wait(options_.poll_interval);
        if (stop_) break;
        batch = claim_or_nothing();
        continue;
      }
      std::future<std::vector<db::ClaimedEmail>> next;
      if (!stop_) next = std::async(std::launch::async, [this] { return claim_or_nothing(); });
      flush(send_all(batch));
      // Released unsent by send_all if we are stopping by the time it comes up.
      batch = next.valid() ? next.get() : std::vector<db::ClaimedEmail>{};
    }
  }

  // Claims one batch, sends it (or releases it when stopping) and writes the outcomes.
  std::size_t step() {
    const auto batch = claim();
    flush(send_all(batch));
    return batch.size();
  }

 private:
  // A failed claim is logged and counts as an empty one: the worker waits and tries again.
  std::vector<db::ClaimedEmail> claim_or_nothing() {
    try {
      return claim();
    } catch (const std::exception& e) {
      spdlog::error("claim failed: {}", e.what());
      return {};
    }
  }

  std::vector<db::ClaimedEmail> claim() {
    const auto t0 = Clock::now();
    auto batch = queue_.claim(options_.worker_id, options_.batch_size, options_.lease_seconds);
    if (!batch.empty())
      spdlog::debug("{}: claimed {} email(s) in {} ms", options_.worker_id, batch.size(), elapsed_ms(t0));
    return batch;
  }

  // Sends a claimed batch; once stopping, what is left of it is released unsent.
  std::vector<db::Completion> send_all(const std::vector<db::ClaimedEmail>& batch) {
    const auto t0 = Clock::now();
    std::vector<db::Completion> done;
    done.reserve(batch.size());
    providers_.begin_batch();
    for (const auto& email : batch) done.push_back(stop_ ? release(email) : send(email));
    if (!batch.empty()) spdlog::debug("{}: sent {} email(s) in {} ms", options_.worker_id, batch.size(), elapsed_ms(t0));
    return done;
  }

  static long elapsed_ms(Clock::time_point since) {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count());
  }

  bool drained() {
    const auto counts = queue_.status_counts("");
    auto count = [&](db::EmailStatus s) {
      auto it = counts.find(std::string(db::to_string(s)));
      return it == counts.end() ? 0L : it->second;
    };
    return count(db::EmailStatus::queued) == 0 && count(db::EmailStatus::sending) == 0;
  }

  db::Completion release(const db::ClaimedEmail& email) {
    ++stats_.released;
    db::Completion c;
    c.id = email.id;
    c.status = db::EmailStatus::queued;
    c.event_type = db::LogEvent::queued;
    c.event_status = "released";
    return c;
  }

  db::Completion send(const db::ClaimedEmail& email) {
    const auto started = std::chrono::steady_clock::now();
    db::Completion c = attempt(email);
    const std::string provider = c.provider.empty() ? std::string("unknown") : c.provider;
    const std::string outcome = c.status == db::EmailStatus::queued ? (c.event_status.empty() ? "retry" : c.event_status)
                                                                    : std::string(db::to_string(c.status));
    auto& registry = metrics::Registry::global();
    registry.add("mailroom_sends_total", {{"provider", provider}, {"outcome", outcome}});
    registry.observe("mailroom_send_duration_seconds", {{"provider", provider}},
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return c;
  }

  db::Completion attempt(const db::ClaimedEmail& email) {
    std::string provider_name;
    try {
      if (email.configuration_id.empty())
        throw ProviderError(ErrorKind::permanent, "no_configuration", "the email names no configuration");
      auto& entry = providers_.get(email.configuration_id);
      provider_name = entry.provider_name;
      if (entry.quota_gate) {
        const auto quota = db::take_quota(pool_, email.user_id, (options_.clock ? *options_.clock : system_clock()).now());
        if (!quota.allowed)
          throw ProviderError(ErrorKind::quota, "quota_exceeded", "the daily or hourly sending quota (the plugin's quota model) is used up",
                              std::chrono::seconds(static_cast<long>(quota.retry_in_seconds)));
      }
      const auto receipt = entry.provider->send(to_outgoing_email(email));
      db::Completion c;
      c.id = email.id;
      c.status = db::EmailStatus::sent;
      c.message_id = receipt.provider_message_id;
      c.event_type = db::LogEvent::sent;
      c.event_status = "accepted";
      c.provider = provider_name;
      ++stats_.sent;
      return c;
    } catch (const ProviderError& e) {
      return outcome_of_error(email, e.info(), provider_name, rng_, stats_);
    } catch (const std::exception& e) {
      return outcome_of_error(email, ErrorInfo{ErrorKind::transient, "host_error", e.what(), std::nullopt},
                              provider_name, rng_, stats_);
    }
  }

  void flush(const std::vector<db::Completion>& done) {
    const auto t0 = Clock::now();
    for (int attempt = 1;; ++attempt) {
      try {
        const auto applied = queue_.complete(options_.worker_id, done);
        stats_.late += static_cast<long>(done.size() - applied);
        if (!done.empty())
          spdlog::debug("{}: wrote {} outcome(s) in {} ms", options_.worker_id, done.size(), elapsed_ms(t0));
        return;
      } catch (const std::exception& e) {
        // The outcome must not be lost: retry until the database answers (the lease keeps
        // the rows ours meanwhile, and a rescue after it expires is the last resort).
        spdlog::error("writing {} outcomes failed (attempt {}): {}", done.size(), attempt, e.what());
        if (attempt >= 30) return;
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }
  }

  db::Pool& pool_;
  db::EmailQueue queue_;
  Providers providers_;
  const WorkerOptions& options_;
  std::atomic<bool>& stop_;
  WorkerStats& stats_;
  Wakeup& wakeup_;
  std::mt19937_64 rng_;
};

}  // namespace

bool run_workers(db::Pool& pool, const plugin_host::PluginHost& host, const crypto::SecretBox& box,
                 const WorkerOptions& options, std::atomic<bool>& stop, WorkerStats& stats) {
  Wakeup wakeup;
  std::atomic<bool> workers_done{false};

  // Listener and rescuer share one thread and one connection of their own.
  std::thread maintenance([&] {
    db::EmailQueue queue(pool);
    auto last_rescue = Clock::now() - std::chrono::hours(1);
    const auto rescue_every = std::chrono::milliseconds(static_cast<long>(std::max(1.0, options.lease_seconds / 4) * 1000));
    std::unique_ptr<pqxx::connection> connection;
    std::unique_ptr<Listener> listener;
    while (!workers_done) {
      try {
        if (!connection) {
          connection = std::make_unique<pqxx::connection>(pool.url());
          listener = std::make_unique<Listener>(*connection, wakeup);
        }
        connection->await_notification(0, 50'000);
        if (Clock::now() - last_rescue > rescue_every) {
          last_rescue = Clock::now();
          if (const auto n = queue.rescue(); n > 0) {
            stats.rescued += static_cast<long>(n);
            spdlog::warn("rescued {} email(s) whose worker stopped while sending", n);
            wakeup.notify();
          }
        }
      } catch (const std::exception& e) {
        spdlog::error("queue listener: {}", e.what());
        listener.reset();
        connection.reset();
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }
  });

  std::vector<std::thread> threads;
  std::atomic<int> running{0};
  for (std::size_t i = 0; i < options.threads; ++i) {
    ++running;
    threads.emplace_back([&, i] {
      WorkerOptions mine = options;
      mine.worker_id = options.worker_id + "/" + std::to_string(i);
      try {
        Worker(pool, host, box, mine, stop, stats, wakeup).run();
      } catch (const std::exception& e) {
        spdlog::error("worker {} stopped: {}", mine.worker_id, e.what());
      }
      --running;
      wakeup.notify();
    });
  }

  while (!stop) wakeup.wait(std::chrono::milliseconds(50));
  wakeup.notify();
  const auto deadline = Clock::now() + options.shutdown_deadline;
  while (running > 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const bool finished = running == 0;
  workers_done = true;
  maintenance.join();
  if (finished) {
    for (auto& t : threads) t.join();
  } else {
    for (auto& t : threads) t.detach();  // still sending: the caller exits; their leases expire
  }
  return finished;
}

std::size_t process_batch(db::Pool& pool, const plugin_host::PluginHost& host, const crypto::SecretBox& box,
                          const WorkerOptions& options, std::atomic<bool>& stop, WorkerStats& stats) {
  Wakeup wakeup;
  return Worker(pool, host, box, options, stop, stats, wakeup).step();
}

}  // namespace mailroom::queue
