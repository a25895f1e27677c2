#include "db.hpp"

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

void transact(Pool& pool, const std::string& actor_id, const std::function<void(pqxx::work&)>& work) {
  auto connection = pool.acquire();
  pqxx::work tx(*connection);
  tx.exec_params("SELECT set_config('mailroom.actor_id', $1, true)", actor_id);
  work(tx);
  tx.commit();
}

}  // namespace mailroom::db
