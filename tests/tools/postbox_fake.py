#!/usr/bin/env python3
"""A stateful fake of the Postbox API (docs/examples/postbox_email/postbox.openapi.json), for
tests of the example third-party plugin. Prism's validating proxy stands in front of it
(tests/support/postbox_mock.hpp), so every request the plugin sends is checked against the
document; this file keeps the accepted messages.

  postbox_fake.py --token TOKEN

Prints "PORT <n>" once listening. A subject starting "[429]" is answered 429 with
Retry-After: 1; "[500]" with 500. Test control, straight to this server (not through Prism):
  GET /__messages   every accepted message body, in order
"""
import argparse
import json
import threading
from fake_http import JsonHandler, serve

LOCK = threading.Lock()
MESSAGES = []


def make_handler(token):
    class Handler(JsonHandler):
        def authorised(self):
            if self.headers.get("Authorization") == "Bearer " + token:
                return True
            self.answer(401, {"error": {"code": "unauthorized", "message": "unknown token"}})
            return False

        def do_GET(self):
            if self.path == "/__messages":
                with LOCK:
                    return self.answer(200, MESSAGES)
            if self.path == "/v1/account" and self.authorised():
                return self.answer(200, {"account": "test"})
            if self.path != "/v1/account":
                self.answer(404, {"error": {"code": "not_found", "message": self.path}})

        def do_POST(self):
            body = self.read_body()
            if self.path != "/v1/messages":
                return self.answer(404, {"error": {"code": "not_found", "message": self.path}})
            if not self.authorised():
                return
            message = json.loads(body)
            subject = message.get("subject", "")
            if subject.startswith("[429]"):
                return self.answer(429, {"error": {"code": "rate_limited", "message": "slow down"}}, [("Retry-After", "1")])
            if subject.startswith("[500]"):
                return self.answer(500, {"error": {"code": "internal", "message": "try again"}})
            with LOCK:
                MESSAGES.append(message)
                number = len(MESSAGES)
            self.answer(202, {"message_id": "pb-%d" % number})

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    serve(make_handler(args.token))


if __name__ == "__main__":
    main()
