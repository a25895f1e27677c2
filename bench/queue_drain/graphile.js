// graphile-worker in its batched configuration (local queue 500, batched completion,
// concurrency 24), draining N no-op jobs. Prints {"peer", "n", "seconds"} as JSON.
// Usage: node graphile.js SOCKET_DIR PORT DATABASE N
const { run, makeWorkerUtils } = require("graphile-worker");
const { Pool } = require("pg");

async function main() {
  const [host, port, database, count] = process.argv.slice(2);
  const n = Number(count);
  const pgPool = new Pool({ host, port: Number(port), database, user: "mailroom", max: 30 });
  const utils = await makeWorkerUtils({ pgPool });
  await utils.migrate();
  for (let i = 0; i < n; i += 5000) {
    const specs = [];
    for (let j = i; j < Math.min(n, i + 5000); ++j) specs.push({ identifier: "noop", payload: { j } });
    await utils.addJobs(specs);
  }
  let done = 0;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const started = process.hrtime.bigint();
  const runner = await run({
    pgPool,
    concurrency: 24,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: new (require("graphile-worker").Logger)(() => () => {}),
    taskList: { noop: async () => { if (++done === n) finish(); } },
    preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
  });
  await finished;
  // Completions are batched: the drain ends when the last one is written.
  for (;;) {
    const { rows } = await pgPool.query("SELECT count(*)::int AS left FROM graphile_worker._private_jobs");
    if (rows[0].left === 0) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await runner.stop();
  await utils.release();
  await pgPool.end();
  console.log(JSON.stringify({ peer: "graphile-worker (batched)", n, seconds }));
}

main().catch((e) => { console.error(e); process.exit(1); });
