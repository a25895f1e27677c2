// The peer of bench/event_webhooks: a Node.js deliverer with no database, signing N events
// with the `standardwebhooks` package and POSTing them to the receiver, CONCURRENCY at a time,
// over keep-alive connections. It is the ceiling for this receiver and concurrency: what
// mailroom does on top (claiming from PostgreSQL, the SSRF check, recording every attempt) is
// what the ratio measures.
// Usage: node node_deliverer.js URL N CONCURRENCY SECRET   (prints {"peer", "n", "seconds"})
"use strict";
const http = require("http");
const path = require("path");
const { Webhook } = require(path.join(__dirname, "../../tests/tools/node_modules/standardwebhooks"));

const [url, n, concurrency, secret] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), process.argv[5]];
const wh = new Webhook(secret);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const target = new URL(url);

function post(i) {
  return new Promise((resolve, reject) => {
    const id = `msg_${i}`;
    const now = new Date();
    const body = JSON.stringify({ type: "email.sent", timestamp: now.toISOString(), data: { email_id: String(i) } });
    const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: "POST", agent,
                               headers: { "content-type": "application/json", "webhook-id": id,
                                          "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
                                          "webhook-signature": wh.sign(id, now, body) } }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode < 300 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end(body);
  });
}

(async () => {
  let next = 0;
  const start = process.hrtime.bigint();
  const worker = async () => {
    while (next < n) await post(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  console.log(JSON.stringify({ peer: "node deliverer", n, seconds }));
})();
