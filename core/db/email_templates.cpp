#include "db.hpp"
#include "sql_arrays.hpp"

namespace mailroom::db {
namespace {

const char* const kColumns =
    "id::text, coalesce(user_id::text, ''), name, coalesce(description, ''), subject, coalesce(text_body, ''),"
    " coalesce(html_body, ''), array_to_json(variables)::text, is_active, is_system_template";

TemplateRow to_row(const pqxx::row& r) {
  TemplateRow t;
  t.id = r[0].as<std::string>();
  t.user_id = r[1].as<std::string>();
  t.name = r[2].as<std::string>();
  t.description = r[3].as<std::string>();
  t.subject = r[4].as<std::string>();
  t.text_body = r[5].as<std::string>();
  t.html_body = r[6].as<std::string>();
  t.variables = from_json_array(r[7]);
  t.is_active = r[8].as<bool>();
  t.is_system_template = r[9].as<bool>();
  return t;
}

}  // namespace

std::string Templates::save(const TemplateRow& t, const std::string& actor_id) {
  std::string id;
  transact(pool_, actor_id, [&](pqxx::work& tx) {
    id = tx.exec_params1(
              "INSERT INTO email_templates (user_id, name, description, subject, text_body, html_body, variables,"
              " is_active, created_by, updated_by) VALUES ($1::uuid, $2, NULLIF($3, ''), $4, NULLIF($5, ''),"
              " NULLIF($6, ''), $7::text[], $8, $1::uuid, $1::uuid)"
              " ON CONFLICT (coalesce(user_id, '00000000-0000-0000-0000-000000000000'::uuid), name) DO UPDATE SET"
              " description = EXCLUDED.description, subject = EXCLUDED.subject, text_body = EXCLUDED.text_body,"
              " html_body = EXCLUDED.html_body, variables = EXCLUDED.variables, is_active = EXCLUDED.is_active,"
              " updated_by = EXCLUDED.updated_by RETURNING id::text",
              t.user_id, t.name, t.description, t.subject, t.text_body, t.html_body, text_array(t.variables),
              t.is_active)[0]
             .as<std::string>();
  });
  return id;
}

std::optional<TemplateRow> Templates::find(const std::string& user_id, const std::string& name) {
  Reader reader(pool_);
  auto& tx = reader.tx();
  // The user's own template of that name wins over the system one.
  const auto rows = tx.exec_params(std::string("SELECT ") + kColumns +
                                       " FROM email_templates WHERE name = $2 AND is_active AND"
                                       " (user_id = NULLIF($1, '')::uuid OR user_id IS NULL)"
                                       " ORDER BY user_id IS NULL LIMIT 1",
                                   user_id, name);
  if (rows.empty()) return std::nullopt;
  return to_row(rows[0]);
}

std::vector<TemplateRow> Templates::list(const std::string& user_id) {
  Reader reader(pool_);
  auto& tx = reader.tx();
  std::vector<TemplateRow> out;
  for (const auto& r : tx.exec_params(std::string("SELECT ") + kColumns +
                                          " FROM email_templates WHERE user_id = NULLIF($1, '')::uuid OR user_id IS NULL"
                                          " ORDER BY name, user_id IS NULL",
                                      user_id))
    out.push_back(to_row(r));
  return out;
}

bool Templates::remove(const std::string& user_id, const std::string& name) {
  bool removed = false;
  transact(pool_, user_id, [&](pqxx::work& tx) {
    removed = tx.exec_params("DELETE FROM email_templates WHERE user_id = $1::uuid AND name = $2", user_id, name)
                  .affected_rows() > 0;
  });
  return removed;
}

}  // namespace mailroom::db
