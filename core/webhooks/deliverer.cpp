// Two threads: the dispatcher (database: LISTEN, claim, check targets, sign, record attempts)
// and the sender (HTTP: libcurl's multi interface, every request of the host in flight on one
// thread). The sender never waits for the database, and the dispatcher never for a receiver.
#include "metrics.hpp"
#include "webhooks.hpp"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

namespace mailroom::webhooks {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr std::size_t kResponseBytes = 1024;  // what an attempt keeps of the receiver's answer

struct Job {
  db::ClaimedWebhook message;
  std::vector<std::string> resolve;  // CURLOPT_RESOLVE entries pinning the checked addresses
  std::string signature;
  long long timestamp = 0;
  // Filled by the sender:
  CURL* handle = nullptr;
  curl_slist* headers = nullptr;
  curl_slist* pins = nullptr;
  std::string response;
  char error[CURL_ERROR_SIZE] = {};
};

// Keeps valid UTF-8 (what PostgreSQL text holds) and replaces anything else with '?'.
std::string printable(const std::string& bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size();) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    std::size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool valid = length > 0 && i + length <= bytes.size();
    for (std::size_t k = 1; valid && k < length; ++k) valid = (static_cast<unsigned char>(bytes[i + k]) >> 6) == 0x2;
    if (valid && length == 1 && (c == 0 || (c < 0x20 && c != '\n' && c != '\t' && c != '\r'))) valid = false;
    if (!valid) {
      out += '?';
      ++i;
      continue;
    }
    out.append(bytes, i, length);
    i += length;
  }
  return out;
}

std::size_t keep_response(char* data, std::size_t size, std::size_t count, void* user) {
  auto* job = static_cast<Job*>(user);
  const std::size_t bytes = size * count;
  if (job->response.size() < kResponseBytes)
    job->response.append(data, std::min(bytes, kResponseBytes - job->response.size()));
  return bytes;
}

// What the sender hands back: the job, with curl's verdict.
struct Done {
  std::unique_ptr<Job> job;
  CURLcode code = CURLE_OK;
  long status = 0;
  long latency_ms = 0;
};

class Sender {
 public:
  explicit Sender(const DelivererOptions& options) : options_(options), multi_(curl_multi_init()) {
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(options.concurrency));
  }
  ~Sender() {
    for (auto& [handle, job] : running_) release(*job);
    curl_multi_cleanup(multi_);
  }

  void submit(std::vector<std::unique_ptr<Job>> jobs) {
    {
      std::lock_guard lock(mutex_);
      for (auto& j : jobs) inbox_.push_back(std::move(j));
    }
    curl_multi_wakeup(multi_);
  }
  std::vector<Done> take_done() {
    std::lock_guard lock(mutex_);
    std::vector<Done> out;
    out.swap(done_);
    return out;
  }
  std::size_t outstanding() {
    std::lock_guard lock(mutex_);
    return inbox_.size() + running_count_;
  }

  // Runs until `stop` and then until nothing runs, or `deadline` after `stop`.
  void run(const std::atomic<bool>& stop) {
    std::optional<SteadyClock::time_point> give_up;
    while (true) {
      if (stop && !give_up) give_up = SteadyClock::now() + options_.shutdown_deadline;
      start_waiting();
      int running = 0;
      curl_multi_perform(multi_, &running);
      collect();
      start_waiting();  // the slots just freed take the next jobs now, not after the poll
      {
        std::lock_guard lock(mutex_);
        if (give_up && running_.empty() && waiting_.empty() && inbox_.empty()) return;
      }
      if (give_up && SteadyClock::now() >= *give_up) return;
      curl_multi_poll(multi_, nullptr, 0, 100, nullptr);
    }
  }

 private:
  // Starts waiting jobs while fewer than `concurrency` requests run. The dispatcher keeps up
  // to as many again waiting here, so a request that ends is followed at once by the next
  // instead of after a round trip to the database.
  void start_waiting() {
    {
      std::lock_guard lock(mutex_);
      running_count_ += inbox_.size();
      for (auto& job : inbox_) waiting_.push_back(std::move(job));
      inbox_.clear();
    }
    while (running_.size() < options_.concurrency && !waiting_.empty()) {
      auto job = std::move(waiting_.front());
      waiting_.pop_front();
      CURL* h = curl_easy_init();
      job->handle = h;
      const auto& m = job->message;
      curl_easy_setopt(h, CURLOPT_URL, m.url.c_str());
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, m.body.c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(m.body.size()));
      for (const std::string& header :
           {std::string("Content-Type: application/json"), "webhook-id: " + m.message_id,
            "webhook-timestamp: " + std::to_string(job->timestamp), "webhook-signature: " + job->signature,
            std::string("User-Agent: mailroom-webhooks/1"), std::string("Expect:")})
        job->headers = curl_slist_append(job->headers, header.c_str());
      curl_easy_setopt(h, CURLOPT_HTTPHEADER, job->headers);
      for (const auto& pin : job->resolve) job->pins = curl_slist_append(job->pins, pin.c_str());
      if (job->pins) curl_easy_setopt(h, CURLOPT_RESOLVE, job->pins);
      // A redirect would leave the checked address: receivers must answer themselves.
      curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
      curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
      curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count() * 1000));
      curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<long>(options_.timeout.count(), 5) * 1000));
      curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_response);
      curl_easy_setopt(h, CURLOPT_WRITEDATA, job.get());
      curl_easy_setopt(h, CURLOPT_ERRORBUFFER, job->error);
      curl_easy_setopt(h, CURLOPT_PRIVATE, job.get());
      curl_multi_add_handle(multi_, h);
      running_.emplace(h, std::move(job));
    }
  }

  void collect() {
    int left = 0;
    std::vector<Done> finished;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      auto it = running_.find(msg->easy_handle);
      if (it == running_.end()) continue;
      Done d;
      d.code = msg->data.result;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &d.status);
      curl_off_t total = 0;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_TOTAL_TIME_T, &total);
      d.latency_ms = static_cast<long>(total / 1000);
      d.job = std::move(it->second);
      running_.erase(it);
      release(*d.job);
      finished.push_back(std::move(d));
    }
    if (finished.empty()) return;
    std::lock_guard lock(mutex_);
    running_count_ -= finished.size();
    for (auto& d : finished) done_.push_back(std::move(d));
  }

  void release(Job& job) {
    curl_multi_remove_handle(multi_, job.handle);
    curl_easy_cleanup(job.handle);
    curl_slist_free_all(job.headers);
    curl_slist_free_all(job.pins);
    job.handle = nullptr;
    job.headers = job.pins = nullptr;
  }

  const DelivererOptions& options_;
  CURLM* multi_;
  std::map<CURL*, std::unique_ptr<Job>> running_;  // the sender thread's alone
  std::deque<std::unique_ptr<Job>> waiting_;       // likewise
  std::mutex mutex_;
  std::deque<std::unique_ptr<Job>> inbox_;
  std::vector<Done> done_;
  std::size_t running_count_ = 0;
};

class Listener final : public pqxx::notification_receiver {
 public:
  Listener(pqxx::connection& connection, bool& woken)
      : pqxx::notification_receiver(connection, "mailroom_webhooks"), woken_(woken) {}
  void operator()(const std::string&, int) override { woken_ = true; }

 private:
  bool& woken_;
};

class Dispatcher {
 public:
  Dispatcher(db::Pool& pool, const crypto::SecretBox& box, const DelivererOptions& options, Sender& sender,
             DeliveryStats& stats)
      : outbox_(pool),
        pool_(pool),
        box_(box),
        options_(options),
        sender_(sender),
        stats_(stats),
        resolver_(resolver::make_resolver({options.resolver_servers, std::chrono::milliseconds(2000), 2})),
        rng_(std::random_device{}()) {}

  void run(const std::atomic<bool>& stop, const std::atomic<bool>& sender_done) {
    bool woken = true;  // declared first: the listener that sets it goes before it
    std::unique_ptr<pqxx::connection> connection;
    std::unique_ptr<Listener> listener;
    bool more_due = false;
    auto last_claim = SteadyClock::now() - std::chrono::hours(1);
    while (!sender_done) {
      try {
        if (!connection) {
          connection = std::make_unique<pqxx::connection>(pool_.url());
          listener = std::make_unique<Listener>(*connection, woken);
        }
        connection->await_notification(0, 10'000);
        record(sender_.take_done());
        if (stop) continue;
        // As many again as run may wait in the sender (see Sender::start_waiting).
        const std::size_t outstanding = sender_.outstanding();
        const std::size_t free = outstanding < 2 * options_.concurrency ? 2 * options_.concurrency - outstanding : 0;
        const bool poll = SteadyClock::now() - last_claim >= std::chrono::seconds(1);
        if (free == 0 || !(woken || more_due || poll)) continue;
        // Small claims cost a statement each: wait for a tenth of the slots unless little is due.
        if (more_due && !woken && free < std::max<std::size_t>(1, options_.concurrency / 10)) continue;
        woken = false;
        last_claim = SteadyClock::now();
        const auto claimed = outbox_.claim(options_.worker_id, free, lease_seconds());
        more_due = claimed.size() == free;
        dispatch(claimed);
      } catch (const std::exception& e) {
        spdlog::error("webhook delivery: {}", e.what());
        listener.reset();
        connection.reset();
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
      }
    }
    try {
      record(sender_.take_done());
    } catch (const std::exception& e) {
      spdlog::error("webhook delivery: the last attempts were not recorded ({}); they will be sent again", e.what());
    }
  }

 private:
  double lease_seconds() const {
    // Long enough for a message to wait behind one round of requests that all time out, time
    // out itself and be recorded; short enough that a crashed host's deliveries go out again soon.
    return 2.0 * static_cast<double>(options_.timeout.count()) + 10.0;
  }

  std::string secret(const std::string& sealed, const std::string& id, bool previous) {
    if (sealed.empty()) return "";
    if (secrets_.size() > 10'000) secrets_.clear();
    auto [it, fresh] = secrets_.try_emplace(sealed);
    if (fresh) it->second = box_.open(sealed, secret_associated_data(id, previous));
    return it->second;
  }

  void dispatch(const std::vector<db::ClaimedWebhook>& claimed) {
    std::vector<std::unique_ptr<Job>> jobs;
    std::vector<db::WebhookResult> refused;
    // Every target is checked again for this delivery (once per host in one claim).
    std::map<std::string, Target> targets;
    for (const auto& message : claimed) {
      auto [it, fresh] = targets.try_emplace(message.url);
      if (fresh) it->second = resolve_target(message.url, options_.policy, *resolver_);
      const Target& target = it->second;
      if (!target.refusal.empty()) {
        refused.push_back(outcome(message, std::nullopt, 0, "refused", target.refusal, ""));
        continue;
      }
      auto job = std::make_unique<Job>();
      job->message = message;
      // A name is pinned to the addresses just checked; an IP literal needs no lookup.
      if (!target.addresses.empty() && target.addresses != std::vector<std::string>{target.host}) {
        std::string host = target.host;
        for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string pin = host + ":" + std::to_string(target.port) + ":";
        for (std::size_t i = 0; i < target.addresses.size(); ++i) {
          const auto& a = target.addresses[i];
          pin += (i ? "," : "") + (a.find(':') != std::string::npos ? "[" + a + "]" : a);
        }
        job->resolve.push_back(pin);
      }
      try {
        std::vector<std::string> secrets{secret(message.secret_sealed, message.subscription_id, false)};
        if (!message.previous_secret_sealed.empty())
          secrets.push_back(secret(message.previous_secret_sealed, message.subscription_id, true));
        job->timestamp = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        job->signature = signature_header(secrets, message.message_id, job->timestamp, message.body);
      } catch (const std::exception& e) {
        refused.push_back(outcome(message, std::nullopt, 0, "refused",
                                  std::string("the signing secret cannot be opened: ") + e.what(), ""));
        continue;
      }
      jobs.push_back(std::move(job));
    }
    if (!jobs.empty()) sender_.submit(std::move(jobs));
    write(refused);
  }

  db::WebhookResult outcome(const db::ClaimedWebhook& message, std::optional<int> status, int latency_ms,
                            std::string outcome, std::string error, std::string response) {
    db::WebhookResult r;
    r.message_id = message.message_id;
    r.subscription_id = message.subscription_id;
    r.attempt = message.attempt;
    r.status_code = status;
    r.latency_ms = latency_ms;
    r.error = std::move(error);
    r.response = printable(response);
    const auto& schedule = options_.retry_schedule_seconds;
    if (outcome != "delivered" && static_cast<std::size_t>(message.attempt) <= schedule.size()) {
      std::uniform_real_distribution<double> jitter(0.9, 1.1);
      r.retry_in_seconds = schedule[static_cast<std::size_t>(message.attempt) - 1] * jitter(rng_);
      if (outcome != "refused") outcome = "retry_scheduled";
    } else if (outcome != "delivered" && outcome != "refused") {
      outcome = "failed";
    }
    r.outcome = std::move(outcome);
    auto& registry = metrics::Registry::global();
    registry.add("mailroom_webhook_deliveries_total", {{"outcome", r.outcome}});
    if (r.outcome != "refused") registry.observe("mailroom_webhook_delivery_duration_seconds", {}, latency_ms / 1000.0);
    if (r.outcome == "delivered") ++stats_.delivered;
    else if (r.outcome == "refused") ++stats_.refused;
    else if (r.outcome == "retry_scheduled") ++stats_.retried;
    else ++stats_.failed;
    return r;
  }

  void record(std::vector<Done> done) {
    if (done.empty()) return;
    std::vector<db::WebhookResult> results;
    results.reserve(done.size());
    for (auto& d : done) {
      const auto& message = d.job->message;
      const int latency = static_cast<int>(d.latency_ms);
      if (d.code != CURLE_OK) {
        std::string error = d.code == CURLE_OPERATION_TIMEDOUT
                                ? "no answer within " + std::to_string(options_.timeout.count()) + " s"
                                : std::string(curl_easy_strerror(d.code)) + (d.job->error[0] ? std::string(": ") + d.job->error : "");
        results.push_back(outcome(message, d.status ? std::optional<int>(static_cast<int>(d.status)) : std::nullopt,
                                  latency, "failed", error, d.job->response));
      } else if (d.status >= 200 && d.status < 300) {
        results.push_back(outcome(message, static_cast<int>(d.status), latency, "delivered", "", d.job->response));
      } else {
        results.push_back(outcome(message, static_cast<int>(d.status), latency, "failed",
                                  "the receiver answered HTTP " + std::to_string(d.status), d.job->response));
      }
    }
    write(results);
  }

  void write(const std::vector<db::WebhookResult>& results) {
    if (results.empty()) return;
    for (const auto& id : outbox_.complete(options_.worker_id, results, options_.pause_after_seconds))
      spdlog::warn("webhook subscription {} paused: every delivery failed for {} h; resume it once its endpoint answers 2xx",
                   id, options_.pause_after_seconds / 3600);
  }

  db::WebhookOutbox outbox_;
  db::Pool& pool_;
  const crypto::SecretBox& box_;
  const DelivererOptions& options_;
  Sender& sender_;
  DeliveryStats& stats_;
  std::unique_ptr<resolver::Resolver> resolver_;
  std::mt19937_64 rng_;
  std::map<std::string, std::string> secrets_;  // sealed -> opened
};

}  // namespace

void run_deliverer(db::Pool& pool, const crypto::SecretBox& box, const DelivererOptions& options,
                   const std::atomic<bool>& stop, DeliveryStats& stats) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  Sender sender(options);
  Dispatcher dispatcher(pool, box, options, sender, stats);
  std::atomic<bool> sender_done{false};
  std::thread sending([&] {
    sender.run(stop);
    sender_done = true;
  });
  dispatcher.run(stop, sender_done);
  sending.join();
}

}  // namespace mailroom::webhooks
