// graphile-worker in its batched configuration (local queue 500, batched completion,
// concurrency 24), draining N no-op jobs. Prints {"peer", "n", "seconds"} as JSON.
// Usage: node graphile.js SOCKET_DIR PORT DATABASE N
const { makeWorkerUtils } = require("graphile-worker");
const { drainBatched } = require("./graphile_drain");
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
  const seconds = await drainBatched(pgPool, n, "noop", async () => {});
  await utils.release();
  await pgPool.end();
  console.log(JSON.stringify({ peer: "graphile-worker (batched)", n, seconds }));
}

main().catch((e) => { console.error(e); process.exit(1); });
