#!/usr/bin/env python3
"""Writes the Cloudflare DNS OpenAPI subset that the conformance tests serve with Prism.

Input: tests/data/cloudflare-dns-subset.openapi.json, a byte-exact copy of
shared/specs/cloudflare/ (official schema, commit cca3064f). Output: the same document with
the normalisations below, and nothing else relaxed. Each is a defect of this schema version
(see shared/specs/README.md, "Known defects"), not a convenience:

1. Request bodies of POST/PUT/PATCH dns_records use `dns-records_dns-record`, whose top-level
   `required` lists id, proxiable, created_on and modified_on. The last three are readOnly
   (OpenAPI 3.0.3: required applies to responses only, Prism applies it to requests too) and
   a create cannot carry an id. Requests get a copy of the schema without that list; each
   record type's own `required` (type, name, content, priority for MX) still applies, and
   responses keep the original.
2. The dns_records operations list only api_email + api_key security, which overrides the
   document's root security that allows api_token; Cloudflare accepts and recommends API
   tokens for these calls. `api_token` is added to their security.
3. Their 4XX responses are allOf(success envelope, failure envelope): `success` would have to
   be both [true] and [false], so no error answer can ever match. The failure envelope alone
   is used.

  cloudflare_spec.py INPUT OUTPUT
"""
import copy
import json
import sys

FAILURE = {"$ref": "#/components/schemas/dns-records_api-response-common-failure"}


def main(source, target):
    spec = json.load(open(source))
    schemas = spec["components"]["schemas"]
    request_schema = copy.deepcopy(schemas["dns-records_dns-record"])
    request_schema.pop("required")
    schemas["dns-records_dns-record-request"] = request_schema
    for path, operations in spec["paths"].items():
        if "/dns_records" not in path:
            continue
        for method, op in operations.items():
            if method == "parameters":
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            if body.get("schema") == {"$ref": "#/components/schemas/dns-records_dns-record"}:
                body["schema"] = {"$ref": "#/components/schemas/dns-records_dns-record-request"}
            op["security"] = op.get("security", []) + [{"api_token": []}]
            failure = op["responses"].get("4XX", {}).get("content", {}).get("application/json")
            if failure is not None:
                failure["schema"] = FAILURE
    json.dump(spec, open(target, "w"), indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
