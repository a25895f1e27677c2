// The peer: jsondiffpatch (npm, ~10 M downloads a month) diffing the same zone as
// dns_plan_bench.cpp, records keyed by provider id (unowned desired ones by row id), the
// shape of a desired-vs-held diff. Prints one JSON line per N: the median of ROUNDS runs.
//   node peer.mjs ROUNDS N [N ...]
import { create } from 'jsondiffpatch';

const differ = create();
const [rounds, ...sizes] = process.argv.slice(2).map(Number);

function zone(n) {
  const desired = {}, held = {};
  const owned = Math.floor((n * 95) / 100);
  for (let i = 0; i < n; i++) {
    const rec = { type: 'TXT', name: `r${i}.example.test`, value: `v${i}`, ttl: 3600 };
    if (i < owned) {
      desired[`p${i}`] = rec;
      held[`p${i}`] = { ...rec, value: i % 20 === 0 ? `v${i}-old` : rec.value };
    } else {
      desired[`row-${i}`] = rec;
    }
  }
  for (let i = 0; i < Math.floor(n / 20); i++) held[`g${i}`] = { type: 'TXT', name: `g${i}.example.test`, value: 'old', ttl: 3600 };
  for (let i = 0; i < Math.floor(n / 10); i++) held[`f${i}`] = { type: 'TXT', name: `foreign${i}.example.test`, value: 'theirs', ttl: 3600 };
  return { desired, held };
}

for (const n of sizes) {
  const z = zone(n);
  const ms = [];
  let changes = 0;
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    const delta = differ.diff(z.held, z.desired) || {};
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
    changes = Object.keys(delta).length;
  }
  ms.sort((a, b) => a - b);
  console.log(JSON.stringify({ n, median_ms: ms[Math.floor(ms.length / 2)], changes }));
}
