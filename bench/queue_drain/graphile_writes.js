// graphile-worker (batched, graphile_drain.js) draining N emails the way a user building
// mailroom's queue on it would: one job per email already queued in mailroom's schema (the
// same rows `mailroom send` wrote), and a task that writes what mailroom writes per email:
// the status update to 'sending' with its 'sending' delivery log, then (after a no-op
// send) the update to 'sent' with its message id and the 'sent' delivery log.
// Prints {"peer", "n", "seconds"} as JSON.
// Usage: node graphile_writes.js SOCKET_DIR PORT DATABASE
const { makeWorkerUtils } = require("graphile-worker");
const { drainBatched } = require("./graphile_drain");
const { Pool } = require("pg");

const CLAIMED =
  "WITH u AS (UPDATE email_queue SET status = 'sending', locked_by = 'graphile', " +
  "  locked_until = now() + interval '300 seconds' WHERE id = $1 AND status = 'queued' RETURNING id, user_id) " +
  "INSERT INTO email_delivery_logs (email_queue_id, user_id, event_type, event_status) " +
  "SELECT id, user_id, 'sending', 'claimed' FROM u";
const SENT =
  "WITH u AS (UPDATE email_queue SET status = 'sent', message_id = $2, sent_at = now(), locked_by = NULL, " +
  "  locked_until = NULL, last_error = NULL, last_error_kind = NULL WHERE id = $1 AND status = 'sending' " +
  "  RETURNING id, user_id) " +
  "INSERT INTO email_delivery_logs (email_queue_id, user_id, event_type, event_status, provider) " +
  "SELECT id, user_id, 'sent', 'accepted', 'noop_email' FROM u";

async function main() {
  const [host, port, database] = process.argv.slice(2);
  const pgPool = new Pool({ host, port: Number(port), database, user: "mailroom", max: 30 });
  const utils = await makeWorkerUtils({ pgPool });
  await utils.migrate();
  const { rows: emails } = await pgPool.query("SELECT id::text FROM email_queue WHERE status = 'queued' ORDER BY priority, run_at, id");
  const n = emails.length;
  for (let i = 0; i < n; i += 5000)
    await utils.addJobs(emails.slice(i, i + 5000).map((e) => ({ identifier: "send", payload: { id: e.id } })));
  const seconds = await drainBatched(pgPool, n, "send", async ({ id }, helpers) => {
    await helpers.withPgClient((client) => client.query(CLAIMED, [id]));
    await helpers.withPgClient((client) => client.query(SENT, [id, "noop-" + id]));
  });
  await utils.release();
  const { rows: sent } = await pgPool.query("SELECT count(*)::int AS n FROM email_queue WHERE status = 'sent'");
  await pgPool.end();
  if (sent[0].n !== n) throw new Error(`graphile-worker sent ${sent[0].n} of ${n}`);
  console.log(JSON.stringify({ peer: "graphile-worker (batched), mailroom's writes", n, seconds }));
}

main().catch((e) => { console.error(e); process.exit(1); });
