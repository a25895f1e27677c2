#!/usr/bin/python3
"""Reads an RFC 5322 message (file or stdin) with Python's standard `email` parser and
prints what it finds as JSON: an independent check of mailroom's message building."""
import email
import email.policy
import hashlib
import json
import sys

raw = open(sys.argv[1], "rb").read() if len(sys.argv) > 1 else sys.stdin.buffer.read()
msg = email.message_from_bytes(raw, policy=email.policy.default)
lines = raw.split(b"\r\n")
out = {
    "defects": [str(d) for d in msg.defects],
    "subject": str(msg["Subject"]) if msg["Subject"] is not None else None,
    "from": [[a.display_name, a.addr_spec] for a in msg["From"].addresses] if msg["From"] else [],
    "to": [[a.display_name, a.addr_spec] for a in msg["To"].addresses] if msg["To"] else [],
    "cc": [[a.display_name, a.addr_spec] for a in msg["Cc"].addresses] if msg["Cc"] else [],
    "reply_to": [[a.display_name, a.addr_spec] for a in msg["Reply-To"].addresses] if msg["Reply-To"] else [],
    "has_bcc": msg["Bcc"] is not None,
    "message_id": msg["Message-ID"],
    "date": str(msg["Date"]) if msg["Date"] else None,
    "content_type": msg.get_content_type(),
    "max_line": max(len(l) for l in lines),
    "bare_lf": b"\n" in raw.replace(b"\r\n", b""),
    "text": None,
    "html": None,
    "attachments": [],
    # Every leaf part: [content type, disposition, filename, Content-ID, SHA-256 of its decoded bytes]
    "parts": [],
    # The MIME tree: "multipart/mixed(multipart/related(multipart/alternative(text/plain,text/html),image/png),...)"
    "structure": None,
    "headers": [[k, str(v)] for k, v in msg.items()],
}


def structure(part):
    if not part.is_multipart():
        return part.get_content_type()
    return part.get_content_type() + "(" + ",".join(structure(p) for p in part.iter_parts()) + ")"


out["structure"] = structure(msg)
for part in msg.walk():
    if part.is_multipart():
        continue
    payload = part.get_payload(decode=True) or b""
    out["parts"].append([part.get_content_type(), part.get_content_disposition(), part.get_filename(),
                         part["Content-ID"], hashlib.sha256(payload).hexdigest()])
for part in msg.walk():
    if part.is_multipart():
        continue
    if part.get_content_disposition() == "attachment":
        out["attachments"].append([part.get_filename(), part.get_content_type(), len(part.get_content())])
    elif part.get_content_type() == "text/plain":
        out["text"] = part.get_content().replace("\r\n", "\n")  # the parser keeps the wire's CRLF
    elif part.get_content_type() == "text/html":
        out["html"] = part.get_content().replace("\r\n", "\n")
print(json.dumps(out))
