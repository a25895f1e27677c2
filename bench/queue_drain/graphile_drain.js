// The batched graphile-worker run both graphile peers time (local queue 500, batched
// completion, concurrency 24): runs `task` for the N jobs of `identifier` already added and
// returns the seconds from run() until the last job's completion is written.
const { run, Logger } = require("graphile-worker");

async function drainBatched(pgPool, n, identifier, task) {
  let done = 0;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const started = process.hrtime.bigint();
  const runner = await run({
    pgPool,
    concurrency: 24,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: new Logger(() => () => {}),
    taskList: {
      [identifier]: async (payload, helpers) => {
        await task(payload, helpers);
        if (++done === n) finish();
      },
    },
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
  return seconds;
}

module.exports = { drainBatched };
