#include "db.hpp"
#include "sql_arrays.hpp"

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

// One round trip: set_config('role', ..., true) is SET LOCAL ROLE.
void enter_scope(pqxx::transaction_base& tx, const std::string& actor_id) {
  if (t_acting_as)
    exec_prepared(tx, "mr_scope_app",
                  "SELECT set_config('role', 'mailroom_app', true), set_config('mailroom.actor_id', $1, true)", *t_acting_as);
  else
    exec_prepared(tx, "mr_scope", "SELECT set_config('mailroom.actor_id', $1, true)", actor_id);
}
}  // namespace

ActingAs::ActingAs(std::string actor_id) : previous_(std::exchange(t_acting_as, std::move(actor_id))) {}
ActingAs::~ActingAs() { t_acting_as = std::move(previous_); }

namespace {
// The transaction transact() is running on this thread: repository calls made inside it join it.
thread_local pqxx::work* t_ambient = nullptr;
}  // namespace

Reader::Reader(Pool& pool) {
  if (t_ambient != nullptr) {
    current_ = t_ambient;
    return;
  }
  lease_.emplace(pool.acquire());
  if (!t_acting_as) {
    owned_ = std::make_unique<pqxx::nontransaction>(**lease_);
  } else {
    owned_ = std::make_unique<pqxx::work>(**lease_);
    enter_scope(*owned_, "");
  }
  current_ = owned_.get();
}

void transact(Pool& pool, const std::string& actor_id, const std::function<void(pqxx::work&)>& work) {
  if (t_ambient != nullptr) {  // nested: one transaction, committed by the outermost
    work(*t_ambient);
    return;
  }
  auto connection = pool.acquire();
  pqxx::work tx(*connection);
  enter_scope(tx, actor_id);
  t_ambient = &tx;
  try {
    work(tx);
  } catch (...) {
    t_ambient = nullptr;
    throw;
  }
  t_ambient = nullptr;
  tx.commit();
}

}  // namespace mailroom::db
