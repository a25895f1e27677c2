"""What the tests' HTTP fakes (cloudflare_fake.py, postbox_fake.py, sendgrid_fake.py) share:
a quiet handler that answers JSON, and serving on a free port announced as "PORT <n>", which
tests/support/process.hpp (spawn_reporting_port) reads."""
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet: the tests read the fakes' control endpoints instead
        pass

    def answer(self, status, body=None, headers=()):
        """Answers `body` as JSON (None: no body); `headers` is a dict or (name, value) pairs."""
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items() if isinstance(headers, dict) else headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(length) if length else b""


def serve(handler, port=0):
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()
