#!/usr/bin/env python3
"""A stateful fake of Cloudflare's API v4 (zones and DNS records), for tests only.

It keeps zones and records in memory and answers as the API does: the v4 envelope, page and
per_page with result_info, the error envelope with Cloudflare's codes, 429 with Retry-After.
Tests put Stoplight Prism's validating proxy in front of it (tests/support/prism.hpp), so
every request the plugin sends and every answer given here is checked against the official
OpenAPI document; this file only has to keep state.

  cloudflare_fake.py --token TOKEN --zone example.test [--zone ...] [--max-per-page N]

Prints "PORT <n>" once listening. Test control, straight to this server (not through Prism):
  POST /__control {"rate_limit": n, "retry_after": s}   the next n record writes answer 429
  GET  /__requests                                      every request seen: [[method, path], ...]
  GET  /__records?zone=NAME                             the zone's records as stored
"""
import argparse
import datetime
import ipaddress
import json
import re
import threading
import uuid
from fake_http import JsonHandler, serve
from urllib.parse import parse_qs, urlparse

LOCK = threading.Lock()
ZONES = {}      # id -> zone object
RECORDS = {}    # zone id -> {record id -> record object}
REQUESTS = []
CONTROL = {"rate_limit": 0, "retry_after": 1}
ARGS = None
HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_zone(name):
    zid = uuid.uuid4().hex
    stamp = now()
    return zid, {
        "id": zid, "name": name, "status": "active", "paused": False, "type": "full",
        "development_mode": 0, "owner": {"id": uuid.uuid4().hex, "type": "user", "email": "owner@example.test"},
        "account": {"id": uuid.uuid4().hex, "name": "Test Account"},
        "meta": {"step": 4, "custom_certificate_quota": 0, "page_rule_quota": 3, "phishing_detected": False},
        "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
        "original_name_servers": [], "original_registrar": "", "original_dnshost": "",
        "created_on": stamp, "modified_on": stamp, "activated_on": stamp,
        "permissions": ["#dns_records:edit"],
    }


class Refusal(Exception):
    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def validate_record(zone, body, existing_id=None):
    if not isinstance(body, dict):
        raise Refusal(400, 9207, "Request body is invalid.")
    rtype, name, content = body.get("type"), body.get("name"), body.get("content")
    if rtype not in ("A", "AAAA", "CNAME", "MX", "TXT"):
        raise Refusal(400, 9000, "DNS record type is invalid.")
    if not isinstance(name, str) or not isinstance(content, str) or not content:
        raise Refusal(400, 9007, "Content is required.")
    name = name.rstrip(".").lower()
    if name == "@":
        name = zone["name"]
    if not (name == zone["name"] or name.endswith("." + zone["name"])) or not HOSTNAME.match(name):
        raise Refusal(400, 1004, "DNS Validation Error: the name is not in zone %s" % zone["name"])
    ttl = body.get("ttl", 1)
    if not isinstance(ttl, int) or not (ttl == 1 or 60 <= ttl <= 86400):
        raise Refusal(400, 9021, "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.")
    if rtype == "A":
        try:
            ipaddress.IPv4Address(content)
        except ValueError:
            raise Refusal(400, 9005, "Content for A record must be a valid IPv4 address.")
    if rtype == "AAAA":
        try:
            ipaddress.IPv6Address(content)
        except ValueError:
            raise Refusal(400, 9006, "Content for AAAA record must be a valid IPv6 address.")
    if rtype in ("CNAME", "MX"):
        if not HOSTNAME.match(content.rstrip(".").lower()):
            raise Refusal(400, 9009, "Content for %s record is invalid." % rtype)
        if rtype == "CNAME" and content.rstrip(".").lower() == name:
            raise Refusal(400, 9039, "CNAME content cannot reference itself.")
    if rtype == "MX" and not isinstance(body.get("priority"), int):
        raise Refusal(400, 9100, "MX records require a priority.")
    if rtype == "TXT" and len(content) > 2048:
        raise Refusal(400, 9101, "Content for TXT record is too long.")
    for rid, other in RECORDS[zone["id"]].items():
        if rid == existing_id or other["name"] != name:
            continue
        if "CNAME" in (rtype, other["type"]):
            raise Refusal(400, 81053, "An A, AAAA, or CNAME record with that host already exists.")
        if other["type"] == rtype and other["content"] == content:
            raise Refusal(400, 81058, "An identical record already exists.")
    return name, rtype, content, ttl


def make_record(zone, body, existing=None):
    name, rtype, content, ttl = validate_record(zone, body, existing["id"] if existing else None)
    stamp = now()
    record = {
        "id": existing["id"] if existing else uuid.uuid4().hex,
        "zone_id": zone["id"], "zone_name": zone["name"], "name": name, "type": rtype,
        "content": content, "ttl": ttl, "proxiable": rtype in ("A", "AAAA", "CNAME"),
        "locked": False, "meta": {"auto_added": False, "source": "primary"},
        "comment": body.get("comment", "") or "", "tags": body.get("tags", []),
        "created_on": existing["created_on"] if existing else stamp, "modified_on": stamp,
    }
    if rtype in ("A", "AAAA", "CNAME"):
        record["proxied"] = bool(body.get("proxied", False))
    if rtype == "MX":
        record["priority"] = body["priority"]
    return record


def page_of(items, query, default_per_page, max_per_page):
    page = int(float(query.get("page", ["1"])[0]))
    per_page = min(int(float(query.get("per_page", [str(default_per_page)])[0])), max_per_page)
    chunk = items[(page - 1) * per_page: page * per_page]
    return chunk, {"page": page, "per_page": per_page, "count": len(chunk), "total_count": len(items),
                   "total_pages": (len(items) + per_page - 1) // per_page}


class Handler(JsonHandler):
    def body(self):
        raw = self.read_body()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise Refusal(400, 9207, "Request body is invalid JSON.")

    def handle_any(self, method):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        parts = [p for p in url.path.split("/") if p]
        try:
            body = self.body()
            if parts and parts[0].startswith("__"):
                return self.control(method, parts[0], query, body)
            with LOCK:
                REQUESTS.append([method, url.path + ("?" + url.query if url.query else "")])
                if self.headers.get("Authorization") != "Bearer " + ARGS.token:
                    raise Refusal(403, 10000, "Authentication error")
                return self.api(method, parts, query, body)
        except Refusal as r:
            failure = {"success": False, "errors": [{"code": r.code, "message": r.message}], "messages": [], "result": None}
            self.answer(r.status, failure, r.headers)

    def control(self, method, what, query, body):
        with LOCK:
            if what == "__control" and method == "POST":
                CONTROL.update(body or {})
                return self.answer(200, CONTROL)
            if what == "__requests":
                return self.answer(200, REQUESTS)
            if what == "__records":
                zone = next(z for z in ZONES.values() if z["name"] == query["zone"][0])
                return self.answer(200, list(RECORDS[zone["id"]].values()))
        raise Refusal(404, 7003, "No route for the URI")

    def api(self, method, parts, query, body):
        if parts == ["zones"] and method == "GET":
            zones = [z for z in ZONES.values() if "name" not in query or z["name"] == query["name"][0]]
            chunk, info = page_of(zones, query, 20, 50)
            return self.answer(200, {"success": True, "errors": [], "messages": [], "result": chunk, "result_info": info})
        if len(parts) >= 3 and parts[0] == "zones" and parts[2] == "dns_records":
            zone = ZONES.get(parts[1])
            if zone is None:
                raise Refusal(404, 7003, "Could not route to /zones/%s/dns_records, perhaps your object identifier is invalid?" % parts[1])
            records = RECORDS[zone["id"]]
            if method != "GET" and CONTROL["rate_limit"] > 0:
                CONTROL["rate_limit"] -= 1
                raise Refusal(429, 971, "Please wait and consider throttling your request speed",
                              {"Retry-After": str(CONTROL["retry_after"])})
            if len(parts) == 3 and method == "GET":
                items = sorted(records.values(), key=lambda r: (r["name"], r["type"], r["id"]))
                chunk, info = page_of(items, query, 100, ARGS.max_per_page)
                info.pop("total_pages")  # the records list's result_info has no page count
                return self.answer(200, {"success": True, "errors": [], "messages": [], "result": chunk, "result_info": info})
            if len(parts) == 3 and method == "POST":
                record = make_record(zone, body)
                records[record["id"]] = record
                return self.answer(200, {"success": True, "errors": [], "messages": [], "result": record})
            if len(parts) == 4:
                existing = records.get(parts[3])
                if existing is None:
                    raise Refusal(404, 81044, "Record does not exist.")
                if method == "GET":
                    return self.answer(200, {"success": True, "errors": [], "messages": [], "result": existing})
                if method == "PUT":
                    record = make_record(zone, body, existing)
                    records[record["id"]] = record
                    return self.answer(200, {"success": True, "errors": [], "messages": [], "result": record})
                if method == "DELETE":
                    del records[parts[3]]
                    return self.answer(200, {"success": True, "errors": [], "messages": [], "result": {"id": parts[3]}})
        raise Refusal(404, 7003, "No route for the URI")

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--token", required=True)
    parser.add_argument("--zone", action="append", default=[])
    parser.add_argument("--max-per-page", type=int, default=5000000)
    parser.add_argument("--port", type=int, default=0)
    ARGS = parser.parse_args()
    for name in ARGS.zone:
        zid, zone = new_zone(name)
        ZONES[zid] = zone
        RECORDS[zid] = {}
    serve(Handler, ARGS.port)


if __name__ == "__main__":
    main()
