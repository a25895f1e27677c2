#!/usr/bin/env python3
"""A stateful fake of Azure DNS (ARM, api-version 2018-05-01) and of the Microsoft Entra ID
token endpoint, for tests only.

ARM side: zones of one subscription, their record sets with etags, answered in the shapes of
the spec's example files (tests/data/azure_dns/2018-05-01/examples): `value` + `nextLink`
pages, CloudError bodies, PUT 201/200, DELETE 200/204, If-Match / If-None-Match: * answered
412 when they do not hold. Every zone holds its apex SOA and NS sets, as Azure's do. Tests put
Stoplight Prism's validating proxy (tests/support/prism.hpp) in front of the ARM side, so
every request and answer is also checked against dns.json; this file keeps state and checks
what the document cannot (the bearer token, api-version, what Azure refuses in a body).

Token side (straight, not through Prism: it is not in dns.json):
POST /{tenant}/oauth2/v2.0/token with the client-credentials form; wrong fields answer as Entra
ID does (400/401 with error, error_description "AADSTSnnnn: ...", error_codes).

  azure_dns_fake.py --tenant T --client-id C --client-secret S --subscription SUB
                    --zone RG/NAME [--zone ...] [--max-per-page N] [--token-lifetime S]

Prints "PORT <n>" once listening. Test control, straight to this server:
  GET  /__requests                     ARM requests seen: [{method, path, query, if_match, if_none_match, at}]
  GET  /__tokens                       token requests seen: [{form fields but the secret}]
  GET  /__sets?zone=NAME               the zone's record sets as Azure would list them
  POST /__seed {"zone", "sets": [...]} adds or replaces sets as another writer would (new etags)
  POST /__fail {"status", "code", "retry_after", "count"}   the next ARM requests answer that
"""
import argparse
import json
import threading
import time
import uuid
from fake_http import JsonHandler, serve
from urllib.parse import parse_qs, urlparse

LOCK = threading.Lock()
ZONES = {}      # zone name -> {"rg": resource group, "sets": {(TYPE, relative name lower): set}}
TOKENS = {}     # access token -> expiry (epoch seconds)
REQUESTS = []
TOKEN_REQUESTS = []
FAILS = []      # pending injected failures
ARGS = None
API = "/providers/Microsoft.Network"
VALUE_KEYS = {"A": "ARecords", "AAAA": "AAAARecords", "MX": "MXRecords", "NS": "NSRecords",
              "TXT": "TXTRecords", "PTR": "PTRRecords", "SRV": "SRVRecords", "CAA": "caaRecords"}


class Refusal(Exception):
    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def zone_id(name):
    return "/subscriptions/%s/resourceGroups/%s%s/dnsZones/%s" % (ARGS.subscription, ZONES[name]["rg"], API, name)


def zone_json(name):
    return {"id": zone_id(name), "etag": "00000000-0000-0000-0000-000000000000", "location": "global",
            "name": name, "type": "Microsoft.Network/dnsZones", "tags": {},
            "properties": {"maxNumberOfRecordSets": 10000, "numberOfRecordSets": len(ZONES[name]["sets"]),
                           "nameServers": ["ns1-01.azure-dns.com.", "ns2-01.azure-dns.net."], "zoneType": "Public"}}


def set_json(zone, rtype, name, properties, etag=None):
    fqdn = (zone if name == "@" else name + "." + zone) + "."
    return {"id": zone_id(zone) + "/" + rtype + "/" + name, "etag": etag or str(uuid.uuid4()), "name": name,
            "type": "Microsoft.Network/dnsZones/" + rtype,
            "properties": dict(properties, fqdn=fqdn, provisioningState="Succeeded")}


def add_zone(spec):
    rg, name = spec.split("/", 1)
    ZONES[name] = {"rg": rg, "sets": {}}
    ZONES[name]["sets"][("SOA", "@")] = set_json(name, "SOA", "@", {"metadata": {}, "TTL": 3600, "SOARecord": {
        "host": "ns1-01.azure-dns.com.", "email": "azuredns-hostmaster.microsoft.com", "serialNumber": 1,
        "refreshTime": 3600, "retryTime": 300, "expireTime": 2419200, "minimumTTL": 300}})
    ZONES[name]["sets"][("NS", "@")] = set_json(name, "NS", "@", {"metadata": {}, "TTL": 172800, "NSRecords": [
        {"nsdname": "ns1-01.azure-dns.com."}, {"nsdname": "ns2-01.azure-dns.net."}]})


ZONE_OF_REQUEST = [""]  # the zone of the PUT being checked (requests are handled under LOCK)


def checked_properties(rtype, name, body):
    """What Azure keeps of a PUT body, or a Refusal naming what it refuses."""
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise Refusal(400, "BadRequest", "The request body must carry the record set's properties.")
    props = body["properties"]
    ttl = props.get("TTL")
    if not isinstance(ttl, int) or not 0 <= ttl <= 2147483647:
        raise Refusal(400, "BadRequest", "The TTL of the record set is missing or out of range.")
    metadata = props.get("metadata", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise Refusal(400, "BadRequest", "Metadata values must be strings.")
    kept = {"metadata": metadata, "TTL": ttl}
    if props.get("targetResource"):
        raise Refusal(400, "BadRequest", "This fake does not create alias record sets; seed them.")
    if rtype == "CNAME":
        cname = props.get("CNAMERecord", {}).get("cname")
        if not cname:
            raise Refusal(400, "BadRequest", "A CNAME record set needs CNAMERecord.cname.")
        fqdn = (ZONE_OF_REQUEST[0] if name == "@" else name.lower() + "." + ZONE_OF_REQUEST[0])
        if cname.rstrip(".").lower() == fqdn:
            # Azure's exact wording for this refusal is not documented; the code is its usual one.
            raise Refusal(400, "BadRequest", "The CNAME record set %s cannot point to itself." % name)
        kept["CNAMERecord"] = {"cname": cname}
    else:
        values = props.get(VALUE_KEYS[rtype])
        if not values:
            raise Refusal(400, "BadRequest", "The record set has no %s." % VALUE_KEYS[rtype])
        if rtype == "TXT":
            for record in values:
                strings = record.get("value")
                if not strings or any(len(s.encode()) > 255 for s in strings):
                    raise Refusal(400, "BadRequest",
                                  "The value of a TXT record must be strings of at most 255 characters.")
                if sum(len(s.encode()) for s in strings) > 4096:
                    raise Refusal(400, "BadRequest", "The TXT record is longer than 4096 characters.")
        if rtype == "MX" and any(not isinstance(r.get("preference"), int) or not r.get("exchange") for r in values):
            raise Refusal(400, "BadRequest", "An MX record needs preference and exchange.")
        kept[VALUE_KEYS[rtype]] = values
    for key in props:
        if key not in ("metadata", "TTL", "targetResource", "CNAMERecord", VALUE_KEYS.get(rtype)):
            raise Refusal(400, "BadRequest", "The property %s does not belong to a %s record set." % (key, rtype))
    return kept


def arm_path(path):
    """(zone name, record type, relative name) of a record-set path; parts may be None."""
    prefix = "/subscriptions/%s/resourceGroups/" % ARGS.subscription
    if not path.startswith(prefix):
        return None
    parts = path[len(prefix):].split("/")
    # rg / providers / Microsoft.Network / dnsZones / zone [/ type [/ name]]
    if len(parts) < 5 or parts[1:4] != ["providers", "Microsoft.Network", "dnsZones"]:
        return None
    zone = parts[4].lower()
    if zone not in ZONES or ZONES[zone]["rg"] != parts[0]:
        raise Refusal(404, "ParentResourceNotFound",
                      "Can not perform requested operation on nested resource. Parent resource '%s' not found." % parts[4])
    return zone, (parts[5] if len(parts) > 5 else None), ("/".join(parts[6:]) if len(parts) > 6 else None)


def page(items, query, base):
    top = int(query.get("$top", ["100"])[0])
    size = min(top, ARGS.max_per_page)
    start = int(query.get("$skipToken", ["0"])[0])
    out = {"value": items[start:start + size]}
    if start + size < len(items):
        out["nextLink"] = base + "?api-version=2018-05-01&$skipToken=%d" % (start + size)
    return out


class Handler(JsonHandler):
    def handle_any(self, method):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        raw = self.read_body()
        try:
            if url.path.startswith("/__"):
                return self.control(method, url.path, query, raw)
            if url.path.endswith("/oauth2/v2.0/token"):
                return self.token(url.path, raw)
            with LOCK:
                REQUESTS.append({"method": method, "path": url.path, "query": url.query, "at": time.time(),
                                 "if_match": self.headers.get("If-Match"), "if_none_match": self.headers.get("If-None-Match")})
                self.authorize(query)
                if FAILS:
                    fail = FAILS[0]
                    fail["count"] -= 1
                    if fail["count"] <= 0:
                        FAILS.pop(0)
                    REQUESTS[-1]["failed"] = fail["status"]
                    headers = {"Retry-After": str(fail["retry_after"])} if fail.get("retry_after") is not None else {}
                    raise Refusal(fail["status"], fail["code"], "Injected by the test: " + fail["code"], headers)
                return self.arm(method, url.path, query, raw)
        except Refusal as r:
            self.answer(r.status, {"error": {"code": r.code, "message": r.message}}, r.headers)

    do_GET = lambda self: self.handle_any("GET")
    do_PUT = lambda self: self.handle_any("PUT")
    do_POST = lambda self: self.handle_any("POST")
    do_PATCH = lambda self: self.handle_any("PATCH")
    do_DELETE = lambda self: self.handle_any("DELETE")

    def authorize(self, query):
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise Refusal(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        expiry = TOKENS.get(header[7:])
        if expiry is None:
            raise Refusal(401, "InvalidAuthenticationToken", "The access token is invalid.")
        if expiry < time.time():
            raise Refusal(401, "ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time.")
        version = query.get("api-version")
        if version is None:
            raise Refusal(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
        if version != ["2018-05-01"]:
            raise Refusal(400, "InvalidApiVersionParameter", "The api-version '%s' is invalid." % version[0])

    def token(self, path, raw):
        tenant = path.split("/")[1]
        form = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
        with LOCK:
            TOKEN_REQUESTS.append({k: v for k, v in form.items() if k != "client_secret"})

        def refuse(status, error, code, text):
            self.answer(status, {"error": error, "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: 2026-12-01 00:00:00Z"
                                 % (code, text, uuid.uuid4(), uuid.uuid4()),
                                 "error_codes": [code], "timestamp": "2026-12-01 00:00:00Z",
                                 "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4())})

        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            return refuse(400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
        if tenant != ARGS.tenant:
            return refuse(400, "invalid_request", 90002, "Tenant '%s' not found. Check to make sure you have the correct tenant ID." % tenant)
        if form.get("grant_type") != "client_credentials":
            return refuse(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        if form.get("scope") != "https://management.azure.com/.default":
            return refuse(400, "invalid_scope", 1002012, "The provided value for scope %s is not valid." % form.get("scope"))
        if form.get("client_id") != ARGS.client_id:
            return refuse(400, "unauthorized_client", 700016, "Application with identifier '%s' was not found in the directory '%s'."
                          % (form.get("client_id"), tenant))
        if form.get("client_secret") != ARGS.client_secret:
            return refuse(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request "
                          "is the client secret value, not the client secret ID, for a secret added to app '%s'." % ARGS.client_id)
        token = "eyJ0eXAi." + uuid.uuid4().hex
        with LOCK:
            TOKENS[token] = time.time() + ARGS.token_lifetime
        self.answer(200, {"token_type": "Bearer", "expires_in": ARGS.token_lifetime, "ext_expires_in": ARGS.token_lifetime,
                          "access_token": token})

    def arm(self, method, path, query, raw):
        base = "http://" + self.headers.get("Host", "127.0.0.1") + path
        if method == "GET" and path == "/subscriptions/%s%s/dnszones" % (ARGS.subscription, API):
            return self.answer(200, page([zone_json(z) for z in sorted(ZONES)], query, base))
        if method == "GET" and path.startswith("/subscriptions/%s/resourceGroups/" % ARGS.subscription) and path.endswith(API + "/dnsZones"):
            rg = path.split("/")[4]
            return self.answer(200, page([zone_json(z) for z in sorted(ZONES) if ZONES[z]["rg"] == rg], query, base))
        where = arm_path(path)
        if where is None:
            raise Refusal(404, "NotFound", "No route for %s %s in this fake." % (method, path))
        zone, rtype, name = where
        sets = ZONES[zone]["sets"]
        if rtype is None and method == "GET":
            return self.answer(200, zone_json(zone))
        if rtype in ("recordsets", "all") and name is None and method == "GET":
            return self.answer(200, page([sets[k] for k in sorted(sets)], query, base))
        if rtype not in VALUE_KEYS and rtype not in ("CNAME", "SOA"):
            raise Refusal(400, "BadRequest", "The record type %s is not supported." % rtype)
        if name is None:
            if method == "GET":
                return self.answer(200, page([sets[k] for k in sorted(sets) if k[0] == rtype], query, base))
            raise Refusal(405, "MethodNotAllowed", "Not allowed.")
        key = (rtype, name.lower())
        held = sets.get(key)
        if_match, if_none_match = self.headers.get("If-Match"), self.headers.get("If-None-Match")
        if method == "GET":
            if held is None:
                raise Refusal(404, "NotFound", "The resource record '%s' does not exist in resource group '%s' of subscription '%s'."
                              % (name, ZONES[zone]["rg"], ARGS.subscription))
            return self.answer(200, held)
        if method == "PUT":
            body = json.loads(raw) if raw else None
            if if_none_match == "*" and held is not None:
                raise Refusal(412, "PreconditionFailed", "The record set %s/%s already exists; If-None-Match: * does not hold." % (rtype, name))
            if if_match is not None and (held is None or (if_match != "*" and if_match != held["etag"])):
                raise Refusal(412, "PreconditionFailed", "The etag '%s' does not match the record set's current etag." % if_match)
            if rtype in ("SOA",) or (rtype == "NS" and name == "@"):
                raise Refusal(400, "BadRequest", "The apex SOA and NS record sets are Azure's.")
            if held is not None and held["properties"].get("targetResource"):
                raise Refusal(400, "BadRequest", "An alias record set must be written with its targetResource.")
            cname_here = any(k[1] == key[1] and (k[0] == "CNAME") != (rtype == "CNAME") for k in sets)
            if cname_here:
                raise Refusal(409, "Conflict", "A CNAME record set cannot share its name with other record sets.")
            ZONE_OF_REQUEST[0] = zone
            sets[key] = set_json(zone, rtype, name.lower() if name != "@" else "@", checked_properties(rtype, name, body))
            return self.answer(200 if held is not None else 201, sets[key])
        if method == "DELETE":
            if held is None:
                if if_match is not None and if_match != "*":
                    raise Refusal(412, "PreconditionFailed", "The record set %s/%s does not exist; If-Match does not hold." % (rtype, name))
                return self.answer(204)
            if if_match is not None and if_match != "*" and if_match != held["etag"]:
                raise Refusal(412, "PreconditionFailed", "The etag '%s' does not match the record set's current etag." % if_match)
            del sets[key]
            return self.answer(200)
        raise Refusal(405, "MethodNotAllowed", "This fake does not answer %s here." % method)

    def control(self, method, path, query, raw):
        with LOCK:
            if path == "/__requests":
                return self.answer(200, REQUESTS)
            if path == "/__tokens":
                return self.answer(200, TOKEN_REQUESTS)
            if path == "/__sets":
                zone = query["zone"][0]
                return self.answer(200, [ZONES[zone]["sets"][k] for k in sorted(ZONES[zone]["sets"])])
            body = json.loads(raw)
            if path == "/__seed":
                for s in body["sets"]:
                    props = {k: v for k, v in s.items() if k not in ("type", "name")}
                    props.setdefault("metadata", {})
                    ZONES[body["zone"]]["sets"][(s["type"], s["name"].lower())] = set_json(body["zone"], s["type"], s["name"], props)
                return self.answer(200, {})
            if path == "/__fail":
                FAILS.append({"status": body["status"], "code": body["code"], "retry_after": body.get("retry_after"),
                              "count": body.get("count", 1)})
                return self.answer(200, {})
        self.answer(404, {"error": {"code": "NotFound", "message": "no such control endpoint"}})


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--subscription", required=True)
    parser.add_argument("--zone", action="append", default=[])
    parser.add_argument("--max-per-page", type=int, default=100)
    parser.add_argument("--token-lifetime", type=int, default=3599)
    ARGS = parser.parse_args()
    for z in ARGS.zone:
        add_zone(z)
    serve(Handler)


if __name__ == "__main__":
    main()
