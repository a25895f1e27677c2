#!/usr/bin/python3
"""A real SMTP server for mailroom's tests (Debian's python3-aiosmtpd).

Prints "PORT <n>" once listening, then runs until killed. Every accepted message is
written to DIR/<queue id>.eml (with X-Envelope-From / X-Envelope-To lines first), every
command to DIR/commands.log.
  --dir DIR            where messages and the command log go (required)
  --cert F --key F     offer STARTTLS with this certificate
  --implicit-tls       TLS from the first byte (port 465 style) instead
  --require-tls        refuse MAIL before STARTTLS
  --auth USER:PASS     require AUTH (PLAIN/LOGIN) with these credentials
  --login-only         offer AUTH LOGIN but not PLAIN
  --xoauth2 USER:TOKEN also offer AUTH XOAUTH2, accepting this bearer token
  --pipelining         offer PIPELINING (RFC 2920); aiosmtpd reads pipelined commands either way
A sender impostor@... is refused at MAIL (550 5.7.1), as relays that tie senders to accounts do.
Recipients pick failures: tempfail@... -> 451, ratelimit@... -> 421, reject@... -> 550,
hangup@... -> the connection is dropped at DATA, hang@... -> no answer to the message's end.
Each MAIL line of the command log says whether the client's next commands had already
arrived with it (pipelined=True: they were sent without waiting for this reply).
"""
import argparse
import os
import socket
import ssl
import sys
import uuid

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

p = argparse.ArgumentParser()
p.add_argument("--dir", required=True)
p.add_argument("--cert")
p.add_argument("--key")
p.add_argument("--implicit-tls", action="store_true")
p.add_argument("--require-tls", action="store_true")
p.add_argument("--auth")
p.add_argument("--login-only", action="store_true")
p.add_argument("--xoauth2")
p.add_argument("--pipelining", action="store_true")
args = p.parse_args()


def log(line):
    with open(os.path.join(args.dir, "commands.log"), "a") as f:
        f.write(line + "\n")


class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if args.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, options):
        waiting = bool(getattr(server._reader, "_buffer", b""))
        log(f"MAIL {address} tls={session.ssl is not None} pipelined={waiting}")
        if address.split("@")[0] == "impostor":
            return "550 5.7.1 sender address not owned by this account"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        log(f"RCPT {address}")
        local = address.split("@")[0]
        if local == "tempfail":
            return "451 4.3.0 temporary failure, try later"
        if local == "ratelimit":
            return "421 4.7.0 too many messages, slow down"
        if local == "reject":
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(r.split("@")[0] == "hangup" for r in envelope.rcpt_tos):
            log("HANGUP")
            session.transport.abort() if hasattr(session, "transport") else None
            server.transport.abort()
            return "421 closing"
        if any(r.split("@")[0] == "hang" for r in envelope.rcpt_tos):
            log("HANG")
            await __import__("asyncio").sleep(3600)
        queue_id = uuid.uuid4().hex[:12].upper()
        with open(os.path.join(args.dir, queue_id + ".eml"), "wb") as f:
            f.write(f"X-Envelope-From: {envelope.mail_from}\r\n".encode())
            f.write(f"X-Envelope-To: {','.join(envelope.rcpt_tos)}\r\n".encode())
            f.write(envelope.original_content)
        log(f"DATA {queue_id}")
        return f"250 2.0.0 Ok: queued as {queue_id}"


async def auth_XOAUTH2(self, server, arguments):
    # Initial response: base64("user=" USER "\x01auth=Bearer " TOKEN "\x01\x01")
    import base64
    user, token = args.xoauth2.split(":", 1)
    try:
        if len(arguments) > 1:  # initial response on the AUTH line
            raw = base64.b64decode(arguments[1])
        else:  # libcurl waits for the server's empty challenge
            raw = await server.challenge_auth("")
        fields = dict(f.split("=", 1) for f in raw.decode().split("\x01") if f)
    except Exception as e:
        log(f"XOAUTH2 unreadable: {e!r}")
        fields = {}
    ok = fields.get("user") == user and fields.get("auth") == "Bearer " + token
    log(f"AUTH XOAUTH2 {'ok' if ok else 'failed'}")
    return AuthResult(success=ok, handled=False)


if args.xoauth2:
    Handler.auth_XOAUTH2 = auth_XOAUTH2


def authenticator(server, session, envelope, mechanism, auth_data):
    user, password = args.auth.split(":", 1)
    if isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password:
        log(f"AUTH {mechanism} ok")
        return AuthResult(success=True)
    log(f"AUTH {mechanism} failed")
    return AuthResult(success=False, handled=False)


class Server(Controller):
    def factory(self):
        kwargs = {"hostname": "localhost", "require_starttls": args.require_tls, "auth_require_tls": bool(args.cert) and not args.implicit_tls}  # aiosmtpd cannot tell implicit TLS apart
        if args.cert and not args.implicit_tls:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(args.cert, args.key)
            kwargs["tls_context"] = ctx
        if args.auth:
            kwargs["authenticator"] = authenticator
            kwargs["auth_required"] = True
        if args.login_only:
            kwargs["auth_exclude_mechanism"] = ["PLAIN"]
        return SMTP(self.handler, **kwargs)


sock = socket.socket()
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
sock.close()
ssl_context = None
if args.implicit_tls:
    ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ssl_context.load_cert_chain(args.cert, args.key)
controller = Server(Handler(), hostname="127.0.0.1", port=port, ssl_context=ssl_context)
controller.start()
print(f"PORT {port}", flush=True)
try:
    __import__("time").sleep(10**9)
finally:
    controller.stop()
