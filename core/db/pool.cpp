#include "db.hpp"

#include <optional>
#include <utility>

namespace mailroom::db {

Pool::Pool(std::string url, std::size_t size) : url_(std::move(url)), size_(size == 0 ? 1 : size) {}
Pool::~Pool() = default;

Pool::Lease::Lease(Pool& pool, std::unique_ptr<pqxx::connection> connection)
    : pool_(&pool), connection_(std::move(connection)) {}

Pool::Lease::~Lease() {
  if (connection_) pool_->give_back(std::move(connection_));
}

Pool::Lease Pool::acquire() {
  std::unique_lock lock(mutex_);
  available_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
  if (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    if (connection->is_open()) return Lease(*this, std::move(connection));
    --open_;  // broken: replaced below
  }
  ++open_;
  lock.unlock();
  try {
    return Lease(*this, std::make_unique<pqxx::connection>(url_));
  } catch (const std::exception& e) {
    std::lock_guard relock(mutex_);
    --open_;
    available_.notify_one();
    // libpq's message names host and reason; the URL itself is not repeated (it may hold a password).
    throw DbError(std::string("cannot connect to the database: ") + e.what());
  }
}

void Pool::give_back(std::unique_ptr<pqxx::connection> connection) {
  std::lock_guard lock(mutex_);
  if (connection->is_open()) idle_.push_back(std::move(connection));
  else --open_;
  available_.notify_one();
}

namespace {
// Set: statements run as mailroom_app for this actor (which may be empty: no one's rows).
thread_local std::optional<std::string> t_acting_as;

void enter_scope(pqxx::transaction_base& tx, const std::string& actor_id) {
  if (t_acting_as) tx.exec("SET LOCAL ROLE mailroom_app");
  tx.exec_params("SELECT set_config('mailroom.actor_id', $1, true)", t_acting_as ? *t_acting_as : actor_id);
}
}  // namespace

ActingAs::ActingAs(std::string actor_id) : previous_(std::exchange(t_acting_as, std::move(actor_id))) {}
ActingAs::~ActingAs() { t_acting_as = std::move(previous_); }

Reader::Reader(Pool& pool) : lease_(pool.acquire()) {
  if (!t_acting_as) {
    tx_ = std::make_unique<pqxx::nontransaction>(*lease_);
  } else {
    tx_ = std::make_unique<pqxx::work>(*lease_);
    enter_scope(*tx_, "");
  }
}

void transact(Pool& pool, const std::string& actor_id, const std::function<void(pqxx::work&)>& work) {
  auto connection = pool.acquire();
  pqxx::work tx(*connection);
  enter_scope(tx, actor_id);
  work(tx);
  tx.commit();
}

}  // namespace mailroom::db
