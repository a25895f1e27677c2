// Private to core/db: text arrays in and out of SQL (libpqxx 6.4 has no array parameters),
// and the hot statements prepared once per connection.
#pragma once

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <cctype>
#include <string>
#include <utility>
#include <vector>

namespace mailroom::db {

// A PostgreSQL array literal of text values, for `$n::text[]` (or `::uuid[]`, `::int[]`).
inline std::string text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// A column selected as `array_to_json(col)::text`: JSON's quoting, not PostgreSQL's.
inline std::vector<std::string> from_json_array(const pqxx::field& field) {
  return nlohmann::json::parse(field.as<std::string>()).get<std::vector<std::string>>();
}

// Runs `sql` as the connection's prepared statement `name`, prepared on its first use: the hot
// paths (authentication, enqueue) skip the server's parse and plan on every call. One name,
// one statement.
template <class... Args>
pqxx::result exec_prepared(pqxx::transaction_base& tx, const std::string& name, const std::string& sql, Args&&... args) {
  tx.conn().prepare(name, sql);  // a no-op once declared with the same text
  return tx.exec_prepared(name, std::forward<Args>(args)...);
}

}  // namespace mailroom::db
