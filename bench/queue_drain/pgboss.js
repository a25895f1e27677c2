// pg-boss draining N no-op jobs: 8 workers, each fetching batches of 500 (a pg-boss worker
// fetches once per polling interval, 0.5 s at the least, so one worker alone would cap the
// rate at 1000/s). Prints {"peer", "n", "seconds"} as JSON.
// Usage: node pgboss.js SOCKET_DIR PORT DATABASE N
const PgBoss = require("pg-boss");

async function main() {
  const [host, port, database, count] = process.argv.slice(2);
  const n = Number(count);
  const boss = new PgBoss({ host, port: Number(port), database, user: "mailroom", max: 10, supervise: false,
                            schedule: false });
  boss.on("error", (e) => console.error(e));
  await boss.start();
  await boss.createQueue("noop");
  for (let i = 0; i < n; i += 5000) {
    const jobs = [];
    for (let j = i; j < Math.min(n, i + 5000); ++j) jobs.push({ name: "noop", data: { j } });
    await boss.insert(jobs);
  }
  let done = 0;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const started = process.hrtime.bigint();
  for (let w = 0; w < 8; ++w) {
    await boss.work("noop", { batchSize: 500, pollingIntervalSeconds: 0.5 }, async (jobs) => {
      done += jobs.length;
      if (done >= n) setImmediate(finish);
    });
  }
  await finished;
  // The handler's return completes its batch; wait until every job is recorded completed.
  for (;;) {
    const { rows } = await boss.getDb().executeSql(
      "SELECT count(*)::int AS c FROM pgboss.job WHERE name = 'noop' AND state = 'completed'");
    if (rows[0].c >= n) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await boss.stop({ graceful: false, wait: false });
  console.log(JSON.stringify({ peer: "pg-boss", n, seconds }));
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
