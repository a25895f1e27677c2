// A TCP proxy that holds every chunk the server sends for DELAY ms before passing it on:
// a provider DELAY ms away, as a deployer meets it (tc netem is not available here).
// Usage: node delay_proxy.mjs LISTEN_PORT TARGET_PORT DELAY_MS   (prints "ready")
import net from "node:net";

const [listenPort, targetPort, delay] = process.argv.slice(2).map(Number);
const server = net.createServer({ noDelay: true }, (client) => {
  const upstream = net.connect({ host: "127.0.0.1", port: targetPort, noDelay: true });
  client.on("data", (chunk) => upstream.write(chunk));
  // Timers of one delay fire in the order they were set: the bytes keep their order.
  upstream.on("data", (chunk) => setTimeout(() => client.writable && client.write(chunk), delay));
  const end = () => { client.destroy(); upstream.destroy(); };
  client.on("error", end).on("close", () => setTimeout(end, delay));
  upstream.on("error", end).on("close", () => setTimeout(end, delay));
});
server.listen(listenPort, "127.0.0.1", () => console.log("ready"));
