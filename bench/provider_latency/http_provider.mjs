// An HTTP email API DELAY ms away: POST /v1/send answers 202 {"id"} after DELAY ms.
// Counts requests in flight and reports the most at the end (GET /stats).
// Usage: node http_provider.mjs PORT DELAY_MS   (prints "ready")
import http from "node:http";

const [port, delay] = process.argv.slice(2).map(Number);
let inFlight = 0, most = 0, accepted = 0;
const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/stats") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ accepted, most_in_flight: most }));
    return;
  }
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    most = Math.max(most, ++inFlight);
    setTimeout(() => {
      --inFlight;
      ++accepted;
      res.writeHead(202, { "content-type": "application/json" });
      res.end(JSON.stringify({ id: JSON.parse(body).id }));
    }, delay);
  });
});
server.keepAliveTimeout = 120000;
server.listen(port, "127.0.0.1", () => console.log("ready"));
