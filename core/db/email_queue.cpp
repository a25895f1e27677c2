#include "db.hpp"
#include "sql_arrays.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <set>

namespace mailroom::db {
namespace {

std::string text_or_empty(const pqxx::field& f) { return f.is_null() ? "" : f.as<std::string>(); }

// An event's email, and whether the event is about the email's own recipient ($3; empty: it
// is): only then does the event change the email (a Cc or Bcc address's bounce does not).
const char* const kEventEmailColumns =
    "SELECT id::text, user_id::text, recipient_email, ($3 = '' OR lower($3) = lower(recipient_email)) FROM email_queue";

// A version 4 UUID (RFC 9562) from OpenSSL's CSPRNG: one round trip fewer than asking the server.
std::string random_uuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) throw DbError("no random bytes for an id");
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[b[i] >> 4];
    out += hex[b[i] & 15];
  }
  return out;
}

const char* const kNotifyChannel = "mailroom_email_queue";

std::string hex_of(const unsigned char* data, std::size_t size) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += hex[data[i] >> 4];
    out += hex[data[i] & 15];
  }
  return out;
}

std::string sha256_hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  return hex_of(digest, length);
}

// Writes the attachments of the emails just inserted (`ids[i]` is `emails[i]`'s id, empty when
// the idempotency key turned it away): each distinct content once per user (a newsletter's PDF
// for 10,000 recipients is sent to the server and kept once), then one row per attachment
// naming it. Two statements, whatever the number of emails.
void insert_attachments(pqxx::work& tx, const std::vector<const NewQueuedEmail*>& emails, const std::vector<std::string>& ids) {
  std::set<std::pair<std::string, std::string>> seen;  // (user, sha256)
  std::vector<std::string> content_users, content_hashes, contents, sizes;
  std::vector<std::string> email_ids, positions, users, filenames, types, content_ids, hashes;
  for (std::size_t i = 0; i < emails.size(); ++i) {
    if (ids[i].empty()) continue;
    const auto& attachments = emails[i]->extras.attachments;
    for (std::size_t k = 0; k < attachments.size(); ++k) {
      const auto& a = attachments[k];
      const std::string hash = sha256_hex(a.content);
      if (seen.insert({emails[i]->user_id, hash}).second) {
        content_users.push_back(emails[i]->user_id);
        content_hashes.push_back(hash);
        contents.push_back(hex_of(reinterpret_cast<const unsigned char*>(a.content.data()), a.content.size()));
        sizes.push_back(std::to_string(a.content.size()));
      }
      email_ids.push_back(ids[i]);
      positions.push_back(std::to_string(k));
      users.push_back(emails[i]->user_id);
      filenames.push_back(a.filename);
      types.push_back(a.content_type);
      content_ids.push_back(a.content_id);
      hashes.push_back(hash);
    }
  }
  if (email_ids.empty()) return;
  exec_prepared(tx, "mr_attachment_contents",
                "INSERT INTO email_attachment_contents (user_id, sha256, content, size_bytes)"
                " SELECT u, decode(h, 'hex'), decode(c, 'hex'), s"
                " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[]) AS r(u, h, c, s)"
                " ON CONFLICT (user_id, sha256) DO NOTHING",
                text_array(content_users), text_array(content_hashes), text_array(contents), text_array(sizes));
  exec_prepared(tx, "mr_attachments",
                "INSERT INTO email_attachments (email_queue_id, position, user_id, filename, content_type, content_id, sha256)"
                " SELECT e, p, u, f, t, NULLIF(c, ''), decode(h, 'hex')"
                " FROM unnest($1::uuid[], $2::int[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[])"
                "   AS r(e, p, u, f, t, c, h)",
                text_array(email_ids), text_array(positions), text_array(users), text_array(filenames), text_array(types),
                text_array(content_ids), text_array(hashes));
}

nlohmann::json headers_json(const std::vector<std::pair<std::string, std::string>>& headers) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [name, value] : headers) out.push_back({name, value});
  return out;
}

}  // namespace

std::vector<EnqueuedEmail> EmailQueue::insert(const std::vector<NewQueuedEmail>& emails, const std::string& actor_id) {
  constexpr std::size_t kRowsPerStatement = 1000;
  std::vector<EnqueuedEmail> out(emails.size());
  transact(pool_, actor_id, [&](pqxx::work& tx) {
    for (std::size_t first = 0; first < emails.size(); first += kRowsPerStatement) {
      const std::size_t last = std::min(emails.size(), first + kRowsPerStatement);
      // Ids are made first, so that the rows an idempotency key turned away are known.
      std::vector<std::string> ids;
      for (std::size_t i = first; i < last; ++i) ids.push_back(random_uuid());
      std::vector<std::string> users, configs, recipients, names, ccs, bccs, froms, from_names, reply_tos, subjects,
          texts, htmls, template_names, template_data, priorities, run_ats, max_retries, keys, headers, tags, metadata,
          unsubscribes, mailtos;
      for (std::size_t i = first; i < last; ++i) {
        const auto& e = emails[i];
        users.push_back(e.user_id);
        configs.push_back(e.configuration_id);
        recipients.push_back(e.recipient_email);
        names.push_back(e.recipient_name);
        ccs.push_back(nlohmann::json(e.cc).dump());
        bccs.push_back(nlohmann::json(e.bcc).dump());
        froms.push_back(e.from_address);
        from_names.push_back(e.from_name);
        reply_tos.push_back(e.reply_to_address);
        subjects.push_back(e.subject);
        texts.push_back(e.text_body);
        htmls.push_back(e.html_body);
        template_names.push_back(e.template_name);
        template_data.push_back(e.template_data.dump());
        priorities.push_back(std::to_string(e.priority));
        run_ats.push_back(e.run_at);
        max_retries.push_back(std::to_string(e.max_retries));
        keys.push_back(e.idempotency_key);
        headers.push_back(headers_json(e.extras.headers).dump());
        tags.push_back(nlohmann::json(e.extras.tags).dump());
        metadata.push_back(nlohmann::json(e.extras.metadata).dump());
        unsubscribes.push_back(e.extras.list_unsubscribe ? "true" : "false");
        mailtos.push_back(e.extras.unsubscribe_mailto);
      }
      // One statement per chunk: rows, then their `queued` delivery logs.
      const auto inserted = exec_prepared(
          tx, "mr_enqueue",
          "WITH r AS (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[],"
          "   $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],"
          "   $15::text[], $16::int[], $17::text[], $18::int[], $19::text[], $20::text[], $21::text[], $22::text[],"
          "   $23::boolean[], $24::text[])"
          "   AS r(id, user_id, configuration_id, recipient_email, recipient_name, cc, bcc, from_address, from_name,"
          "        reply_to_address, subject, text_body, html_body, template_name, template_data, priority, run_at,"
          "        max_retries, idempotency_key, headers, tags, metadata, list_unsubscribe, unsubscribe_mailto)),"
          " ins AS ("
          "  INSERT INTO email_queue (id, user_id, email_configuration_id, recipient_email, recipient_name, cc, bcc,"
          "   from_address, from_name, reply_to_address, subject, text_body, html_body, template_name, template_data,"
          "   priority, run_at, max_retries, idempotency_key, headers, tags, metadata, list_unsubscribe,"
          "   unsubscribe_mailto, status)"
          "  SELECT id, user_id, configuration_id, recipient_email, NULLIF(recipient_name, ''),"
          "   ARRAY(SELECT jsonb_array_elements_text(cc::jsonb)), ARRAY(SELECT jsonb_array_elements_text(bcc::jsonb)),"
          "   NULLIF(from_address, ''), NULLIF(from_name, ''), NULLIF(reply_to_address, ''), subject,"
          "   NULLIF(text_body, ''), NULLIF(html_body, ''), NULLIF(template_name, ''),"
          "   NULLIF(template_data, 'null')::jsonb, priority, coalesce(NULLIF(run_at, '')::timestamptz, now()),"
          "   max_retries, NULLIF(idempotency_key, ''), headers::jsonb, ARRAY(SELECT jsonb_array_elements_text(tags::jsonb)),"
          "   metadata::jsonb, list_unsubscribe, NULLIF(unsubscribe_mailto, ''), 'queued' FROM r"
          "  ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL AND status <> 'failed'"
          "  DO NOTHING RETURNING id, user_id),"
          " logged AS ("
          "  INSERT INTO email_delivery_logs (email_queue_id, user_id, event_type, event_status)"
          "  SELECT id, user_id, 'queued', 'enqueued' FROM ins)"
          // Identical notifications of one transaction are delivered once: workers wake once.
          " SELECT id::text, pg_notify('" + std::string(kNotifyChannel) + "', '') FROM ins",
          text_array(ids), text_array(users), text_array(configs), text_array(recipients), text_array(names),
          text_array(ccs), text_array(bccs), text_array(froms), text_array(from_names), text_array(reply_tos),
          text_array(subjects), text_array(texts), text_array(htmls), text_array(template_names),
          text_array(template_data), text_array(priorities), text_array(run_ats), text_array(max_retries),
          text_array(keys), text_array(headers), text_array(tags), text_array(metadata), text_array(unsubscribes),
          text_array(mailtos));
      std::set<std::string> fresh;
      for (const auto& r : inserted) fresh.insert(r[0].as<std::string>());
      std::vector<const NewQueuedEmail*> chunk;
      std::vector<std::string> fresh_ids;
      for (std::size_t i = first; i < last; ++i) {
        chunk.push_back(&emails[i]);
        fresh_ids.push_back(fresh.count(ids[i - first]) ? ids[i - first] : "");
      }
      insert_attachments(tx, chunk, fresh_ids);
      for (std::size_t i = first; i < last; ++i) {
        const std::string& id = ids[i - first];
        if (fresh.count(id)) {
          out[i] = {id, false};
          continue;
        }
        // Turned away by the key: the live email that holds it (maybe one of this call's).
        const auto existing = tx.exec_params(
            "SELECT id::text FROM email_queue WHERE user_id = $1::uuid AND idempotency_key = $2 AND status <> 'failed'",
            emails[i].user_id, emails[i].idempotency_key);
        if (existing.empty()) throw DbError("email " + std::to_string(i + 1) + " was not queued");
        out[i] = {existing[0][0].as<std::string>(), true};
      }
    }
  });
  return out;
}

std::vector<ClaimedEmail> EmailQueue::claim(const std::string& worker, std::size_t limit, double lease_seconds,
                                            const std::vector<std::string>& skip_configurations) {
  auto connection = pool_.acquire();
  pqxx::work tx(*connection);
  // The claim must walk idx_email_queue_due in order and stop after LIMIT rows. When the
  // statistics predate a bulk enqueue (the usual case until autovacuum analyzes again), the
  // planner expects few due rows and reads and sorts all of them instead (a bitmap scan, or
  // idx_email_queue_status): 12-15 ms per claim at 20 000 queued, growing with the backlog.
  // Without sorts the ordered index scan is the only plan left for the CTE. The disabled
  // sort still counts in the cost (the final ORDER BY), which would start JIT compilation,
  // 220 ms a claim: JIT never pays off for a statement this short.
  tx.exec("SET LOCAL enable_sort = off; SET LOCAL jit = off");
  // MATERIALIZED: without it the planner may inline the CTE and lock more rows than LIMIT.
  const auto rows = tx.exec_params(
      "WITH due AS MATERIALIZED ("
      "  SELECT id FROM email_queue WHERE status = 'queued' AND run_at <= now()"
      // A configuration whose sends are backed up is skipped (a filter on the same walk:
      // its due rows are read and passed over, which costs only while others wait).
      "    AND (email_configuration_id IS NULL OR email_configuration_id <> ALL($4::uuid[]))"
      "  ORDER BY priority, run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED),"
      " claimed AS ("
      "  UPDATE email_queue q SET status = 'sending', locked_by = $1,"
      "    locked_until = now() + make_interval(secs => $3)"
      // "= ANY(ARRAY(...))" reaches the rows through the primary key; a join with the CTE
      // is planned as a hash join over a sequential scan of the whole table, dead rows
      // included, so every claim would cost in proportion to the queue's history.
      "  WHERE q.id = ANY(ARRAY(SELECT id FROM due))"
      "  RETURNING q.id, q.user_id, q.email_configuration_id, q.recipient_email, q.recipient_name, q.cc, q.bcc,"
      "    q.from_address, q.from_name, q.reply_to_address, q.subject, q.text_body, q.html_body, q.retry_count,"
      "    q.max_retries, q.priority, q.run_at, q.headers, q.tags, q.metadata, q.list_unsubscribe, q.unsubscribe_mailto),"
      " logged AS ("
      "  INSERT INTO email_delivery_logs (email_queue_id, user_id, event_type, event_status)"
      "  SELECT id, user_id, 'sending', 'claimed' FROM claimed)"
      " SELECT id::text, user_id::text, coalesce(email_configuration_id::text, '') AS configuration_id,"
      "  recipient_email, recipient_name, array_to_json(cc)::text AS cc, array_to_json(bcc)::text AS bcc,"
      "  from_address, from_name, reply_to_address, subject, text_body, html_body, retry_count, max_retries,"
      "  headers::text AS headers, array_to_json(tags)::text AS tags, metadata::text AS metadata, list_unsubscribe,"
      "  coalesce(unsubscribe_mailto, '') AS unsubscribe_mailto"
      " FROM claimed ORDER BY priority, run_at, id",
      worker, static_cast<long>(limit), lease_seconds, text_array(skip_configurations));
  // The claimed emails' attachments, in one read (most batches have none: an index probe each).
  std::vector<std::string> claimed_ids;
  for (const auto& r : rows) claimed_ids.push_back(r["id"].as<std::string>());
  const auto attachment_rows =
      rows.empty() ? pqxx::result()
                   : tx.exec_params("SELECT a.email_queue_id::text, a.filename, a.content_type, coalesce(a.content_id, ''),"
                                    " c.content FROM email_attachments a"
                                    " JOIN email_attachment_contents c ON c.user_id = a.user_id AND c.sha256 = a.sha256"
                                    " WHERE a.email_queue_id = ANY($1::uuid[]) ORDER BY a.email_queue_id, a.position",
                                    text_array(claimed_ids));
  tx.commit();
  std::map<std::string, std::vector<EmailAttachment>> attachments;
  for (const auto& r : attachment_rows)
    attachments[r[0].as<std::string>()].push_back(
        {r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>(), pqxx::binarystring(r[4]).str()});
  std::vector<ClaimedEmail> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    ClaimedEmail e;
    e.id = r["id"].as<std::string>();
    e.user_id = r["user_id"].as<std::string>();
    e.configuration_id = r["configuration_id"].as<std::string>();
    e.recipient_email = r["recipient_email"].as<std::string>();
    e.recipient_name = text_or_empty(r["recipient_name"]);
    e.cc = from_json_array(r["cc"]);
    e.bcc = from_json_array(r["bcc"]);
    e.from_address = text_or_empty(r["from_address"]);
    e.from_name = text_or_empty(r["from_name"]);
    e.reply_to_address = text_or_empty(r["reply_to_address"]);
    e.subject = r["subject"].as<std::string>();
    e.text_body = text_or_empty(r["text_body"]);
    e.html_body = text_or_empty(r["html_body"]);
    e.retry_count = r["retry_count"].as<int>();
    e.max_retries = r["max_retries"].as<int>();
    for (const auto& h : nlohmann::json::parse(r["headers"].as<std::string>())) e.extras.headers.emplace_back(h[0], h[1]);
    e.extras.tags = from_json_array(r["tags"]);
    e.extras.metadata = nlohmann::json::parse(r["metadata"].as<std::string>()).get<std::map<std::string, std::string>>();
    if (auto it = attachments.find(e.id); it != attachments.end()) e.extras.attachments = std::move(it->second);
    e.extras.list_unsubscribe = r["list_unsubscribe"].as<bool>();
    e.extras.unsubscribe_mailto = r["unsubscribe_mailto"].as<std::string>();
    out.push_back(std::move(e));
  }
  return out;
}

std::size_t EmailQueue::complete(const std::string& worker, const std::vector<Completion>& completions) {
  if (completions.empty()) return 0;
  std::vector<std::string> ids, statuses, message_ids, delays, increments, kinds, codes, messages, events, details,
      providers;
  for (const auto& c : completions) {
    ids.push_back(c.id);
    statuses.emplace_back(to_string(c.status));
    message_ids.push_back(c.message_id);
    delays.push_back(std::to_string(c.delay_seconds));
    increments.push_back(std::to_string(c.retry_increment));
    kinds.push_back(c.error_kind);
    codes.push_back(c.error_code);
    messages.push_back(c.error_message);
    events.emplace_back(to_string(c.event_type));
    details.push_back(c.event_status);
    providers.push_back(c.provider);
  }
  auto connection = pool_.acquire();
  pqxx::work tx(*connection);
  // The statistics say almost nothing is 'sending' (true between batches), so the planner
  // expects one row from the lease index and loops over the whole batch for each row it
  // finds: 500 x 500 comparisons, 200 ms a batch. A hash join costs the same at any count.
  tx.exec("SET LOCAL enable_nestloop = off; SET LOCAL jit = off");
  // One statement for the whole batch; the lease guard (locked_by, status) skips any email
  // that was rescued and claimed by someone else meanwhile.
  const auto result = tx.exec_params(
      "WITH d AS (SELECT * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::float8[], $6::int[], $7::text[],"
      "  $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])"
      "  AS d(id, status, message_id, delay, increment, kind, code, message, event_type, event_status, provider)),"
      " done AS ("
      "  UPDATE email_queue q SET status = d.status,"
      "    message_id = coalesce(NULLIF(d.message_id, ''), q.message_id),"
      "    sent_at = CASE WHEN d.status = 'sent' THEN now() ELSE q.sent_at END,"
      "    run_at = CASE WHEN d.status = 'queued' THEN now() + make_interval(secs => d.delay) ELSE q.run_at END,"
      "    retry_count = q.retry_count + d.increment,"
      "    last_error = CASE WHEN d.status = 'sent' THEN NULL ELSE NULLIF(d.message, '') END,"
      "    last_error_kind = CASE WHEN d.status = 'sent' THEN NULL ELSE NULLIF(d.kind, '') END,"
      "    locked_by = NULL, locked_until = NULL"
      // "q.id = ANY($2)" lets the planner reach the rows through the primary key: it cannot
      // estimate unnest(), and with wide rows a hash join over the whole table costs 5x.
      "  FROM d WHERE q.id = d.id AND q.id = ANY($2::uuid[]) AND q.locked_by = $1 AND q.status = 'sending'"
      "  RETURNING q.id, q.user_id, d.event_type, d.event_status, d.code, d.message, d.provider)"
      " INSERT INTO email_delivery_logs (email_queue_id, user_id, event_type, event_status, error_code,"
      "  error_message, provider)"
      " SELECT id, user_id, event_type, NULLIF(event_status, ''), NULLIF(code, ''), NULLIF(message, ''),"
      "  NULLIF(provider, '') FROM done",
      worker, text_array(ids), text_array(statuses), text_array(message_ids), text_array(delays),
      text_array(increments), text_array(kinds), text_array(codes), text_array(messages), text_array(events),
      text_array(details), text_array(providers));
  std::vector<std::string> uncounted;
  for (const auto& c : completions)
    if (c.uncount_quota) uncounted.push_back(c.id);
  if (!uncounted.empty())
    // The provider refused these sends: they leave its window, and the counters show it.
    tx.exec_params(
        "WITH gone AS (DELETE FROM quota_sends WHERE email_id = ANY($1::uuid[]) RETURNING email_configuration_id)"
        " UPDATE google_workspace_quota g SET daily_quota_used = greatest(g.daily_quota_used - n.count, 0),"
        "  hourly_quota_used = greatest(g.hourly_quota_used - n.count, 0)"
        " FROM (SELECT email_configuration_id, count(*) AS count FROM gone GROUP BY 1) n"
        " WHERE g.email_configuration_id = n.email_configuration_id",
        text_array(uncounted));
  tx.commit();
  return result.affected_rows();
}

std::size_t EmailQueue::extend_leases(const std::string& worker, double lease_seconds) {
  auto connection = pool_.acquire();
  pqxx::work tx(*connection);
  const auto result = tx.exec_params(
      "UPDATE email_queue SET locked_until = now() + make_interval(secs => $2)"
      " WHERE status = 'sending' AND locked_by = $1",
      worker, lease_seconds);
  tx.commit();
  return result.affected_rows();
}

std::size_t EmailQueue::rescue() {
  auto connection = pool_.acquire();
  pqxx::work tx(*connection);
  // A crashed worker may have handed the email over already: the lost attempt counts.
  const auto result = tx.exec(
      "WITH expired AS ("
      "  UPDATE email_queue SET"
      "    status = CASE WHEN retry_count + 1 > max_retries THEN 'failed' ELSE 'queued' END,"
      "    retry_count = retry_count + 1, run_at = now(), locked_by = NULL, locked_until = NULL,"
      "    last_error = 'lease expired (the worker stopped while sending)', last_error_kind = 'transient'"
      "  WHERE status = 'sending' AND locked_until < now()"
      "  RETURNING id, user_id, status)"
      " INSERT INTO email_delivery_logs (email_queue_id, user_id, event_type, event_status, error_message)"
      " SELECT id, user_id, CASE WHEN status = 'failed' THEN 'failed' ELSE 'queued' END, 'lease_expired',"
      "  'the worker holding it stopped' FROM expired");
  tx.commit();
  return result.affected_rows();
}

bool EmailQueue::has_unfinished() {
  Reader reader(pool_);
  // Counting every status (status_counts) reads the whole history, which made each check
  // of `serve --until-empty` grow with the emails ever sent (bench/queue_drain --history).
  return reader.tx()
      .exec("SELECT EXISTS (SELECT 1 FROM email_queue WHERE status IN ('queued', 'sending'))")[0][0]
      .as<bool>();
}

std::map<std::string, long> EmailQueue::status_counts(const std::string& user_id) {
  Reader reader(pool_);
  auto& tx = reader.tx();
  std::map<std::string, long> out;
  for (const auto& r : tx.exec_params("SELECT status, count(*) FROM email_queue WHERE $1 = '' OR user_id = NULLIF($1, '')::uuid "
                                      "GROUP BY status",
                                      user_id))
    out[r[0].as<std::string>()] = r[1].as<long>();
  return out;
}

namespace {
const char* const kQueueRowColumns =
    "id::text, user_id::text, coalesce(email_configuration_id::text, ''), status, recipient_email, subject,"
    " coalesce(message_id, ''), coalesce(last_error, ''), coalesce(last_error_kind, ''), run_at::text,"
    " created_at::text, coalesce(sent_at::text, ''), coalesce(idempotency_key, ''), retry_count, max_retries,"
    " (extract(epoch FROM created_at) * 1000000)::bigint::text, coalesce(delivered_at::text, ''),"
    " coalesce(bounced_at::text, ''), coalesce(bounce_type, ''), coalesce(bounce_reason, ''),"
    " headers::text, array_to_json(tags)::text, metadata::text,"
    " (SELECT coalesce(json_agg(json_build_object('filename', a.filename, 'content_type', a.content_type,"
    "   'content_id', a.content_id, 'size', c.size_bytes) ORDER BY a.position), '[]')::text"
    "  FROM email_attachments a JOIN email_attachment_contents c ON c.user_id = a.user_id AND c.sha256 = a.sha256"
    "  WHERE a.email_queue_id = email_queue.id), list_unsubscribe, coalesce(unsubscribe_mailto, '')";

QueueEmailRow to_queue_row(const pqxx::row& r) {
  QueueEmailRow e;
  e.id = r[0].as<std::string>();
  e.user_id = r[1].as<std::string>();
  e.configuration_id = r[2].as<std::string>();
  e.status = r[3].as<std::string>();
  e.recipient_email = r[4].as<std::string>();
  e.subject = r[5].as<std::string>();
  e.message_id = r[6].as<std::string>();
  e.last_error = r[7].as<std::string>();
  e.last_error_kind = r[8].as<std::string>();
  e.run_at = r[9].as<std::string>();
  e.created_at = r[10].as<std::string>();
  e.sent_at = r[11].as<std::string>();
  e.idempotency_key = r[12].as<std::string>();
  e.retry_count = r[13].as<int>();
  e.max_retries = r[14].as<int>();
  e.delivered_at = r[16].as<std::string>();
  e.bounced_at = r[17].as<std::string>();
  e.bounce_type = r[18].as<std::string>();
  e.bounce_reason = r[19].as<std::string>();
  for (const auto& h : nlohmann::json::parse(r[20].as<std::string>())) e.headers[h[0].get<std::string>()] = h[1];
  e.tags = nlohmann::json::parse(r[21].as<std::string>());
  e.metadata = nlohmann::json::parse(r[22].as<std::string>());
  e.attachments = nlohmann::json::parse(r[23].as<std::string>());
  e.list_unsubscribe = r[24].as<bool>();
  e.unsubscribe_mailto = r[25].as<std::string>();
  return e;
}
}  // namespace

std::optional<QueueEmailRow> EmailQueue::find(const std::string& id) {
  Reader reader(pool_);
  const auto rows = reader.tx().exec_params(
      std::string("SELECT ") + kQueueRowColumns + " FROM email_queue WHERE id::text = lower($1)", id);
  if (rows.empty()) return std::nullopt;
  return to_queue_row(rows[0]);
}

std::vector<std::pair<QueueEmailRow, std::string>> EmailQueue::list(const EmailFilter& f) {
  Reader reader(pool_);
  const auto rows = reader.tx().exec_params(
      std::string("SELECT ") + kQueueRowColumns +
          " FROM email_queue WHERE ($1 = '' OR status = $1) AND ($2 = '' OR lower(recipient_email) = lower($2))"
          " AND ($3 = '' OR email_configuration_id::text = lower($3))"
          " AND ($4 = '' OR ((extract(epoch FROM created_at) * 1000000)::bigint, id) < (NULLIF($4, '')::bigint, $5::uuid))"
          " AND ($7 = '' OR tags @> ARRAY[$7]::text[])"  // idx_email_queue_tags
          " ORDER BY created_at DESC, id DESC LIMIT $6",
      f.status, f.recipient, f.configuration_id, f.after_created_micros, f.after_id.empty() ? "00000000-0000-0000-0000-000000000000" : f.after_id,
      static_cast<long>(f.limit), f.tag);
  std::vector<std::pair<QueueEmailRow, std::string>> out;
  for (const auto& r : rows) out.emplace_back(to_queue_row(r), r[15].as<std::string>());
  return out;
}

std::vector<DeliveryLogRow> EmailQueue::logs(const std::string& id) {
  Reader reader(pool_);
  auto& tx = reader.tx();
  std::vector<DeliveryLogRow> out;
  for (const auto& r : tx.exec_params(
           "SELECT event_type, coalesce(event_status, ''), coalesce(error_code, ''), coalesce(error_message, ''),"
           " coalesce(provider, ''), created_at::text FROM email_delivery_logs WHERE email_queue_id::text = lower($1)"
           " ORDER BY created_at, id",
           id))
    out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>(),
                   r[4].as<std::string>(), r[5].as<std::string>()});
  return out;
}

WebhookOutcome EmailQueue::record_events(const EmailConfiguration& configuration,
                                         const std::vector<WebhookEvent>& events) {
  WebhookOutcome outcome;
  transact(pool_, "", [&](pqxx::work& tx) {
    for (const auto& e : events) {
      // The id the provider echoed back is checked against this configuration: a signed event
      // of one configuration never touches another's email.
      pqxx::result email;
      if (is_uuid(e.email_id))
        email = tx.exec_params(std::string(kEventEmailColumns) + " WHERE id = $2::uuid AND email_configuration_id = $1::uuid",
                               configuration.id, e.email_id, e.recipient);
      if (email.empty() && !e.message_id.empty())
        email = tx.exec_params(std::string(kEventEmailColumns) + " WHERE email_configuration_id = $1::uuid AND message_id = $2",
                               configuration.id, e.message_id, e.recipient);
      if (email.empty()) {
        const auto kept = tx.exec_params(
            "INSERT INTO unmatched_provider_events (email_configuration_id, user_id, provider, event_type, email_id,"
            " provider_message_id, provider_event_id, recipient, detail, occurred_at) VALUES ($1::uuid, $2::uuid, $3,"
            " $4, NULLIF($5, ''), NULLIF($6, ''), NULLIF($7, ''), NULLIF($8, ''), NULLIF($9, ''),"
            " CASE WHEN $10::float8 > 0 THEN to_timestamp($10::float8) END)"
            " ON CONFLICT (email_configuration_id, provider_event_id) WHERE provider_event_id IS NOT NULL DO NOTHING"
            " RETURNING id",
            configuration.id, configuration.user_id, configuration.provider, std::string(to_string(e.event_type)),
            e.email_id, e.message_id, e.event_id, e.recipient, e.error_message.empty() ? e.event_status : e.error_message,
            e.occurred_at);
        ++(kept.empty() ? outcome.duplicates : outcome.unmatched);
        continue;
      }
      const std::string id = email[0][0].as<std::string>(), user = email[0][1].as<std::string>();
      const auto inserted = tx.exec_params(
          "INSERT INTO email_delivery_logs (email_queue_id, user_id, event_type, event_status, error_message, provider,"
          " provider_event_id, created_at) VALUES ($1::uuid, $2::uuid, $3, NULLIF($4, ''), NULLIF($5, ''), $6,"
          " NULLIF($7, ''), CASE WHEN $8::float8 > 0 THEN to_timestamp($8::float8) ELSE now() END)"
          " ON CONFLICT (email_queue_id, provider_event_id) WHERE provider_event_id IS NOT NULL DO NOTHING RETURNING id",
          id, user, std::string(to_string(e.event_type)), e.event_status, e.error_message, configuration.provider,
          e.event_id, e.occurred_at);
      if (inserted.empty()) {
        ++outcome.duplicates;
        continue;
      }
      ++outcome.recorded;
      // The email's status and timestamps follow its own recipient; an event about a Cc or
      // Bcc recipient is logged and suppresses that address only.
      const std::string recipient = email[0][2].as<std::string>();
      const bool own_recipient = email[0][3].as<bool>();
      const char* when = "CASE WHEN $2::float8 > 0 THEN to_timestamp($2::float8) ELSE now() END";
      switch (own_recipient ? e.change : EmailChange::none) {
        case EmailChange::none: break;
        case EmailChange::delivered:
          tx.exec_params(std::string("UPDATE email_queue SET delivered_at = coalesce(delivered_at, ") + when +
                             ") WHERE id = $1::uuid",
                         id, e.occurred_at);
          break;
        case EmailChange::bounced:
          tx.exec_params(std::string("UPDATE email_queue SET status = 'bounced', bounced_at = ") + when +
                             ", bounce_type = $3, bounce_reason = NULLIF($4, '') WHERE id = $1::uuid"
                             " AND status IN ('sent', 'bounced')",
                         id, e.occurred_at, e.bounce_type, e.error_message);
          break;
        case EmailChange::spam:
          tx.exec_params("UPDATE email_queue SET status = 'spam' WHERE id = $1::uuid AND status IN ('sent', 'bounced')", id);
          break;
        case EmailChange::dropped:
          tx.exec_params("UPDATE email_queue SET status = 'failed', last_error_kind = 'dropped', last_error ="
                         " 'the provider dropped it: ' || coalesce(NULLIF($2, ''), 'no reason given')"
                         " WHERE id = $1::uuid AND status = 'sent'",
                         id, e.error_message);
          break;
      }
      if (!e.suppress.empty())
        tx.exec_params("INSERT INTO email_suppressions (user_id, email, reason) VALUES ($1::uuid, lower($2), $3) "
                       "ON CONFLICT (user_id, lower(email)) DO NOTHING",
                       user, e.recipient.empty() ? recipient : e.recipient, e.suppress);
    }
  });
  return outcome;
}

bool EmailQueue::retry(const std::string& id, const std::string& actor_id) {
  bool done = false;
  transact(pool_, actor_id, [&](pqxx::work& tx) {
    const auto r = tx.exec_params(
        "UPDATE email_queue SET status = 'queued', retry_count = 0, run_at = now(), last_error = NULL,"
        " last_error_kind = NULL WHERE id::text = lower($1) AND status = 'failed' RETURNING id, user_id",
        id);
    done = !r.empty();
    if (done) {
      tx.exec_params("INSERT INTO email_delivery_logs (email_queue_id, user_id, event_type, event_status) "
                     "VALUES ($1, $2, 'queued', 'manual_retry')",
                     r[0][0].as<std::string>(), r[0][1].as<std::string>());
      tx.exec(std::string("SELECT pg_notify('") + kNotifyChannel + "', '')");
    }
  });
  return done;
}

bool EmailQueue::cancel(const std::string& id, const std::string& actor_id) {
  bool done = false;
  transact(pool_, actor_id, [&](pqxx::work& tx) {
    const auto r = tx.exec_params(
        "UPDATE email_queue SET status = 'failed', last_error = 'cancelled', last_error_kind = 'cancelled'"
        " WHERE id::text = lower($1) AND status IN ('queued', 'pending') RETURNING id, user_id",
        id);
    done = !r.empty();
    if (done)
      tx.exec_params("INSERT INTO email_delivery_logs (email_queue_id, user_id, event_type, event_status, error_message) "
                     "VALUES ($1, $2, 'failed', 'cancelled', 'cancelled by an operator')",
                     r[0][0].as<std::string>(), r[0][1].as<std::string>());
  });
  return done;
}

void Suppressions::add(const std::string& user_id, const std::string& email, const std::string& reason) {
  try {
    transact(pool_, user_id, [&](pqxx::work& tx) {
      tx.exec_params("INSERT INTO email_suppressions (user_id, email, reason) VALUES ($1::uuid, lower($2), $3) "
                     "ON CONFLICT (user_id, lower(email)) DO UPDATE SET reason = EXCLUDED.reason",
                     user_id, email, reason);
    });
  } catch (const pqxx::check_violation&) {
    throw DbError("reason must be hard_bounce, complaint, manual, unsubscribe or group_unsubscribe");
  }
}

bool Suppressions::remove(const std::string& user_id, const std::string& email) {
  bool removed = false;
  transact(pool_, user_id, [&](pqxx::work& tx) {
    removed = tx.exec_params("DELETE FROM email_suppressions WHERE user_id = $1::uuid AND lower(email) = lower($2)",
                             user_id, email)
                  .affected_rows() > 0;
  });
  return removed;
}

std::vector<std::pair<std::string, std::string>> Suppressions::list(const std::string& user_id) {
  Reader reader(pool_);
  auto& tx = reader.tx();
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : tx.exec_params("SELECT email, reason FROM email_suppressions WHERE user_id = $1::uuid ORDER BY email",
                                      user_id))
    out.emplace_back(r[0].as<std::string>(), r[1].as<std::string>());
  return out;
}

std::vector<std::string> Suppressions::which(pqxx::transaction_base& tx, const std::string& user_id,
                                             const std::vector<std::string>& emails) {
  std::vector<std::string> out;
  for (const auto& r : exec_prepared(tx, "mr_suppressed",
                                     "SELECT e FROM unnest($2::text[]) AS e WHERE EXISTS (SELECT 1 FROM "
                                     "email_suppressions s WHERE s.user_id = $1::uuid AND lower(s.email) = lower(e))",
                                     user_id, text_array(emails)))
    out.push_back(r[0].as<std::string>());
  return out;
}

std::optional<QuotaRow> quota_of(Pool& pool, const std::string& configuration_id) {
  if (!is_uuid(configuration_id)) return std::nullopt;
  Reader reader(pool);
  const auto rows = reader.tx().exec_params(
      "SELECT daily_quota_limit, daily_quota_used, hourly_quota_limit, hourly_quota_used, "
      "coalesce(daily_quota_reset_at::text, ''), coalesce(hourly_quota_reset_at::text, ''), is_quota_exceeded, "
      "coalesce(quota_exceeded_at::text, '') FROM google_workspace_quota WHERE email_configuration_id = $1::uuid",
      configuration_id);
  if (rows.empty()) return std::nullopt;
  const auto& r = rows[0];
  return QuotaRow{r[0].as<int>(), r[1].as<int>(), r[2].as<int>(), r[3].as<int>(), r[4].as<std::string>(),
                  r[5].as<std::string>(), r[7].as<std::string>(), r[6].as<bool>()};
}

namespace {

double epoch_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// The configuration's quota row, created on first use, showing the limits in force.
void ensure_quota_row(pqxx::work& tx, const std::string& configuration_id, const std::string& user_id,
                      const QuotaLimits& limits) {
  tx.exec_params(
      "INSERT INTO google_workspace_quota (user_id, email_configuration_id, daily_quota_limit, hourly_quota_limit)"
      " VALUES ($2::uuid, $1::uuid, $3, $4) ON CONFLICT (email_configuration_id) DO UPDATE"
      " SET daily_quota_limit = EXCLUDED.daily_quota_limit, hourly_quota_limit = EXCLUDED.hourly_quota_limit"
      " WHERE google_workspace_quota.daily_quota_limit <> EXCLUDED.daily_quota_limit"
      "    OR google_workspace_quota.hourly_quota_limit <> EXCLUDED.hourly_quota_limit",
      configuration_id, user_id, limits.daily, limits.hourly);
}

}  // namespace

QuotaDecision take_quota(Pool& pool, const std::string& configuration_id, const std::string& user_id,
                         const QuotaLimits& limits, const std::string& email_id, std::chrono::system_clock::time_point now) {
  QuotaDecision decision;
  // The caller's clock, not the database's now(): the windows are then testable at any time.
  const double t = epoch_seconds(now);
  transact(pool, "", [&](pqxx::work& tx) {
    ensure_quota_row(tx, configuration_id, user_id, limits);
    // The row lock serialises every host's gate for this configuration: counts and the send
    // they allow are one decision.
    const double locked_until =
        tx.exec_params("SELECT coalesce(extract(epoch FROM locked_until), 0) FROM google_workspace_quota"
                       " WHERE email_configuration_id = $1::uuid FOR UPDATE",
                       configuration_id)[0][0]
            .as<double>();
    if (locked_until > t) {
      decision = {false, locked_until - t};
      return;
    }
    // Per user, through its index: also ages out sends counted for its other configurations.
    tx.exec_params("DELETE FROM quota_sends WHERE user_id = $1::uuid AND counted_at <= to_timestamp($2::float8) - interval '1 day'",
                   user_id, t);
    // When room comes back in each window: the send whose ageing out brings the count below
    // the limit (NULL while under it), and each window's oldest send (when it next moves).
    const auto counts = tx.exec_params(
        "WITH day AS (SELECT counted_at, row_number() OVER (ORDER BY counted_at DESC) AS newer FROM quota_sends"
        "             WHERE email_configuration_id = $1::uuid AND counted_at > to_timestamp($2::float8) - interval '1 day'),"
        " hour AS (SELECT counted_at, row_number() OVER (ORDER BY counted_at DESC) AS newer FROM day"
        "          WHERE counted_at > to_timestamp($2::float8) - interval '1 hour')"
        " SELECT (SELECT count(*) FROM day), (SELECT count(*) FROM hour),"
        " (SELECT extract(epoch FROM counted_at + interval '1 day') FROM day WHERE newer = $3),"
        " (SELECT extract(epoch FROM counted_at + interval '1 hour') FROM hour WHERE newer = $4)",
        configuration_id, t, limits.daily, limits.hourly)[0];
    const long day = counts[0].as<long>(), hour = counts[1].as<long>();
    if (day < limits.daily && hour < limits.hourly) {
      tx.exec_params("INSERT INTO quota_sends (user_id, email_configuration_id, email_id, counted_at)"
                     " VALUES ($1::uuid, $2::uuid, NULLIF($3, '')::uuid, to_timestamp($4::float8))",
                     user_id, configuration_id, email_id, t);
      tx.exec_params(
          "UPDATE google_workspace_quota SET daily_quota_used = $2 + 1, hourly_quota_used = $3 + 1, is_quota_exceeded = false,"
          " daily_quota_reset_at = (SELECT min(counted_at) FROM quota_sends WHERE email_configuration_id = $1::uuid) + interval '1 day',"
          " hourly_quota_reset_at = (SELECT min(counted_at) FROM quota_sends WHERE email_configuration_id = $1::uuid"
          "   AND counted_at > to_timestamp($4::float8) - interval '1 hour') + interval '1 hour'"
          " WHERE email_configuration_id = $1::uuid",
          configuration_id, day, hour, t);
      return;
    }
    // Room comes back when every window that is full has moved on.
    double until = t;
    if (day >= limits.daily) until = std::max(until, counts[2].is_null() ? t + 86400 : counts[2].as<double>());
    if (hour >= limits.hourly) until = std::max(until, counts[3].is_null() ? t + 3600 : counts[3].as<double>());
    tx.exec_params(
        "UPDATE google_workspace_quota SET daily_quota_used = $2, hourly_quota_used = $3, is_quota_exceeded = true,"
        " quota_exceeded_at = CASE WHEN is_quota_exceeded THEN quota_exceeded_at ELSE to_timestamp($4::float8) END,"
        " daily_quota_reset_at = CASE WHEN $2 >= daily_quota_limit THEN to_timestamp($5::float8) ELSE daily_quota_reset_at END,"
        " hourly_quota_reset_at = CASE WHEN $3 >= hourly_quota_limit THEN to_timestamp($5::float8) ELSE hourly_quota_reset_at END"
        " WHERE email_configuration_id = $1::uuid",
        configuration_id, day, hour, t, until);
    decision = {false, std::max(1.0, until - t)};
  });
  return decision;
}

void lock_out_quota(Pool& pool, const std::string& configuration_id, const std::string& user_id,
                    std::chrono::system_clock::time_point now, std::chrono::system_clock::time_point until) {
  transact(pool, "", [&](pqxx::work& tx) {
    tx.exec_params("INSERT INTO google_workspace_quota (user_id, email_configuration_id) VALUES ($2::uuid, $1::uuid)"
                   " ON CONFLICT (email_configuration_id) DO NOTHING",
                   configuration_id, user_id);
    tx.exec_params("UPDATE google_workspace_quota SET locked_until = to_timestamp($3::float8), is_quota_exceeded = true,"
                   " quota_exceeded_at = CASE WHEN is_quota_exceeded THEN quota_exceeded_at ELSE to_timestamp($2::float8) END"
                   " WHERE email_configuration_id = $1::uuid",
                   configuration_id, epoch_seconds(now), epoch_seconds(until));
  });
}

}  // namespace mailroom::db
