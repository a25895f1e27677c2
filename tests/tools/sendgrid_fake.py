#!/usr/bin/env python3
"""A stateful fake of SendGrid's v3 Mail Send API and of its Signed Event Webhook, for the
sendgrid plugin's tests. Prism's validating proxy stands in front of it
(tests/support/sendgrid_mock.hpp), so every request is checked against SendGrid's official
document; this file adds what SendGrid checks beyond the schema, keeps what it accepted, and
posts signed event batches back like SendGrid does.

  sendgrid_fake.py --key API_KEY --private-key BASE64_SEC1_DER

Prints "PORT <n>" once listening.

API (through Prism):
  POST /v3/mail/send   202 + X-Message-Id; 200 in sandbox mode (nothing kept); 400 with
                       SendGrid's error list for what SendGrid refuses beyond the schema;
                       401 for another key.
Test control (straight to this server):
  GET  /__sends        every accepted body, with its "message_id", in order
  POST /__fail         {"status": 400|401|403|413|429|500, "count": n, "reset_in": s,
                        "errors": [...]}: the next n sends answer that (429 with
                       X-RateLimit-Reset = now + reset_in)
  POST /__events       {"url": U, "events": [{"event": "delivered", "send": i, ...}],
                        "timestamp": T (default now), "tamper": false}
                       Builds a batch as SendGrid does (one JSON array, each event on its own
                       line ending CRLF; each event gets the send's email, sg_message_id,
                       sg_event_id, timestamp and custom args, then the given fields),
                       signs timestamp + body with the private key, POSTs it to U and answers
                       {"status", "answer", "body", "timestamp", "signature"}, so the test can
                       replay the exact request. "tamper": the body is changed after signing.
"""
import argparse
import base64
import json
import secrets
import threading
import time
import urllib.error
import urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fake_http import JsonHandler, serve

LOCK = threading.Lock()
SENDS = []
FAILURES = []  # [{"status", "count", ...}]


def error(message, field=None):
    return {"message": message, "field": field}


def semantic_errors(body):
    """What SendGrid refuses that the schema does not say."""
    errors = []
    personalizations = body.get("personalizations", [])
    for i, p in enumerate(personalizations):
        seen = set()
        for role in ("to", "cc", "bcc"):
            for a in p.get(role, []):
                if a["email"].lower() in seen:
                    errors.append(error("Each email address in the personalization block should be unique between "
                                        "to, cc, and bcc.", "personalizations.%d.%s" % (i, role)))
                seen.add(a["email"].lower())
        if not p.get("to"):
            errors.append(error("The to array is required for all personalization objects.",
                                "personalizations.%d.to" % i))
    if "subject" not in body and not all("subject" in p for p in personalizations):
        errors.append(error("The subject is required.", "subject"))
    content = body.get("content", [])
    if not content and "template_id" not in body:
        errors.append(error("Unless a valid template_id is provided, the content parameter is required.", "content"))
    types = [c["type"] for c in content]
    if "text/plain" in types and types.index("text/plain") != 0:
        errors.append(error("If present, text/plain content must be first.", "content"))
    for name in body.get("headers", {}):
        if name.lower() in ("x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type",
                            "content-transfer-encoding", "to", "from", "subject", "reply-to", "cc", "bcc"):
            errors.append(error("The %s header is reserved." % name, "headers"))
    return errors


def make_handler(key, private_key):
    class Handler(JsonHandler):
        def read_json(self):
            return json.loads(self.read_body() or b"{}")

        def do_GET(self):
            if self.path == "/__sends":
                with LOCK:
                    return self.answer(200, SENDS)
            self.answer(404, {"errors": [error("not found")]})

        def do_POST(self):
            body = self.read_json()
            if self.path == "/__fail":
                with LOCK:
                    FAILURES.append(body)
                return self.answer(200, {})
            if self.path == "/__events":
                return self.answer(200, post_events(body, private_key))
            if self.path != "/v3/mail/send":
                return self.answer(404, {"errors": [error("not found")]})
            if self.headers.get("Authorization") != "Bearer " + key:
                return self.answer(401, {"errors": [error("The provided authorization grant is invalid, expired, or "
                                                          "revoked")]})
            with LOCK:
                failure = FAILURES[0] if FAILURES else None
                if failure:
                    failure["count"] = failure.get("count", 1) - 1
                    if failure["count"] <= 0:
                        FAILURES.pop(0)
            if failure:
                status = failure["status"]
                headers = []
                if status == 429:
                    reset = int(time.time()) + failure.get("reset_in", 1)
                    headers = [("X-RateLimit-Limit", "600"), ("X-RateLimit-Remaining", "0"),
                               ("X-RateLimit-Reset", str(reset))]
                return self.answer(status, {"errors": failure.get("errors", [error("injected %d" % status)])}, headers)
            errors = semantic_errors(body)
            if errors:
                return self.answer(400, {"errors": errors})
            if body.get("mail_settings", {}).get("sandbox_mode", {}).get("enable"):
                return self.answer(200)
            message_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
            with LOCK:
                SENDS.append(dict(body, message_id=message_id))
            self.answer(202, None, [("X-Message-Id", message_id)])

    return Handler


def post_events(request, private_key):
    with LOCK:
        sends = list(SENDS)
    now = int(time.time())
    events = []
    for given in request["events"]:
        given = dict(given)
        event = {"timestamp": now, "sg_event_id": base64.urlsafe_b64encode(secrets.token_bytes(16)).decode()}
        if "send" in given:
            send = sends[given.pop("send")]
            personalization = send["personalizations"][0]
            event["email"] = personalization["to"][0]["email"]
            event["smtp-id"] = "<%s@ismtpd0001p1iad2.sendgrid.net>" % send["message_id"]
            event["sg_message_id"] = send["message_id"] + ".filterdrecv-5645d9c87f-abcde-1-6089EA4A-56.0"
            event.update(personalization.get("custom_args", {}))
        event.update(given)
        events.append(event)
    body = ("[" + ",\r\n".join(json.dumps(e, separators=(",", ":")) for e in events) + "]\r\n").encode()
    timestamp = str(request.get("timestamp", now))
    signature = base64.b64encode(private_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
    if request.get("tamper"):
        body = body.replace(b"delivered", b"bounce", 1) if b"delivered" in body else body + b" "
    posted = urllib.request.Request(request["url"], data=body, method="POST", headers={
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "User-Agent": "SendGrid Event API",
    })
    try:
        with urllib.request.urlopen(posted, timeout=30) as reply:
            status, answer = reply.status, reply.read().decode()
    except urllib.error.HTTPError as e:
        status, answer = e.code, e.read().decode()
    return {"status": status, "answer": answer, "body": body.decode(), "timestamp": timestamp, "signature": signature}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--key", required=True)
    parser.add_argument("--private-key", required=True, help="base64 of a SEC1 DER P-256 private key")
    args = parser.parse_args()
    private_key = serialization.load_der_private_key(base64.b64decode(args.private_key), password=None)
    serve(make_handler(args.key, private_key))


if __name__ == "__main__":
    main()
