#!/usr/bin/env python3
"""Writes the SendGrid Mail Send OpenAPI subset that the sendgrid tests serve with Prism.

Input: tests/data/sendgrid/sendgrid-mail-send-subset.openapi.json, a byte-exact copy of
shared/specs/sendgrid/ (twilio/sendgrid-oai, commit dbe0e0d2). Output: the same document with
the additions below, and nothing else relaxed. Each is an answer SendGrid documents and the
subset leaves out, or a 3.0 leftover in this 3.1 document (shared/specs/README.md, gotcha 1):

1. 200 with no body for POST /v3/mail/send: what a request in sandbox mode
   (mail_settings.sandbox_mode.enable) gets ("Sandbox Mode" in SendGrid's Mail Send docs);
   the subset lists only 202.
2. 429 with the error list: SendGrid's rate limits ("API Rate Limits": 429 and the
   X-RateLimit-Limit/-Remaining/-Reset headers); the subset lists no 429.
3. ErrorResponse.errors[].field is `"nullable": true, "type": "string"`: 3.0 syntax that a 3.1
   validator ignores, so SendGrid's real answers ("field": null) would not match. It becomes
   `"type": ["string", "null"]`, what the nullable meant.

  sendgrid_spec.py INPUT OUTPUT
"""
import json
import sys


def main(source, target):
    spec = json.load(open(source))
    error_list = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    responses = spec["paths"]["/v3/mail/send"]["post"]["responses"]
    responses["200"] = {"description": "Sandbox mode: the request is valid; nothing was sent."}
    responses["429"] = {"description": "Too many requests.", "content": error_list}
    field = spec["components"]["schemas"]["ErrorResponse"]["properties"]["errors"]["items"]["properties"]["field"]
    field.pop("nullable")
    field["type"] = ["string", "null"]
    json.dump(spec, open(target, "w"), indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
