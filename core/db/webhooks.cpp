#include "db.hpp"
#include "sql_arrays.hpp"

namespace mailroom::db {
namespace {

const char* const kSubscriptionColumns =
    "id::text, user_id::text, url, array_to_json(event_types)::text, coalesce(description, ''), secret_encrypted,"
    " coalesce(previous_secret_encrypted, ''), coalesce(previous_secret_expires_at::text, ''),"
    " coalesce(previous_secret_expires_at > now(), false), status, coalesce(paused_reason, ''),"
    " coalesce(failing_since::text, ''), created_at::text, updated_at::text";

WebhookSubscription to_subscription(const pqxx::row& r) {
  WebhookSubscription s;
  s.id = r[0].as<std::string>();
  s.user_id = r[1].as<std::string>();
  s.url = r[2].as<std::string>();
  s.event_types = from_json_array(r[3]);
  s.description = r[4].as<std::string>();
  s.secret_sealed = r[5].as<std::string>();
  s.previous_secret_sealed = r[6].as<std::string>();
  s.previous_secret_expires_at = r[7].as<std::string>();
  s.previous_secret_valid = r[8].as<bool>();
  s.status = r[9].as<std::string>();
  s.paused_reason = r[10].as<std::string>();
  s.failing_since = r[11].as<std::string>();
  s.created_at = r[12].as<std::string>();
  s.updated_at = r[13].as<std::string>();
  return s;
}

template <class F>
void guarded_write(F&& write) {
  try {
    write();
  } catch (const pqxx::foreign_key_violation&) {
    throw DbError("no such user");
  } catch (const pqxx::check_violation& e) {
    const std::string what = e.what();
    for (const char* field : {"url", "event_types", "status"})
      if (what.find(std::string("_") + field + "_check") != std::string::npos)
        throw DbError(std::string("invalid ") + field);
    throw DbError("a value is out of range");
  }
}

}  // namespace

std::string WebhookSubscriptions::new_id() {
  Reader reader(pool_);
  return reader.tx().exec("SELECT gen_random_uuid()::text")[0][0].as<std::string>();
}

void WebhookSubscriptions::create(const WebhookSubscription& s, const std::string& actor_id) {
  guarded_write([&] {
    transact(pool_, actor_id, [&](pqxx::work& tx) {
      tx.exec_params(
          "INSERT INTO webhook_subscriptions (id, user_id, url, event_types, description, secret_encrypted, status)"
          " VALUES ($1::uuid, $2::uuid, $3, $4::text[], NULLIF($5, ''), $6, $7)",
          s.id, s.user_id, s.url, text_array(s.event_types), s.description, s.secret_sealed, s.status);
    });
  });
}

std::optional<WebhookSubscription> WebhookSubscriptions::find(const std::string& id) {
  if (!is_uuid(id)) return std::nullopt;
  Reader reader(pool_);
  const auto rows = reader.tx().exec_params(
      std::string("SELECT ") + kSubscriptionColumns + " FROM webhook_subscriptions WHERE id = $1::uuid", id);
  if (rows.empty()) return std::nullopt;
  return to_subscription(rows[0]);
}

std::vector<WebhookSubscription> WebhookSubscriptions::list(const std::string& user_id) {
  Reader reader(pool_);
  std::vector<WebhookSubscription> out;
  for (const auto& r : reader.tx().exec_params(std::string("SELECT ") + kSubscriptionColumns +
                                                   " FROM webhook_subscriptions"
                                                   " WHERE NULLIF($1, '') IS NULL OR user_id = NULLIF($1, '')::uuid"
                                                   " ORDER BY created_at, id",
                                               user_id))
    out.push_back(to_subscription(r));
  return out;
}

bool WebhookSubscriptions::update(const WebhookSubscription& s, const std::string& actor_id) {
  bool found = false;
  guarded_write([&] {
    transact(pool_, actor_id, [&](pqxx::work& tx) {
      found = tx.exec_params(
                    "UPDATE webhook_subscriptions SET url = $2, event_types = $3::text[], description = NULLIF($4, ''),"
                    " paused_reason = CASE WHEN $5 = 'active' THEN NULL ELSE coalesce(NULLIF($6, ''), paused_reason) END,"
                    " failing_since = CASE WHEN $5 = 'active' AND status = 'paused' THEN NULL ELSE failing_since END,"
                    " status = $5 WHERE id = $1::uuid",
                    s.id, s.url, text_array(s.event_types), s.description, s.status, s.paused_reason)
                  .affected_rows() > 0;
      // Resumed: what waited for it goes out now.
      if (found && s.status == "active") tx.exec("SELECT pg_notify('mailroom_webhooks', '')");
    });
  });
  return found;
}

bool WebhookSubscriptions::rotate(const std::string& id, const std::string& new_sealed,
                                  const std::string& previous_sealed, long grace_seconds, const std::string& actor_id) {
  bool found = false;
  transact(pool_, actor_id, [&](pqxx::work& tx) {
    found = tx.exec_params(
                  "UPDATE webhook_subscriptions SET secret_encrypted = $2, previous_secret_encrypted = NULLIF($3, ''),"
                  " previous_secret_expires_at = CASE WHEN $3 = '' THEN NULL"
                  "   ELSE now() + make_interval(secs => $4::float8) END WHERE id = $1::uuid",
                  id, new_sealed, previous_sealed, static_cast<double>(grace_seconds))
                .affected_rows() > 0;
  });
  return found;
}

bool WebhookSubscriptions::remove(const std::string& id, const std::string& actor_id) {
  if (!is_uuid(id)) return false;
  bool found = false;
  transact(pool_, actor_id, [&](pqxx::work& tx) {
    found = tx.exec_params("DELETE FROM webhook_subscriptions WHERE id = $1::uuid", id).affected_rows() > 0;
  });
  return found;
}

std::size_t WebhookSubscriptions::replay(const std::string& id, const std::string& since, const std::string& actor_id) {
  std::size_t count = 0;
  transact(pool_, actor_id, [&](pqxx::work& tx) {
    // A message being delivered right now is left to finish; every other one starts over,
    // under the id it had (receivers that de-duplicate on webhook-id see one event once).
    count = tx.exec_params(
                  "INSERT INTO webhook_messages (event_id, subscription_id, user_id)"
                  " SELECT e.id, s.id, s.user_id FROM webhook_subscriptions s"
                  " JOIN webhook_events e ON e.user_id = s.user_id AND e.event_type = ANY (s.event_types)"
                  "  AND e.created_at >= greatest($2::timestamptz, s.created_at)"
                  " WHERE s.id = $1::uuid"
                  " ON CONFLICT (event_id, subscription_id) DO UPDATE SET status = 'pending', attempts = 0,"
                  "  next_attempt_at = now(), locked_by = NULL, last_error = NULL, delivered_at = NULL"
                  "  WHERE webhook_messages.status <> 'delivering'",
                  id, since)
                .affected_rows();
    tx.exec("SELECT pg_notify('mailroom_webhooks', '')");
  });
  return count;
}

std::vector<WebhookAttemptRow> WebhookSubscriptions::attempts(const std::string& subscription_id, std::size_t limit) {
  std::vector<WebhookAttemptRow> out;
  if (!is_uuid(subscription_id)) return out;
  Reader reader(pool_);
  for (const auto& r : reader.tx().exec_params(
           "SELECT a.id::text, a.message_id::text, e.event_type, a.attempted_at::text, a.outcome,"
           " coalesce(a.error, ''), coalesce(a.response, ''), a.attempt, a.status_code, a.latency_ms"
           " FROM webhook_attempts a JOIN webhook_messages m ON m.id = a.message_id"
           " JOIN webhook_events e ON e.id = m.event_id"
           " WHERE a.subscription_id = $1::uuid ORDER BY a.attempted_at DESC, a.id DESC LIMIT $2",
           subscription_id, static_cast<long>(limit))) {
    WebhookAttemptRow a;
    a.id = r[0].as<std::string>();
    a.message_id = r[1].as<std::string>();
    a.event_type = r[2].as<std::string>();
    a.attempted_at = r[3].as<std::string>();
    a.outcome = r[4].as<std::string>();
    a.error = r[5].as<std::string>();
    a.response = r[6].as<std::string>();
    a.attempt = r[7].as<int>();
    if (!r[8].is_null()) a.status_code = r[8].as<int>();
    a.latency_ms = r[9].as<int>();
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<WebhookSubscription> WebhookSubscriptions::needing_rotation(const std::string& key_id, std::size_t limit) {
  Reader reader(pool_);
  std::vector<WebhookSubscription> out;
  const std::string prefix = "v1:" + key_id + ":";
  for (const auto& r : reader.tx().exec_params(
           std::string("SELECT ") + kSubscriptionColumns +
               " FROM webhook_subscriptions WHERE NOT starts_with(secret_encrypted, $1)"
               " OR NOT starts_with(coalesce(previous_secret_encrypted, $1), $1) ORDER BY id LIMIT $2",
           prefix, static_cast<long>(limit)))
    out.push_back(to_subscription(r));
  return out;
}

void WebhookSubscriptions::store_secrets(const std::vector<WebhookSubscription>& rows) {
  transact(pool_, "", [&](pqxx::work& tx) {
    for (const auto& s : rows)
      tx.exec_params(
          "UPDATE webhook_subscriptions SET secret_encrypted = $2, previous_secret_encrypted = NULLIF($3, '')"
          " WHERE id = $1::uuid",
          s.id, s.secret_sealed, s.previous_secret_sealed);
  });
}

std::vector<ClaimedWebhook> WebhookOutbox::claim(const std::string& worker, std::size_t limit, double lease_seconds) {
  auto connection = pool_.acquire();
  pqxx::work tx(*connection);
  // MATERIALIZED: the LIMIT binds before the UPDATE (the email queue's claim explains why).
  // The attempt is counted when claimed, so an attempt cut short by a crash still counts.
  const auto rows = tx.exec_params(
      "WITH due AS MATERIALIZED ("
      "  SELECT m.id FROM webhook_messages m"
      "  WHERE m.status IN ('pending', 'delivering') AND m.next_attempt_at <= now()"
      "   AND EXISTS (SELECT 1 FROM webhook_subscriptions s WHERE s.id = m.subscription_id AND s.status = 'active')"
      "  ORDER BY m.next_attempt_at LIMIT $2 FOR UPDATE OF m SKIP LOCKED),"
      " claimed AS ("
      "  UPDATE webhook_messages m SET status = 'delivering', locked_by = $1, attempts = m.attempts + 1,"
      "   next_attempt_at = now() + make_interval(secs => $3)"
      "  FROM due WHERE m.id = due.id RETURNING m.id, m.subscription_id, m.event_id, m.attempts)"
      " SELECT c.id::text, c.subscription_id::text, s.url, e.event_type, e.payload::text, c.attempts,"
      "  s.secret_encrypted, CASE WHEN s.previous_secret_expires_at > now()"
      "   THEN coalesce(s.previous_secret_encrypted, '') ELSE '' END"
      " FROM claimed c JOIN webhook_events e ON e.id = c.event_id"
      " JOIN webhook_subscriptions s ON s.id = c.subscription_id ORDER BY e.created_at",
      worker, static_cast<long>(limit), lease_seconds);
  tx.commit();
  std::vector<ClaimedWebhook> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    ClaimedWebhook w;
    w.message_id = r[0].as<std::string>();
    w.subscription_id = r[1].as<std::string>();
    w.url = r[2].as<std::string>();
    w.event_type = r[3].as<std::string>();
    w.body = r[4].as<std::string>();
    w.attempt = r[5].as<int>();
    w.secret_sealed = r[6].as<std::string>();
    w.previous_secret_sealed = r[7].as<std::string>();
    out.push_back(std::move(w));
  }
  return out;
}

std::vector<std::string> WebhookOutbox::complete(const std::string& worker, const std::vector<WebhookResult>& results,
                                                 long pause_after_seconds) {
  std::vector<std::string> paused;
  if (results.empty()) return paused;
  std::vector<std::string> ids, subscriptions, attempts, codes, latencies, outcomes, errors, responses, delays;
  std::vector<std::string> succeeded, failing, failing_errors;
  for (const auto& r : results) {
    ids.push_back(r.message_id);
    subscriptions.push_back(r.subscription_id);
    attempts.push_back(std::to_string(r.attempt));
    codes.push_back(r.status_code ? std::to_string(*r.status_code) : "");
    latencies.push_back(std::to_string(r.latency_ms));
    outcomes.push_back(r.outcome);
    errors.push_back(r.error);
    responses.push_back(r.response);
    delays.push_back(std::to_string(r.retry_in_seconds));
    if (r.outcome == "delivered") {
      succeeded.push_back(r.subscription_id);
    } else {
      failing.push_back(r.subscription_id);
      failing_errors.push_back(r.error.empty() ? "HTTP " + codes.back() : r.error);
    }
  }
  auto connection = pool_.acquire();
  pqxx::work tx(*connection);
  tx.exec_params(
      "INSERT INTO webhook_attempts (message_id, subscription_id, user_id, attempt, status_code, latency_ms, outcome,"
      " error, response)"
      " SELECT r.id, r.sub, m.user_id, r.attempt, NULLIF(r.code, '')::int, r.latency, r.outcome, NULLIF(r.error, ''),"
      "  NULLIF(r.response, '')"
      " FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[])"
      "  AS r(id, sub, attempt, code, latency, outcome, error, response)"
      " JOIN webhook_messages m ON m.id = r.id",
      text_array(ids), text_array(subscriptions), text_array(attempts), text_array(codes), text_array(latencies),
      text_array(outcomes), text_array(errors), text_array(responses));
  // Guarded by the claim: a host whose lease ran out (and whose message another host took)
  // does not overwrite what that host decides.
  tx.exec_params(
      "UPDATE webhook_messages m SET"
      " status = CASE WHEN r.outcome = 'delivered' THEN 'delivered' WHEN r.delay > 0 THEN 'pending' ELSE 'failed' END,"
      " next_attempt_at = CASE WHEN r.outcome <> 'delivered' AND r.delay > 0"
      "   THEN now() + make_interval(secs => r.delay) ELSE m.next_attempt_at END,"
      " delivered_at = CASE WHEN r.outcome = 'delivered' THEN now() END,"
      " last_error = CASE WHEN r.outcome = 'delivered' THEN NULL ELSE NULLIF(r.error, '') END, locked_by = NULL"
      " FROM unnest($2::uuid[], $3::text[], $4::float8[], $5::text[]) AS r(id, outcome, delay, error)"
      " WHERE m.id = r.id AND m.locked_by = $1 AND m.status = 'delivering'",
      worker, text_array(ids), text_array(outcomes), text_array(delays), text_array(errors));
  if (!succeeded.empty())
    tx.exec_params("UPDATE webhook_subscriptions SET failing_since = NULL"
                   " WHERE id = ANY($1::uuid[]) AND failing_since IS NOT NULL",
                   text_array(succeeded));
  if (!failing.empty()) {
    tx.exec_params("UPDATE webhook_subscriptions SET failing_since = now()"
                   " WHERE id = ANY($1::uuid[]) AND NOT id = ANY($2::uuid[]) AND failing_since IS NULL",
                   text_array(failing), text_array(succeeded));
    if (pause_after_seconds > 0)
      for (const auto& r : tx.exec_params(
               "UPDATE webhook_subscriptions s SET status = 'paused',"
               " paused_reason = 'paused by mailroom: every delivery since ' || to_char(s.failing_since AT TIME ZONE 'UTC',"
               "  'YYYY-MM-DD HH24:MI') || ' UTC failed (the last: ' || f.error || '); resume it once the endpoint answers 2xx'"
               " FROM (SELECT DISTINCT ON (id) id, error FROM unnest($1::uuid[], $2::text[]) AS f(id, error)) f"
               " WHERE s.id = f.id AND s.status = 'active' AND NOT s.id = ANY($4::uuid[])"
               "  AND s.failing_since < now() - make_interval(secs => $3::float8)"
               " RETURNING s.id::text",
               text_array(failing), text_array(failing_errors), static_cast<double>(pause_after_seconds),
               text_array(succeeded)))
        paused.push_back(r[0].as<std::string>());
  }
  tx.commit();
  return paused;
}

}  // namespace mailroom::db
