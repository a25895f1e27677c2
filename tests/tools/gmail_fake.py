#!/usr/bin/env python3
"""A stateful fake of Google's OAuth 2.0 token endpoint and of Gmail's users.messages.send, for
the google_workspace plugin's tests. Prism's validating proxy stands in front of the Gmail part
(tests/support/gmail_mock.hpp); the token endpoint is not part of the Gmail document and is
called directly. Facts: shared/specs/gmail/GOOGLE_OAUTH2_TOKEN_NOTES.md.

  gmail_fake.py --client-id ID --client-secret S --refresh-token R
                --service-account-email E --service-account-public-key PEM_FILE --delegated-user U
                [--expires-in SECONDS]

Prints "PORT <n>" once listening.

POST /token  the refresh-token grant (client id, secret and refresh token must match) and the
             JWT-bearer grant: the assertion's RS256 signature is checked with the service
             account's public key, and its claims: iss, aud (this endpoint's URL), scope
             (gmail.send), iat within 5 minutes of now, exp at most an hour after iat, sub (the
             delegated user; another gets unauthorized_client). Answers access tokens that live
             --expires-in seconds.
             Every scope asked for must be one the delegation grants (/__scopes), else
             unauthorized_client. A refresh token's access tokens carry the scopes it was granted.
POST /gmail/v1/users/me/messages/send                   JSON {"raw": base64url}
POST /upload/gmail/v1/users/me/messages/send?uploadType=media   the message itself
             Need a live access token (else 401 in Google's error form) with a scope that
             sends (else 403 insufficientPermissions); answer {"id", ...}.
GET  /gmail/v1/users/me/settings/sendAs   the user's send-as aliases (/__send_as); needs a
             scope that reads settings (else 403 insufficientPermissions).
Test control (straight to this server):
  GET  /__messages  every sent message: {"id", "upload", "raw" (the message text)}
  GET  /__grants    every token request: {"grant_type", "claims"?, "header"?, "token"}
  POST /__fail      {"status", "reason", "message", "count", "retry_after"}: the next sends
  POST /__fail_token {"status", "error", "error_description", "count"}: the next token requests
  POST /__revoke    every access token issued so far stops working
  POST /__scopes    {"refresh": [...], "delegated": [...]}: the scopes the refresh token was
                    granted, and those domain-wide delegation allows (default: gmail.send)
  POST /__send_as   [SendAs, ...]: the user's aliases (default: the user, primary)
"""
import argparse
import base64
import json
import secrets
import threading
import time
import urllib.parse

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from fake_http import JsonHandler, serve

LOCK = threading.Lock()
TOKENS = {}  # access token -> (expiry (Unix seconds), its scopes)
GRANTS = []
MESSAGES = []
FAILURES = []
TOKEN_FAILURES = []
SCOPE = "https://www.googleapis.com/auth/gmail.send"
SETTINGS_SCOPE = "https://www.googleapis.com/auth/gmail.settings.basic"
FULL_SCOPES = {"https://mail.google.com/", "https://www.googleapis.com/auth/gmail.modify"}
SENDING_SCOPES = {SCOPE, "https://www.googleapis.com/auth/gmail.compose"} | FULL_SCOPES
SETTINGS_READING_SCOPES = {SETTINGS_SCOPE, "https://www.googleapis.com/auth/gmail.readonly"} | FULL_SCOPES
SCOPES = {"refresh": [SCOPE], "delegated": [SCOPE]}
SEND_AS = []


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def google_error(status, message, reason, code_status):
    return {"error": {"code": status, "message": message, "status": code_status,
                      "errors": [{"message": message, "domain": "global", "reason": reason}]}}


def take(queue):
    with LOCK:
        if not queue:
            return None
        failure = queue[0]
        failure["count"] = failure.get("count", 1) - 1
        if failure["count"] <= 0:
            queue.pop(0)
        return failure


def make_handler(args, public_key):
    class Handler(JsonHandler):
        def token_url(self):
            return "http://%s/token" % self.headers.get("Host")

        def do_GET(self):
            with LOCK:
                if self.path == "/__messages":
                    return self.answer(200, MESSAGES)
                if self.path == "/__grants":
                    return self.answer(200, GRANTS)
            if self.path == "/gmail/v1/users/me/settings/sendAs":
                if self.authorised(SETTINGS_READING_SCOPES):
                    with LOCK:
                        aliases = SEND_AS or [{"sendAsEmail": args.delegated_user, "displayName": "", "replyToAddress": "",
                                               "isPrimary": True, "isDefault": True, "treatAsAlias": False}]
                    self.answer(200, {"sendAs": aliases})
                return
            self.answer(404, google_error(404, "not found", "notFound", "NOT_FOUND"))

        def authorised(self, scopes):
            """Answers 401 or 403 as Google does and returns False, unless the bearer token is live
            and carries one of `scopes`."""
            authorization = self.headers.get("Authorization", "")
            token = authorization[len("Bearer "):] if authorization.startswith("Bearer ") else ""
            with LOCK:
                expiry, granted = TOKENS.get(token, (0, []))
            if expiry <= time.time():
                self.answer(401, google_error(401, "Request had invalid authentication credentials.",
                                              "authError", "UNAUTHENTICATED"),
                            [("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')])
                return False
            if not scopes.intersection(granted):
                self.answer(403, google_error(403, "Request had insufficient authentication scopes.",
                                              "insufficientPermissions", "PERMISSION_DENIED"))
                return False
            return True

        def do_POST(self):
            body = self.read_body()
            if self.path in ("/__fail", "/__fail_token"):
                with LOCK:
                    (FAILURES if self.path == "/__fail" else TOKEN_FAILURES).append(json.loads(body))
                return self.answer(200, {})
            if self.path in ("/__scopes", "/__send_as"):
                with LOCK:
                    if self.path == "/__scopes":
                        SCOPES.update(json.loads(body))
                    else:
                        SEND_AS[:] = json.loads(body)
                return self.answer(200, {})
            if self.path == "/__revoke":
                with LOCK:
                    TOKENS.clear()
                return self.answer(200, {})
            if self.path == "/token":
                return self.token(urllib.parse.parse_qs(body.decode(), strict_parsing=True))
            upload = self.path.startswith("/upload/gmail/v1/users/me/messages/send")
            if not upload and self.path != "/gmail/v1/users/me/messages/send":
                return self.answer(404, google_error(404, "not found", "notFound", "NOT_FOUND"))
            return self.send_message(body, upload)

        def token(self, fields):
            fields = {k: v[0] for k, v in fields.items()}
            failure = take(TOKEN_FAILURES)
            if failure:
                return self.answer(failure["status"], {"error": failure["error"],
                                                       "error_description": failure.get("error_description", "")})
            grant = {"grant_type": fields.get("grant_type")}
            refused, scopes = self.check_grant(fields, grant)
            if refused:
                grant["refused"] = refused[1]["error"]
                with LOCK:
                    GRANTS.append(grant)
                return self.answer(*refused)
            token = "ya29." + secrets.token_urlsafe(24)
            grant["token"] = token
            with LOCK:
                TOKENS[token] = (time.time() + args.expires_in, scopes)
                GRANTS.append(grant)
            self.answer(200, {"access_token": token, "expires_in": args.expires_in, "token_type": "Bearer",
                              "scope": " ".join(scopes)})

        def check_grant(self, fields, grant):
            if fields.get("grant_type") == "refresh_token":
                if set(fields) != {"grant_type", "client_id", "client_secret", "refresh_token"}:
                    return (400, {"error": "invalid_request", "error_description": "unexpected fields %s" % sorted(fields)}), []
                if fields["client_id"] != args.client_id or fields["client_secret"] != args.client_secret:
                    return (401, {"error": "invalid_client", "error_description": "The OAuth client was not found."}), []
                if fields["refresh_token"] != args.refresh_token:
                    return (400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}), []
                with LOCK:
                    return None, list(SCOPES["refresh"])
            if fields.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or set(fields) != {
                    "grant_type", "assertion"}:
                return (400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}), []
            try:
                header_part, claims_part, signature_part = fields["assertion"].split(".")
                header = json.loads(unb64url(header_part))
                claims = json.loads(unb64url(claims_part))
                public_key.verify(unb64url(signature_part), (header_part + "." + claims_part).encode(),
                                  padding.PKCS1v15(), hashes.SHA256())
            except (ValueError, InvalidSignature):
                return (400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}), []
            grant["header"], grant["claims"] = header, claims
            now = time.time()
            if header.get("alg") != "RS256" or header.get("typ") != "JWT":
                return (400, {"error": "invalid_grant", "error_description": "Invalid JWT header."}), []
            if claims.get("iss") != args.service_account_email or claims.get("aud") != self.token_url():
                return (400, {"error": "invalid_grant", "error_description": "Invalid issuer or audience."}), []
            if not (abs(claims.get("iat", 0) - now) <= 300 and 0 < claims.get("exp", 0) - claims["iat"] <= 3600):
                return (400, {"error": "invalid_grant",
                             "error_description": "Invalid JWT: Token must be a short-lived token (60 minutes) and "
                                                  "in a reasonable timeframe."}), []
            asked = claims.get("scope", "").split(" ")
            if not asked or not set(asked) <= SENDING_SCOPES | SETTINGS_READING_SCOPES:
                return (400, {"error": "invalid_scope", "error_description": "Invalid OAuth scope."}), []
            with LOCK:
                delegated = set(SCOPES["delegated"])
            if claims.get("sub") != args.delegated_user or not set(asked) <= delegated:
                return (401, {"error": "unauthorized_client",
                             "error_description": "Client is unauthorized to retrieve access tokens using this method, "
                                                  "or client not authorized for any of the scopes requested."}), []
            return None, asked

        def send_message(self, body, upload):
            if not self.authorised(SENDING_SCOPES):
                return
            failure = take(FAILURES)
            if failure:
                headers = [("Retry-After", str(failure["retry_after"]))] if "retry_after" in failure else []
                return self.answer(failure["status"], google_error(failure["status"], failure.get("message", "injected"),
                                                                   failure.get("reason", "backendError"),
                                                                   failure.get("google_status", "UNKNOWN")), headers)
            raw = body if upload else unb64url(json.loads(body)["raw"])
            message_id = secrets.token_hex(8)
            with LOCK:
                MESSAGES.append({"id": message_id, "upload": upload, "raw": raw.decode("utf-8", "replace")})
            self.answer(200, {"id": message_id, "threadId": message_id, "labelIds": ["SENT"]})

    return Handler


def main():
    parser = argparse.ArgumentParser()
    for name in ("--client-id", "--client-secret", "--refresh-token", "--service-account-email",
                 "--service-account-public-key", "--delegated-user"):
        parser.add_argument(name, required=True)
    parser.add_argument("--expires-in", type=int, default=3600)
    args = parser.parse_args()
    public_key = serialization.load_pem_public_key(open(args.service_account_public_key, "rb").read())
    serve(make_handler(args, public_key))


if __name__ == "__main__":
    main()
