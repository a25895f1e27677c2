#!/usr/bin/env node
// An application's webhook receiver, for tests and bench/event_webhooks: every request to
// /hooks/<name> is verified with the `standardwebhooks` package from the npm registry (the
// Standard Webhooks reference library), under each secret registered for <name>, and recorded.
//
//   node webhook_receiver.js [--delay MS] [--quiet]
//
// Prints "PORT <n>" once listening on 127.0.0.1. Control (plain HTTP, same port):
//   POST /__secrets/<name>   ["whsec_...", ...]   the secrets to verify <name>'s deliveries with
//   POST /__answers/<name>   [500, 200, ...]      statuses for the next requests (then 200)
//   POST /__delay/<name>     1500                 answer <name>'s requests after this many ms
//   GET  /__received                             every request: {name, id, timestamp, signature,
//                                                 verified_by: [secret index...], error, status,
//                                                 type, body, received_at}
//   GET  /__stats                                {count, ok, p50_ms, p99_ms, first_at, last_at}:
//                                                 delay from the event's timestamp to the answer
//   POST /__reset                                forget what was received
// A delivery that no registered secret verifies is answered 401. With --quiet nothing is kept
// but the statistics (benchmarks).
"use strict";
const http = require("http");
const { Webhook } = require("standardwebhooks");

const args = process.argv.slice(2);
const defaultDelay = args.includes("--delay") ? Number(args[args.indexOf("--delay") + 1]) : 0;
const quiet = args.includes("--quiet");

const secrets = new Map();
const answers = new Map();
const delays = new Map();
const received = [];
const latencies = [];
let count = 0;
let ok = 0;
let firstAt = 0;
let lastAt = 0;

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

function reply(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(body === undefined ? "" : JSON.stringify(body));
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const server = http.createServer(async (req, res) => {
  const body = await readBody(req);
  const [, kind, name] = req.url.split("/");
  if (req.method === "POST" && kind === "__secrets") {
    secrets.set(name, JSON.parse(body));
    return reply(res, 204);
  }
  if (req.method === "POST" && kind === "__answers") {
    answers.set(name, JSON.parse(body));
    return reply(res, 204);
  }
  if (req.method === "POST" && kind === "__delay") {
    delays.set(name, Number(body));
    return reply(res, 204);
  }
  if (req.method === "POST" && kind === "__reset") {
    received.length = 0;
    latencies.length = 0;
    count = ok = firstAt = lastAt = 0;
    return reply(res, 204);
  }
  if (req.method === "GET" && kind === "__received") return reply(res, 200, received);
  if (req.method === "GET" && kind === "__stats") {
    const sorted = latencies.slice().sort((a, b) => a - b);
    return reply(res, 200, { count, ok, p50_ms: percentile(sorted, 50), p99_ms: percentile(sorted, 99),
                             first_at: firstAt, last_at: lastAt });
  }
  if (req.method !== "POST" || kind !== "hooks") return reply(res, 404, { error: "not a hook" });

  const record = { name, id: req.headers["webhook-id"], timestamp: req.headers["webhook-timestamp"],
                   signature: req.headers["webhook-signature"], verified_by: [], error: null, body };
  (secrets.get(name) || []).forEach((secret, index) => {
    try {
      new Webhook(secret).verify(body, req.headers);
      record.verified_by.push(index);
    } catch (e) {
      record.error = String(e.message || e);
    }
  });
  try {
    record.type = JSON.parse(body).type;
  } catch (e) {
    record.type = null;
  }
  const scripted = answers.get(name) || [];
  let status = scripted.length > 0 ? scripted.shift() : 200;
  if (record.verified_by.length === 0 && !quiet) status = 401;
  record.status = status;
  const delay = delays.has(name) ? delays.get(name) : defaultDelay;
  const answer = () => {
    const now = Date.now();
    record.received_at = now;
    count += 1;
    if (status >= 200 && status < 300) {
      ok += 1;
      try {
        latencies.push(now - Date.parse(JSON.parse(body).timestamp));
      } catch (e) { /* not an event */ }
    }
    if (!firstAt) firstAt = now;
    lastAt = now;
    if (!quiet) received.push(record);
    reply(res, status, { received: record.id });
  };
  if (delay > 0) setTimeout(answer, delay);
  else answer();
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`PORT ${server.address().port}\n`);
});
