// Nodemailer's pooled SMTP transport sending N messages of the benchmark's shape to the
// sink (through the delaying proxy) with CONNECTIONS connections. Prints {"peer", "n", "seconds"} as JSON.
// Usage: node nodemailer.js PORT N CONNECTIONS
const nodemailer = require("nodemailer");

async function main() {
  const [port, count, connections] = process.argv.slice(2).map(Number);
  const transport = nodemailer.createTransport({
    host: "127.0.0.1", port, secure: false, ignoreTLS: true, pool: true,
    maxConnections: connections, maxMessages: Infinity,
  });
  const body = require("fs").readFileSync(__dirname + "/../smtp_throughput/body.txt", "utf8");
  const started = process.hrtime.bigint();
  let next = 0;
  // As many messages in flight as the pool has connections, like mailroom's workers.
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await transport.sendMail({ from: "bench@example.com", to: `r${i}@example.com`, subject: `email ${i}`, text: body });
    }
  };
  await Promise.all(Array.from({ length: connections * 2 }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  transport.close();
  console.log(JSON.stringify({ peer: "nodemailer (pool)", n: count, seconds }));
}

main().catch((e) => { console.error(e); process.exit(1); });
