#include "db.hpp"
#include "sql_arrays.hpp"

namespace mailroom::db {
namespace {

const char* const kColumns =
    "id::text, user_id::text, name, token_prefix, coalesce(expires_at::text, ''), coalesce(last_used_at::text, ''),"
    " coalesce(revoked_at::text, ''), created_at::text, is_admin";

ApiToken to_token(const pqxx::row& r) {
  return ApiToken{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>(),
                  r[4].as<std::string>(), r[5].as<std::string>(), r[6].as<std::string>(), r[7].as<std::string>(),
                  r[8].as<bool>()};
}

}  // namespace

ApiToken ApiTokens::create(const std::string& user_id, const std::string& name, const std::string& secret, bool is_admin,
                           std::optional<int> expires_in_days) {
  ApiToken token;
  transact(pool_, user_id, [&](pqxx::work& tx) {
    token = to_token(tx.exec_params1(
        std::string("INSERT INTO api_tokens (user_id, name, token_prefix, token_hash, is_admin, expires_at) VALUES ("
                    "$1::uuid, $2, $3, sha256(convert_to($4, 'UTF8')), $5, "
                    "CASE WHEN $6 = '' THEN NULL ELSE now() + make_interval(days => NULLIF($6, '')::int) END) "
                    "RETURNING ") + kColumns,
        user_id, name, secret.substr(0, 10), secret, is_admin,
        expires_in_days ? std::to_string(*expires_in_days) : std::string()));
  });
  return token;
}

std::vector<ApiToken> ApiTokens::list(const std::string& user_id) {
  auto connection = pool_.acquire();
  pqxx::read_transaction tx(*connection);
  std::vector<ApiToken> out;
  for (const auto& r : tx.exec_params(std::string("SELECT ") + kColumns +
                                          " FROM api_tokens WHERE $1 = '' OR user_id = NULLIF($1, '')::uuid ORDER BY created_at",
                                      user_id))
    out.push_back(to_token(r));
  return out;
}

bool ApiTokens::revoke(const std::string& id) {
  bool done = false;
  transact(pool_, "", [&](pqxx::work& tx) {
    done = tx.exec_params("UPDATE api_tokens SET revoked_at = now() WHERE id::text = lower($1) AND revoked_at IS NULL", id)
               .affected_rows() == 1;
  });
  return done;
}

std::optional<Authenticated> ApiTokens::authenticate(const std::string& secret) {
  std::optional<Authenticated> out;
  bool record_use = false;
  {
    Reader reader(pool_);
    const auto r = exec_prepared(
        reader.tx(), "mr_authenticate",
        "SELECT id::text, user_id::text, is_admin, last_used_at IS NULL OR last_used_at < now() - interval '1 minute'"
        " FROM api_tokens WHERE token_hash = sha256(convert_to($1, 'UTF8'))"
        " AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
        secret);
    if (r.empty()) return out;
    out = Authenticated{r[0][0].as<std::string>(), r[0][1].as<std::string>(), r[0][2].as<bool>()};
    record_use = r[0][3].as<bool>();
  }
  // The last use is kept to the minute: writing it on every request would make all of a
  // token's concurrent requests queue on its row.
  if (record_use)
    transact(pool_, "", [&](pqxx::work& tx) {
      tx.exec_params("UPDATE api_tokens SET last_used_at = now() WHERE id = $1::uuid", out->token_id);
    });
  return out;
}

void transact_as_app(Pool& pool, const std::string& actor_id, const std::function<void(pqxx::work&)>& work) {
  ActingAs scope(actor_id);
  transact(pool, actor_id, work);
}

}  // namespace mailroom::db
