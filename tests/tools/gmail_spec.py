#!/usr/bin/env python3
"""Writes the Gmail API document that the google_workspace tests serve with Prism.

Input: tests/data/gmail/gmail.v1.apis-guru.openapi.yaml, a byte-exact copy of shared/specs/gmail/
(APIs.guru's OpenAPI 3.0 conversion of Google's discovery document). Output: the paths the
plugin uses (users.messages.send, and users.settings.sendAs.list for verify), as JSON, with the
changes below, each taken from Google's own discovery document
(gmail.v1.discovery.json, same folder) where the conversion lost it, and nothing else relaxed:

1. users.messages.send takes a JSON Message: the discovery document's "request": {"$ref":
   "Message"}. The conversion kept only the media types of its upload variant.
2. The simple media upload, POST /upload/gmail/v1/users/{userId}/messages/send with
   uploadType=media and a message/* body (the discovery document's mediaUpload: accept
   message/*, protocols.simple.path, maxSize 36700160). The conversion has no upload paths.
3. Message.raw is "format": "byte", which JSON Schema validators read as standard base64; the
   discovery document describes it as "RFC 2822 formatted and base64url encoded string" and
   Gmail wants base64url. It becomes a base64url pattern.
4. Google's error answers (400, 401, 403, 429, 500, 503; 401 and 403 for sendAs.list) with the
   error document of Google's API design guide ({"error": {"code", "message", "status",
   "errors": [{"reason", ...}]}}). The conversion lists only 200.

  gmail_spec.py INPUT OUTPUT
"""
import copy
import json
import sys

import yaml

SEND = "/gmail/v1/users/{userId}/messages/send"
UPLOAD = "/upload/gmail/v1/users/{userId}/messages/send"
SEND_AS = "/gmail/v1/users/{userId}/settings/sendAs"
ERROR = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "integer"}, "message": {"type": "string"}, "status": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "reason": {"type": "string"}, "domain": {"type": "string"}, "message": {"type": "string"}}}}}}},
}


def main(source, target):
    spec = yaml.safe_load(open(source))
    send_as = spec["paths"][SEND_AS]
    send_as.pop("post")  # sendAs.create: not used
    spec["paths"] = {SEND: spec["paths"][SEND], SEND_AS: send_as}
    spec["components"]["schemas"]["GoogleError"] = ERROR
    send = spec["paths"][SEND]["post"]
    error = {"description": "Google's error document",
             "content": {"application/json": {"schema": {"$ref": "#/components/schemas/GoogleError"}}}}
    for status in ("400", "401", "403", "429", "500", "503"):
        send["responses"][status] = error
    for status in ("401", "403"):
        send_as["get"]["responses"][status] = error
    media_types = send["requestBody"]["content"]
    upload = copy.deepcopy(spec["paths"][SEND])
    upload["post"]["operationId"] = "gmail.users.messages.send.upload"
    upload["post"]["requestBody"]["content"] = {
        media: {"schema": {"type": "string", "format": "binary", "maxLength": 36700160}} for media in media_types}
    spec["paths"][UPLOAD] = upload
    send["requestBody"]["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Message"}}}
    raw = spec["components"]["schemas"]["Message"]["properties"]["raw"]
    raw.pop("format")
    raw["pattern"] = "^[A-Za-z0-9_-]*$"
    json.dump(spec, open(target, "w"), indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
